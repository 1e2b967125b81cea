"""search_documents: the masked text of every message, what search reads (search_documents.sql)."""

from dagster import AssetKey, asset

from star_pipeline.aggregate.sql_assets import GROUP, documented, key, normalized, read_sql
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.table_writes import SqlQuery

SECRET_FINDINGS = AssetKey(["classified", "derived_secret_findings"])
NO_FINDINGS = ("(SELECT CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS path, CAST(NULL AS INTEGER) AS file_version, "
               "CAST(NULL AS BIGINT) AS byte_offset, CAST(NULL AS VARCHAR) AS field, CAST(NULL AS BIGINT) AS char_offset, "
               "CAST(NULL AS BIGINT) AS secret_length, CAST(NULL AS VARCHAR) AS kind WHERE FALSE)")


@asset(key=key("search_documents"), group_name=GROUP, deps=[normalized("normalized_messages"), SECRET_FINDINGS],
       pool=WAREHOUSE_POOL, kinds={"duckdb"}, metadata={"write_mode": "replace", **documented("search_documents")},
       description="The searchable text of every message (prompt or reply, tool inputs, head of tool results), "
       "each secret the secret classifier flagged replaced by [secret:<kind>].")
def search_documents(warehouse: WarehouseResource) -> SqlQuery:
    with warehouse.connect() as conn:
        scanned = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'classified' "
                               "AND table_name = 'derived_secret_findings'").fetchone()[0]
    return SqlQuery(read_sql("search_documents",
                             secret_findings="classified.derived_secret_findings" if scanned else NO_FINDINGS))
