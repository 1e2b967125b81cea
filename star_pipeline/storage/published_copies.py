"""Published read-only copies: what readers fall back to while a run holds the warehouse.

DuckDB lets one process write a file and no other process read it meanwhile; a
copy is what makes readers (reports today) answer during long runs. `publish`
copies the given columns of the given aggregate tables into `<anchor>.reports.duckdb`
(written to a temporary file, then renamed, so a reader never sees half a copy;
owner-only). Only the columns readers need: the copy is rewritten by every
aggregate run, and all of fact_token_usage took 3x as long to write.

The anchor is config's `Settings.published_anchor`: `warehouse.path` on the single file; on a lake a file name in
`warehouse.published_path`, the folder every team machine reads the writer's copies from. Each DuckDB copy holds
who published it and when (`PUBLICATION_TABLE`), which a reader on a lake shows (`publication_note`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from star_pipeline.storage.warehouse import WarehouseFileError, quote_literal

PUBLICATION_TABLE = "publication"
"""In each DuckDB copy (schema main): one row, the machine.id of the writer that published it and when (UTC)."""

def published_copy_path(warehouse_path: Path | str) -> Path:
    return Path(f"{warehouse_path}.reports.duckdb")


def search_copy_path(warehouse_path: Path | str) -> Path:
    """The published copy search reads: masked texts, their vectors and a full-text index (aggregate/search_copy.py)."""
    return Path(f"{warehouse_path}.search.duckdb")


def star_copy_path(warehouse_path: Path | str) -> Path:
    """The masked star schema `star-pipeline sql` and `export` read, made by them from the warehouse (reports/star_copy.py)."""
    return Path(f"{warehouse_path}.star.duckdb")


def make_published_folder(anchor: Path | str) -> Path:
    """The folder the copies named after `anchor` go in, created owner-only (0700) when missing."""
    folder = Path(anchor).parent
    if not folder.is_dir():
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            folder.chmod(0o700)
        except OSError as exc:
            raise WarehouseFileError(
                f"{folder}: cannot create the folder of the published copies ({exc.strerror}). Make its parent "
                "writable by you, or point warehouse.published_path (a lake) or warehouse.path at a folder you can "
                "write.") from None
    return folder


def retire_copies_beside(warehouse_path: Path | str) -> list[Path]:
    """Remove the copies an earlier version published beside `warehouse_path`, now that they go elsewhere (a lake's
    published folder): left there, a reader still pointed at them (a hook installed before) would show an old
    rebuild as if current; gone, it says nothing is published. Returns what it removed."""
    import shutil

    from star_pipeline.storage.brief_files import briefs_dir
    from star_pipeline.storage.budgets_file import budgets_file
    from star_pipeline.storage.statusline_file import statusline_file

    removed = []
    for old in (published_copy_path(warehouse_path), search_copy_path(warehouse_path), statusline_file(warehouse_path),
                budgets_file(warehouse_path), briefs_dir(warehouse_path)):
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        elif old.exists() or old.is_symlink():
            old.unlink(missing_ok=True)
        else:
            continue
        removed.append(old)
    return removed


@dataclass(frozen=True)
class Publication:
    """Who published a copy and when."""

    machine: str
    at: datetime  # UTC

    def note(self, now: datetime | None = None) -> str:
        """`team copies published by laptop-a at 2026-12-07 21:34 UTC (12 min ago)`."""
        now = now or datetime.now(timezone.utc)
        return (f"team copies published by {self.machine or 'an unnamed machine'} at "
                f"{self.at.strftime('%Y-%m-%d %H:%M UTC')} ({age_text((now - self.at).total_seconds())})")


def age_text(seconds: float) -> str:
    """`less than a minute ago`, `12 min ago`, `3 h 5 min ago`, `2 days ago`."""
    minutes = int(max(seconds, 0) // 60)
    if minutes < 1:
        return "less than a minute ago"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min ago"
    return f"{minutes // (24 * 60)} days ago"


def stamp(conn, catalog: str, machine_id: str) -> None:
    """Write (or replace) the copy attached as `catalog`'s publication row: this machine, now."""
    conn.execute(f"CREATE OR REPLACE TABLE {catalog}.main.{PUBLICATION_TABLE} AS SELECT CAST(? AS VARCHAR) AS "
                 "machine_id, CAST(? AS TIMESTAMPTZ) AS published_at", [machine_id, datetime.now(timezone.utc)])


def publication(conn) -> Publication | None:
    """The publication row of the copy `conn` has open (its default catalog); None for a copy made before it had one."""
    import duckdb

    try:
        row = conn.execute(f"SELECT machine_id, published_at FROM main.{PUBLICATION_TABLE} LIMIT 1").fetchone()
    except duckdb.CatalogException:
        return None
    if row is None or row[1] is None:
        return None
    return Publication(row[0] or "", row[1].astimezone(timezone.utc))


def publication_note(conn) -> str:
    """What a reader on a lake says about the copy it read: who published it, when and how long ago."""
    found = publication(conn)
    return found.note() if found else "team copies published by the writer before it recorded who and when"


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


def publish(conn, warehouse_path: Path | str, tables: dict[str, tuple[str, ...]], machine_id: str = "") -> Path:
    """Copy `tables` (aggregate table -> its columns) from the open warehouse connection into the published copy
    named after `warehouse_path` (the anchor), stamped with `machine_id` and the time."""
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
        stamp(conn, "report_copy", machine_id)
    finally:
        conn.execute("DETACH report_copy")
    replace_with(temporary, target)
    return target

