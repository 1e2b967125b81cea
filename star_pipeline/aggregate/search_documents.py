"""search_documents: the masked text of every message, what search reads (search_documents.sql).

Written incrementally, as the normalized tables built from messages are (storage/watermarks.py): a run
computes again the messages of the files with new messages and every stored copy of theirs (a message
is searched once, as last stored, so a new copy can displace an old one), and writes them by key. It is
built whole when its SQL changed (with the pipeline version it carries) or the set of secret
classifier versions changed: a new version can flag a secret in any old message.
"""

import hashlib

from dagster import AssetKey, asset

from star_pipeline.aggregate.sql_assets import GROUP, documented, key, normalized, read_sql
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.sql_files import sql_code
from star_pipeline.storage.table_writes import SqlQuery, stored_table_version
from star_pipeline.storage.warehouse import table_exists
from star_pipeline.storage.watermarks import files_in, rebuild_query

MESSAGES = "normalized.normalized_messages"
SECRET_FINDINGS = AssetKey(["classified", "derived_secret_findings"])
NO_FINDINGS = ("(SELECT CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS path, CAST(NULL AS INTEGER) AS file_version, "
               "CAST(NULL AS BIGINT) AS byte_offset, CAST(NULL AS VARCHAR) AS field, CAST(NULL AS BIGINT) AS char_offset, "
               "CAST(NULL AS BIGINT) AS secret_length, CAST(NULL AS VARCHAR) AS kind WHERE FALSE)")
SEARCH_TEXT = "concat_ws(chr(10), nullif(message_text, ''), nullif(tool_input, ''), nullif(tool_result, ''))"
"""A row's search text (what is embedded and split into words), on search_documents' columns; text_hash is its md5."""
KEY_COLUMNS = ["source", "path", "file_version", "byte_offset"]


def message_scope(changed: dict[str, list[str]]) -> str:
    """The messages (alias `m`) an incremental run computes: those of the changed files, and every message
    sharing a uuid with one of them (its other copies, of which the last stored is the one searched)."""
    uuids = f"SELECT x.source, x.uuid FROM {MESSAGES} x WHERE x.uuid IS NOT NULL AND {files_in(changed, 'x')}"
    return f"{files_in(changed, 'm')} OR (m.uuid IS NOT NULL AND (m.source, m.uuid) IN ({uuids}))"


@asset(key=key("search_documents"), group_name=GROUP, deps=[normalized("normalized_messages"), SECRET_FINDINGS],
       pool=WAREHOUSE_POOL, kinds={"duckdb"},
       metadata={"write_mode": "replace", "key_columns": KEY_COLUMNS, **documented("search_documents")},
       description="The searchable text of every message (prompt or reply, tool inputs, head of tool results), "
       "each secret the secret classifier flagged replaced by [secret:<kind>]; only the messages of files "
       "with new messages are computed again.")
def search_documents(warehouse: WarehouseResource) -> SqlQuery:
    with warehouse.connect() as conn:
        scanned = table_exists(conn, "classified", "derived_secret_findings")
        findings = "classified.derived_secret_findings" if scanned else NO_FINDINGS
        versions = conn.execute("SELECT string_agg(DISTINCT classifier_version, ',' ORDER BY classifier_version) "
                                "FROM classified.derived_secret_findings").fetchone()[0] if scanned else None

        def query(scope: str) -> str:
            return read_sql("search_documents", secret_findings=findings, message_scope=scope, search_text=SEARCH_TEXT)

        def groups(changed):
            if changed is None:
                return query("TRUE"), None
            scope = message_scope(changed)
            # a message of the scope that is no longer searched (another copy displaced it) loses its row
            return query(scope), f"({', '.join(KEY_COLUMNS)}) IN (SELECT {', '.join('m.' + c for c in KEY_COLUMNS)} " \
                                 f"FROM {MESSAGES} m WHERE {scope})"

        version = hashlib.sha256(f"{sql_code(query('TRUE'))}\n{versions}".encode()).hexdigest()[:16]
        full = not table_exists(conn, "aggregate", "search_documents") or \
            stored_table_version(conn, "aggregate", "search_documents") != version
        return rebuild_query(conn, "aggregate.search_documents", MESSAGES, groups, version, full)
