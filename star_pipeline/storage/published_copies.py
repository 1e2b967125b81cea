"""Published read-only copies: what readers fall back to while a run holds the warehouse.

DuckDB lets one process write a file and no other process read it meanwhile; a
copy is what makes readers (reports today) answer during long runs. `publish`
copies the given columns of the given aggregate tables into `<warehouse>.reports.duckdb`
(written to a temporary file, then renamed, so a reader never sees half a copy;
owner-only). Only the columns readers need: the copy is rewritten by every
aggregate run, and all of fact_token_usage took 3x as long to write.
"""

from __future__ import annotations

import os
from pathlib import Path

from star_pipeline.storage.warehouse import quote_literal

def published_copy_path(warehouse_path: Path | str) -> Path:
    return Path(f"{warehouse_path}.reports.duckdb")


def search_copy_path(warehouse_path: Path | str) -> Path:
    """The published copy search reads: masked texts, their vectors and a full-text index (aggregate/search_copy.py)."""
    return Path(f"{warehouse_path}.search.duckdb")


def star_copy_path(warehouse_path: Path | str) -> Path:
    """The masked star schema `star-pipeline sql` and `export` read, made by them from the warehouse (reports/star_copy.py)."""
    return Path(f"{warehouse_path}.star.duckdb")


def replace_with(temporary: Path, target: Path) -> None:
    """Put a finished copy in place (a reader never sees half of one), owner-only."""
    os.replace(temporary, target)
    target.chmod(0o600)


def fresh_temporary(target: Path) -> Path:
    """The temporary file a copy of `target` is written to, with what a crashed writer left removed."""
    temporary = target.with_name(target.name + ".tmp")
    for leftover in (temporary, Path(f"{temporary}.wal")):
        if leftover.exists():
            leftover.unlink()
    return temporary


def publish_text(target: Path, text: str) -> None:
    """Write a small text file whole beside `target` under umask 077 and rename it into place: a reader never
    sees half of it, and no other user ever can (the statusline's file, a brief, the build state)."""
    temporary = fresh_temporary(target)
    old_umask = os.umask(0o077)
    try:
        temporary.write_text(text, encoding="utf-8")
    finally:
        os.umask(old_umask)
    replace_with(temporary, target)


def publish(conn, warehouse_path: Path | str, tables: dict[str, tuple[str, ...]]) -> Path:
    """Copy `tables` (aggregate table -> its columns) from the open warehouse connection into the published copy."""
    target = published_copy_path(warehouse_path)
    temporary = fresh_temporary(target)
    old_umask = os.umask(0o077)
    try:
        conn.execute(f"ATTACH {quote_literal(str(temporary))} AS report_copy")
    finally:
        os.umask(old_umask)
    try:
        conn.execute("CREATE SCHEMA report_copy.aggregate")
        for table, columns in tables.items():
            conn.execute(f"CREATE TABLE report_copy.aggregate.{table} AS SELECT {', '.join(columns)} FROM aggregate.{table}")
    finally:
        conn.execute("DETACH report_copy")
    replace_with(temporary, target)
    return target

