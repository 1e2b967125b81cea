"""What both warehouse engines share, and the SQL helpers every layer uses: the catalog name, the errors, SQL
quoting, the lock-wait loop, the private spill folder and the per-connection setup.

The bottom of the warehouse package: it imports no other module of it (only storage/migrations.py, which
imports nothing of star_pipeline but storage/shipped_files.py, when a writable connection applies migrations). Code outside the package imports these names from
`star_pipeline.storage.warehouse`, never from here (see that package's docstring).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

import duckdb

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")

DEFAULT_MEMORY_LIMIT = "1GiB"
"""The I/O manager's and warehouse resource's DuckDB limit when built without a configuration (tests do
that); the configuration's default is `auto` (config.py)."""

CATALOG = "warehouse"
"""The name the warehouse (the file or the DuckLake) is attached under (every connection `USE`s it)."""

ROW_GROUP_ROWS = 32768
"""Rows per row group of what a writable connection writes (DuckDB's default: 122,880).

An insert holds its current row group in memory until it is full, and DuckDB keeps the
Arrow batches it scanned alive until then. Raw lines average about 1 KB, so a default
row group of raw lines is about 120 MB; up to 350 MB of Arrow batches were alive at once
besides DuckDB's own 512 MB, and capturing 1 GB of transcripts peaked at 0.95-1.3 GiB.
At 32,768 rows: 120 MB of batches, a peak of about 0.9 GiB (0.65 GiB within a 256 MB
DuckDB limit), at the same speed.
DuckDB takes this only as an ATTACH option, so connections open the file by ATTACH (file_engine.py); a
DuckLake takes it as a persisted lake option instead (lake_engine.py's LAKE_OPTIONS).
"""


class WarehouseLockedError(RuntimeError):
    """Another process holds the DuckDB file's lock (or the lake's catalog lock) for longer than we may wait."""


class WarehouseFileError(RuntimeError):
    """The warehouse path holds a file DuckDB cannot open (not a DuckDB file, no permission, ...)."""


class WarehouseWriteError(RuntimeError):
    """DuckDB refused a write; the message holds DuckDB's own error and what to do."""


def write_failure(table: str, exc: Exception, memory_limit: str | None) -> WarehouseWriteError:
    """A clear error for a failed write of `table`: DuckDB's message first, then what to do about it."""
    detail = str(exc).strip().split("\n\nPossible solutions:")[0]
    lowered = detail.lower()
    if isinstance(exc, duckdb.OutOfMemoryException) or "out of memory" in lowered or "failed to pin block" in lowered:
        advice = (
            f"DuckDB ran out of its memory limit (warehouse.memory_limit: {memory_limit}). Nothing was written. "
            "Raise warehouse.memory_limit in the config (for example to 4GB) and run again."
        )
    elif "no space left" in lowered:
        advice = "The disk holding the warehouse or its spill folder is full. Nothing was written: free space and run again."
    else:
        advice = "Nothing was written; the next run tries again."
    return WarehouseWriteError(f"writing {table} failed: {detail}. {advice}")


def describe_lock_holder(message: str) -> str:
    match = _LOCK_HOLDER.search(message)
    if not match:
        return "another process"
    return f"process {match.group(2)} ({match.group(1)})"


def attach_waiting_for_lock(attach, lock_timeout_seconds: float, *, failed, timed_out) -> duckdb.DuckDBPyConnection:
    """`attach()`, tried again while another process holds the file's lock (DuckDB's `Conflicting lock`), for up
    to `lock_timeout_seconds`; then `timed_out(holder)` is raised. Any other error: `failed(exc)` is raised."""
    deadline = time.monotonic() + lock_timeout_seconds
    delay = 0.05
    while True:
        try:
            return attach()
        except duckdb.Error as exc:
            message = str(exc)
            if "Conflicting lock" not in message:
                raise failed(exc) from None
            if time.monotonic() >= deadline:
                raise timed_out(describe_lock_holder(message)) from None
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def spill_folder(path: Path | str) -> Path:
    """Where DuckDB spills what does not fit its memory limit: `<warehouse>.spill`, beside the file."""
    return Path(f"{path}.spill")


