"""The published read-only copy reports fall back to while a run holds the warehouse.

After every aggregate rebuild, the columns the reports read of
aggregate.fact_token_usage and aggregate.derived_session_usage are copied into
`<warehouse>.reports.duckdb` (written to a temporary file, then renamed, so a
reader never sees half a copy). Only those columns: the copy is rewritten by
every aggregate run, and all of fact_token_usage took 3x as long to write.
DuckDB lets one process write a file and no other process read it meanwhile;
the copy is what makes reports answer during long runs.
"""

from __future__ import annotations

import os
from pathlib import Path

from star_pipeline.storage.warehouse import quote_literal

# Per table, the columns reports/report.py reads (a report that reads another needs it added here:
# test_reports runs every report on the copy alone).
REPORT_TABLES = {
    "fact_token_usage": (
        "usage_key", "source", "session_id", "project_id", "report_model", "model_is_fallback", "event_ts", "date_key",
        "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
        "reasoning_output_tokens", "cost_usd",
    ),
    "derived_session_usage": ("source", "session_id", "session_path"),
}


def published_copy_path(warehouse_path: Path | str) -> Path:
    return Path(f"{warehouse_path}.reports.duckdb")


def publish(conn, warehouse_path: Path | str) -> Path:
    """Copy the report tables from the open warehouse connection into the published copy."""
    target = published_copy_path(warehouse_path)
    temporary = target.with_name(target.name + ".tmp")
    for leftover in (temporary, Path(f"{temporary}.wal")):
        if leftover.exists():
            leftover.unlink()
    old_umask = os.umask(0o077)
    try:
        conn.execute(f"ATTACH {quote_literal(str(temporary))} AS report_copy")
    finally:
        os.umask(old_umask)
    try:
        conn.execute("CREATE SCHEMA report_copy.aggregate")
        for table, columns in REPORT_TABLES.items():
            conn.execute(f"CREATE TABLE report_copy.aggregate.{table} AS SELECT {', '.join(columns)} FROM aggregate.{table}")
    finally:
        conn.execute("DETACH report_copy")
    os.replace(temporary, target)
    target.chmod(0o600)
    return target
