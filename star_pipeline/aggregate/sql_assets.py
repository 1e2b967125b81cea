"""The aggregate layer's building blocks: asset keys, its SQL files (`<table>.sql` beside this file,
with the pipeline version and fast multiplier filled in), and the two kinds of asset most of its
tables are: one SQL query (`sql_asset`), or an SCD2 history of observations (`scd2_asset`).
"""

import re
from pathlib import Path

from dagster import AssetKey, asset

from star_pipeline.aggregate import pricing
from star_pipeline.storage.resources import WAREHOUSE_POOL
from star_pipeline.storage.scd2 import SCD2_DOC, scd2_history_sql
from star_pipeline.storage.sql_files import render_sql
from star_pipeline.storage.table_docs import TableDoc, sql_table_doc, table_metadata
from star_pipeline.storage.table_writes import SqlQuery

SQL_DIR = Path(__file__).parent
GROUP = "aggregate"
_SAFE_VERSION = re.compile(r"^[A-Za-z0-9._-]+$")
PIPELINE_VERSION_DOC = TableDoc({
    "pipeline_version": "the pipeline that built the row: its code version, the pricing file's hash and "
    "the versions of genai-prices and model-prices, so a number can be traced to the prices that made it",
})
"""The column every aggregate table ends with (`{pipeline_version}` in its SQL, `with_pipeline_version`)."""


def key(table: str) -> AssetKey:
    return AssetKey(["aggregate", table])


def normalized(table: str) -> AssetKey:
    return AssetKey(["normalized", table])


def read_sql(name: str, **placeholders: str) -> str:
    """The table's SQL with {pipeline_version} and {fast_multiplier} filled in (both computed, never user text)."""
    version = pricing.pipeline_version()
    config, _ = pricing.pricing_config()
    multiplier = float(config.get("fast_multiplier", 2))
    assert _SAFE_VERSION.match(version), version
    # not strict: dimension observations carry no pipeline_version, only fact_token_usage has the multiplier
    return render_sql(SQL_DIR / f"{name}.sql",
                      {"pipeline_version": version, "fast_multiplier": repr(multiplier), **placeholders}, strict=False)


def with_pipeline_version(sql: str) -> str:
    version = pricing.pipeline_version()
    assert _SAFE_VERSION.match(version), version
    return f"SELECT *, '{version}' AS pipeline_version FROM ({sql})"


def documented(table: str, *more: TableDoc) -> dict:
    """The asset metadata describing `table`'s columns: its SQL file's doc block, then `more`, then pipeline_version."""
    doc = sql_table_doc(SQL_DIR / f"{table}.sql")
    for other in (*more, PIPELINE_VERSION_DOC):
        doc = doc | other
    return table_metadata(doc)


def sql_asset(table: str, deps: list[AssetKey], description: str):
    @asset(key=key(table), group_name=GROUP, deps=deps, pool=WAREHOUSE_POOL, kinds={"duckdb"},
           metadata={"write_mode": "replace", **documented(table)}, description=description)
    def _sql_asset() -> SqlQuery:
        return SqlQuery(read_sql(table))

    return _sql_asset


def scd2_asset(table: str, deps: list[AssetKey], business_keys: list[str], attributes: list[str], description: str):
    @asset(key=key(table), group_name=GROUP, deps=deps, pool=WAREHOUSE_POOL, kinds={"duckdb"},
           metadata={"write_mode": "replace", **documented(f"{table}_observations", SCD2_DOC)}, description=description)
    def _scd2_asset() -> SqlQuery:
        history = scd2_history_sql(
            read_sql(f"{table}_observations"),
            business_keys=business_keys,
            attributes=attributes,
            observed_at="observed_at",
            record_source=f"aggregate/{table}_observations.sql",
        )
        return SqlQuery(with_pipeline_version(history))

    return _scd2_asset