def private_folders(path: Path) -> Path:
    """Create the warehouse's folder (0700 when new) and its spill folder (0700); returns the spill folder.

    Spill files hold transcript text: they live in a folder only the owner can enter, and what a
    killed process left there goes before this one spills (`empty_folder`, by the engine, once it
    holds the writer lock).
    """
    spill = spill_folder(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        spill.mkdir(exist_ok=True, mode=0o700)
        spill.chmod(0o700)
    except OSError as exc:
        raise WarehouseFileError(
            f"{path}: cannot create {exc.filename or path.parent} ({exc.strerror}). Nothing was written. Make that "
            "folder writable by you, or point warehouse.path in the config at a folder you can write."
        ) from None
    return spill


def empty_folder(folder: Path) -> None:
    for leftover in folder.iterdir():
        try:
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink()
        except OSError:
            pass  # a file we cannot remove is left; DuckDB names its own files anew


def prepare_session(conn: duckdb.DuckDBPyConnection, *, read_only: bool, use_catalog: bool, database_label: str,
                    without_keys: bool = False, files_to_keep_private: Iterable[Path] = (),
                    migrate: bool = True) -> duckdb.DuckDBPyConnection:
    """Per-connection setup: the warehouse as default catalog, UTC, owner-only files, pending migrations.

    Each engine says what differs: whether there is a CATALOG to `USE` (not in an in-memory database), which
    files to keep owner-only, and whether migrations keep their keys (a DuckLake has none). The connection is
    closed when the setup fails.
    """
    try:
        if use_catalog:
            conn.execute(f"USE {CATALOG}")  # also for a cursor of a shared instance: it starts in "memory"
        # UTC sessions: dates and hours derived from timestamps never depend on the machine's zone
        conn.execute("SET TimeZone = 'UTC'")
        for candidate in files_to_keep_private:
            if candidate.exists() and (candidate.stat().st_mode & 0o077):
                candidate.chmod(0o600)
        if migrate and not read_only:  # cheap when nothing is pending: one small query and a few file hashes
            # imported here, by writers only: readers (reports, search) start without it and hashlib
            from star_pipeline.storage.migrations import apply_migrations

            apply_migrations(conn, database_label=database_label, without_keys=without_keys)
    except BaseException:
        conn.close()
        raise
    return conn


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (schema, table or column name)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string as an SQL literal (for the rare constant list that must not be a parameter)."""
    return "'" + value.replace("'", "''") + "'"


def paths_in(column: str, paths: list[str]) -> str:
    """SQL predicate: `column` is one of `paths`, as quoted constants ("FALSE" for none).

    For the incremental runs' lists of files to read: a constant IN list is a cheap filter
    DuckDB evaluates before the rest of the query; a subquery becomes a join it may run
    after the expensive work. It does not skip row groups (DuckDB 1.5 reads every row to
    apply it): where that matters, add a range on an ordered column (normalized
    `not_yet_in` adds the new rows' rowid range).
    """
    if not paths:
        return "FALSE"
    return f"{column} IN ({', '.join(quote_literal(p) for p in paths)})"


def table_exists(conn, schema: str, table: str) -> bool:
    """Whether the current database holds `schema`.`table` (a table or a view).

    By binding a query of it, not by information_schema: on a DuckLake, information_schema.tables reads every
    table of the lake from its catalog (50-80 ms a call, 7 s of a 12 MB build), where a bind looks up one name.
    A failed bind leaves an open transaction usable (DuckDB aborts a transaction on execution errors only).
    `schema.table` is looked up in the current database first, as information_schema was asked before."""
    try:
        conn.execute(f"SELECT 1 FROM {quote_ident(schema)}.{quote_ident(table)} LIMIT 0")
    except duckdb.CatalogException:
        return False
    return True
