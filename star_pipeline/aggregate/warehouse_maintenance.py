"""warehouse_maintenance: CHECKPOINT after every rebuild, the last step of the aggregate group.

On the single file it writes the WAL into the file. On a DuckLake it is the lake's maintenance, in DuckLake's
order: flush inlined rows into Parquet, expire old snapshots, merge small files, rewrite files with many
deletes, delete the files nothing references. Every commit of more than ten rows writes a Parquet file per
table, so a lake that sensors write every few seconds grows thousands of small files a day without it (the
study: 500 files read in 91 ms, 20 ms once merged). Snapshots and files are removed only once older than the
lake's `expire_older_than` / `delete_older_than` (a day, storage/lake.py), never under another machine's open
write.
"""

from __future__ import annotations

import time

from dagster import AssetKey, MaterializeResult, MetadataValue, asset

from star_pipeline.aggregate.sql_assets import GROUP, key
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.warehouse import CATALOG


def build_warehouse_maintenance(after: list[AssetKey]):
    @asset(key=key("warehouse_maintenance"), group_name=GROUP, deps=after, pool=WAREHOUSE_POOL, kinds={"duckdb"},
           description="CHECKPOINT after each rebuild: the single file's WAL written into it; on a DuckLake, its "
           "maintenance (small files merged, expired snapshots and unreferenced files removed after a day).")
    def warehouse_maintenance(warehouse: WarehouseResource) -> MaterializeResult:
        started = time.monotonic()
        lake = warehouse.lake()
        with warehouse.connect() as conn:
            files_before = lake_file_count(conn) if lake else None
            conn.execute(f"CHECKPOINT {CATALOG}")
            files_after = lake_file_count(conn) if lake else None
        metadata = {"kind": "ducklake" if lake else "duckdb", "seconds": round(time.monotonic() - started, 3)}
        if lake:
            metadata.update({"data_files_before": MetadataValue.int(files_before),
                             "data_files_after": MetadataValue.int(files_after)})
        return MaterializeResult(metadata=metadata)

    return warehouse_maintenance


def lake_file_count(conn) -> int:
    """The Parquet data files the lake's current snapshot references, every table together."""
    # DuckLake attaches the lake's catalog database as __ducklake_metadata_<name>
    return conn.execute(f"SELECT count(*) FROM __ducklake_metadata_{CATALOG}.ducklake_data_file "
                        "WHERE end_snapshot IS NULL").fetchone()[0]
