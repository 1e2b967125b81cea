"""`star-pipeline export DIR [--format parquet|csv]`: the star schema's facts and dimensions as files, one per
table, for BI tools and notebooks.

Read from the star copy (reports/star_copy.py: masked, made from the warehouse read-only, never the writer
lock), so an exported file holds no secret the warehouse flagged. Owner-only: DIR is created 0700, every file
0600 (written under umask 077, then chmod). A DIR that already holds anything is refused unless --force, which
replaces the tables' files and leaves every other file alone. Each file is written under a temporary name and
renamed, so a notebook reading DIR meanwhile never reads half a file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb

from star_pipeline.reports.reader import READER_CONFIG
from star_pipeline.reports.star_copy import DIMENSIONS, FACTS, star_copy_for_reading
from star_pipeline.storage.warehouse import quote_literal

EXPORT_FORMATS = ("parquet", "csv")
_COPY_OPTIONS = {"parquet": "FORMAT parquet, COMPRESSION zstd", "csv": "FORMAT csv, HEADER true"}


class ExportError(ValueError):
    """The export cannot be written where asked; the message says what to do."""


def run_export(directory: Path | str, warehouse_path: Path | str, file_format: str = "parquet", force: bool = False,
               lake=None, out=None, err=None) -> int:
    """Write every fact and dimension to `directory`/<table>.<format>; print each file and its rows."""
    out, err = out or sys.stdout, err or sys.stderr
    if file_format not in EXPORT_FORMATS:
        raise ExportError(f"--format {file_format}: not a format export writes (one of: {', '.join(EXPORT_FORMATS)})")
    directory = Path(directory)
    _check_directory(directory, force)
    star, note = star_copy_for_reading(warehouse_path, lake)
    if not directory.exists():
        old_umask = os.umask(0o077)
        try:
            directory.mkdir(parents=True, mode=0o700)
        finally:
            os.umask(old_umask)
    print(f"star-pipeline export: {note}", file=err)
    conn = duckdb.connect(str(star), read_only=True, config=READER_CONFIG)
    old_umask = os.umask(0o077)
    try:
        conn.execute("SET TimeZone = 'UTC'")  # CSV writes times in the session's zone
        for table in (*FACTS, *DIMENSIONS):
            target = directory / f"{table}.{file_format}"
            temporary = directory / f".{table}.{file_format}.tmp"
            try:
                rows = conn.execute(f"COPY main.{table} TO {quote_literal(str(temporary))} "
                                    f"({_COPY_OPTIONS[file_format]})").fetchone()[0]
                temporary.chmod(0o600)
                os.replace(temporary, target)
            finally:
                temporary.unlink(missing_ok=True)
            print(f"{target}  {rows:,} rows", file=out)
    finally:
        os.umask(old_umask)
        conn.close()
    return 0


def _check_directory(directory: Path, force: bool) -> None:
    """Refuse a file where the folder should be, or a folder that is not empty without --force."""
    if directory.exists() and not directory.is_dir():
        raise ExportError(f"{directory}: is a file, not a folder. Name a folder to export into (it is created).")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise ExportError(f"{directory}: not empty. Name a new or empty folder, or pass --force to replace the "
                          "tables' files there (other files are left alone).")
