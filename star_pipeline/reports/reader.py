"""Opening the warehouse for reading without taking the writer lock.

A report waits briefly for the warehouse (DuckDB lets no other process read a
file while one writes it); if a run still holds it, the report reads the
published copy instead and says so. Either way nothing is written.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from star_pipeline.storage.published_copies import publication_note, published_copy_path
from star_pipeline.storage.warehouse import WarehouseLockedError, describe_lock_holder, open_connection, unusable_file


# Readers never spill: DuckDB would write temporary files (transcript-derived rows) beside the file or in the
# working folder, readable by others; a report's queries fit the default memory limit.
READER_CONFIG = {"temp_directory": ""}


def _utc(conn: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    conn.execute("SET TimeZone = 'UTC'")
    return conn


def open_for_reading(warehouse_path: Path, wait_seconds: float = 3.0, lake=None,
                     published: Path | None = None) -> tuple[duckdb.DuckDBPyConnection, str]:
    """A read-only connection and a sentence naming what it reads. `published`: the anchor of the published copies
    (config's Settings.published_anchor; default `warehouse_path`).

    On a DuckLake (`lake`, storage/warehouse/lake_engine.py) the writer's published copy is read when there is one
    (a file: no catalog round trips), and the sentence says who published it and how long ago; else the lake
    itself, read-only (readers never wait on writers).
    """
    published = published or warehouse_path
    if lake is not None:
        return _open_lake_for_reading(warehouse_path, lake, published)
    if not warehouse_path.exists():
        raise FileNotFoundError(
            f"{warehouse_path}: no warehouse yet. Build it first: `star-pipeline build` (or materialize in dagster dev)."
        )
    deadline = time.monotonic() + wait_seconds
    message = ""
    while True:
        try:
            return _utc(duckdb.connect(str(warehouse_path), read_only=True, config=READER_CONFIG)), f"read {warehouse_path}"
        except duckdb.IOException as exc:
            message = str(exc)
            if "lock" not in message.lower():
                raise unusable_file(warehouse_path, exc) from None
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    holder = describe_lock_holder(message)
    copy = published_copy_path(published)
    if copy.exists():
        published = datetime.fromtimestamp(copy.stat().st_mtime, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return (
            _utc(duckdb.connect(str(copy), read_only=True, config=READER_CONFIG)),
            f"the warehouse is held by {holder}: read the copy published at {published} ({copy})",
        )
    raise WarehouseLockedError(
        f"{warehouse_path}: held by {holder} for more than {wait_seconds:g} s and no published copy exists yet "
        f"({copy} is written after each aggregate rebuild). Try again when the run finishes."
    )


def _open_lake_for_reading(warehouse_path: Path, lake, published: Path) -> tuple[duckdb.DuckDBPyConnection, str]:
    copy = published_copy_path(published)
    if copy.exists():
        conn = _utc(duckdb.connect(str(copy), read_only=True, config=READER_CONFIG))
        return conn, f"read {copy}: {publication_note(conn)}"
    return (open_connection(warehouse_path, read_only=True, lake=lake),
            f"read {lake.label} itself, as of the writer's last rebuild (no copy published in {copy.parent} yet)")
