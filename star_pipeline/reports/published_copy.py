"""The published read-only copy reports fall back to while a run holds the warehouse.

After every aggregate rebuild, the tables the reports read
(aggregate.fact_token_usage, aggregate.derived_session_usage) are copied into
`<warehouse>.reports.duckdb` (written to a temporary file, then renamed, so a
reader never sees half a copy). DuckDB lets one process write a file and no
other process read it meanwhile; the copy is what makes reports answer during
long runs.
"""

from __future__ import annotations

import os
from pathlib import Path

from star_pipeline.storage.warehouse import quote_literal

REPORT_TABLES = ("fact_token_usage", "derived_session_usage")


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
        for table in REPORT_TABLES:
            conn.execute(f"CREATE TABLE report_copy.aggregate.{table} AS SELECT * FROM aggregate.{table}")
    finally:
        conn.execute("DETACH report_copy")
    os.replace(temporary, target)
    target.chmod(0o600)
    return target
