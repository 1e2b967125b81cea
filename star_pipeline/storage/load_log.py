"""`meta_load_log`: one row per asset write, successful or not."""

from __future__ import annotations

from datetime import datetime

import duckdb


def record_load(
    conn: duckdb.DuckDBPyConnection,
    *,
    run_id: str | None,
    asset_key: str,
    partition_key: str | None,
    write_mode: str | None,
    started_at: datetime,
    completed_at: datetime | None,
    rows_written: int | None,
    status: str,
    error: str | None = None,
) -> None:
    """Insert one load-log row on `conn` (inside the caller's transaction, if any)."""
    conn.execute(
        "INSERT INTO meta_load_log (run_id, asset_key, partition_key, write_mode, started_at, completed_at,"
        " rows_written, status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [run_id, asset_key, partition_key, write_mode, started_at, completed_at, rows_written, status, error],
    )
