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


def wrote_in_run(conn: duckdb.DuckDBPyConnection, run_id: str, asset_key: str, partition_key: str | None = None) -> bool:
    """Whether run `run_id` wrote `asset_key` (that partition, when given), even zero rows.

    A check uses it to tell "attached to a materialization" (cover what that run
    touched, possibly nothing) from "run on its own" (cover everything).
    """
    return bool(
        conn.execute(
            "SELECT count(*) FROM meta_load_log WHERE run_id = ? AND asset_key = ? "
            "AND partition_key IS NOT DISTINCT FROM ? AND status = 'success'",
            [run_id, asset_key, partition_key],
        ).fetchone()[0]
    )


def failure_hook_for_warehouse():
    """A Dagster failure hook that records a failed step in meta_load_log.

    The I/O manager records every write (and a failed write) itself; this covers
    a step whose body failed before it produced anything to write. Attached to
    the project's jobs (ingest, classify, aggregate).
    """
    from datetime import datetime, timezone

    from dagster import HookContext, failure_hook

    @failure_hook(required_resource_keys={"warehouse"}, name="record_failure_in_load_log")
    def record_failure_in_load_log(context: HookContext) -> None:
        error = context.op_exception
        now = datetime.now(timezone.utc)
        try:
            with context.resources.warehouse.connect(derived=False) as conn:
                record_load(
                    conn, run_id=context.run_id, asset_key=context.op.name, partition_key=None, write_mode=None,
                    started_at=now, completed_at=now, rows_written=0, status="failure",
                    error=(f"{type(error).__name__}: {error}" if error else "step failed")[:2000],
                )
        except Exception as exc:  # the warehouse itself may be what failed (locked, unreadable)
            context.log.warning(f"could not record the failure in meta_load_log: {exc}")

    return record_failure_in_load_log
