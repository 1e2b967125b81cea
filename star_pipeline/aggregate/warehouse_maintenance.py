"""warehouse_maintenance: CHECKPOINT after a rebuild, the last step of the aggregate group.

On the single file it writes the WAL into the file, at every rebuild (under a second). On a DuckLake it is the
lake's maintenance, and it runs only when due (`lake_checkpoint_due`: small files piled up, or an hour since the
last one or since the lake was made): it took 16-17 s at 1 GB whatever had
changed (BENCHMARKS.md, DuckLake), a third of a small refresh. It does, in DuckLake's
order: flush inlined rows into Parquet, expire old snapshots, merge small files, rewrite files with many
deletes, delete the files nothing references. Every commit of more than ten rows writes a Parquet file per
table, so a lake that sensors write every few seconds grows thousands of small files a day without it (the
study: 500 files read in 91 ms, 20 ms once merged). Snapshots and files are removed only once older than the
lake's `expire_older_than` / `delete_older_than` (a day, storage/warehouse/lake_engine.py), never under another
machine's open write.
"""

import time

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from star_pipeline.aggregate.sql_assets import GROUP, key
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.warehouse import CATALOG


def build_warehouse_maintenance(after: list[AssetKey]):
    @asset(key=key("warehouse_maintenance"), group_name=GROUP, deps=after, pool=WAREHOUSE_POOL, kinds={"duckdb"},
           description="CHECKPOINT after each rebuild: the single file's WAL written into it; on a DuckLake, its "
           "maintenance (small files merged, expired snapshots and unreferenced files removed after a day).")
    def warehouse_maintenance(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        started = time.monotonic()
        lake = warehouse.lake()
        with warehouse.connect() as conn:
            if lake is None:
                conn.execute(f"CHECKPOINT {CATALOG}")
                return MaterializeResult(metadata={"kind": "duckdb", "seconds": round(time.monotonic() - started, 3)})
            conn.execute("CREATE TABLE IF NOT EXISTS meta_lake_maintenance (checkpointed_at TIMESTAMPTZ NOT NULL, "
                         "seconds DOUBLE, data_files_before BIGINT, data_files_after BIGINT)")
            files_before, tables = lake_file_count(conn), lake_table_count(conn)
            # the hourly clock starts with the lake: a fresh lake's first build is not checkpointed for being the
            # first (3 s of a 12 MB team's first build), only when its files pile up
            since = conn.execute(
                "SELECT epoch(now() - coalesce((SELECT max(checkpointed_at) FROM meta_lake_maintenance), "
                f"(SELECT min(snapshot_time) FROM __ducklake_metadata_{CATALOG}.ducklake_snapshot)))").fetchone()[0]
            reason = lake_checkpoint_due(files_before, tables, since)
            if reason:
                conn.execute(f"CHECKPOINT {CATALOG}")
            files_after = lake_file_count(conn)
            seconds = round(time.monotonic() - started, 3)
            if reason:
                conn.execute("INSERT INTO meta_lake_maintenance VALUES (now(), ?, ?, ?)", [seconds, files_before, files_after])
        context.log.info(f"warehouse_maintenance: {reason or 'not due'} ({files_before} data files, {tables} tables)")
        return MaterializeResult(metadata={
            "kind": "ducklake", "seconds": seconds, "checkpointed": bool(reason), "why": reason or "not due",
            "data_files_before": MetadataValue.int(files_before), "data_files_after": MetadataValue.int(files_after)})

    return warehouse_maintenance


CHECKPOINT_EVERY_SECONDS = 3600
"""On a lake, CHECKPOINT at most hourly, unless small files pile up (LAKE_FILES_PER_TABLE)."""
LAKE_FILES_PER_TABLE = 2
"""On a lake, CHECKPOINT when the current snapshot references more data files than this per table: a commit of
more than ten rows writes a file per table, so sensors every few seconds pile up files between hourly runs."""


def lake_checkpoint_due(data_files: int, tables: int, seconds_since_last: float | None) -> str | None:
    """Why the lake's CHECKPOINT is due now, or None. `seconds_since_last`: since the last one, or since the lake
    was made when none was recorded (None: unknown, as good as an hour)."""
    if data_files > LAKE_FILES_PER_TABLE * max(tables, 1):
        return f"more than {LAKE_FILES_PER_TABLE} data files per table"
    if seconds_since_last is None:
        return "no maintenance recorded yet"
    if seconds_since_last >= CHECKPOINT_EVERY_SECONDS:
        return f"the last one was {seconds_since_last / 3600:.1f} hours ago"
    return None


def lake_table_count(conn) -> int:
    """The tables of the lake's current snapshot."""
    return conn.execute(f"SELECT count(*) FROM __ducklake_metadata_{CATALOG}.ducklake_table "
                        "WHERE end_snapshot IS NULL").fetchone()[0]


def lake_file_count(conn) -> int:
    """The Parquet data files the lake's current snapshot references, every table together."""
    # DuckLake attaches the lake's catalog database as __ducklake_metadata_<name>
    return conn.execute(f"SELECT count(*) FROM __ducklake_metadata_{CATALOG}.ducklake_data_file "
                        "WHERE end_snapshot IS NULL").fetchone()[0]
