"""Opening the one DuckDB warehouse file: owner-only permissions, lock waits
with a clear message, migrations applied once per process, and connections
that are always closed.

dagster-duckdb's `DuckDBResource.get_connection` does not close its connection
when the body raises (no try/finally), which keeps DuckDB's file lock held by
a dead step; everything here closes in `finally`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from star_pipeline.storage.lake import LakeLocation

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")

DEFAULT_MEMORY_LIMIT = "1GiB"
"""The I/O manager's and warehouse resource's DuckDB limit when built without a configuration (tests do
that); the configuration's default is `auto` (config.py)."""

CATALOG = "warehouse"
"""The name the warehouse file is attached under (every connection `USE`s it)."""

ROW_GROUP_ROWS = 32768
"""Rows per row group of what a writable connection writes (DuckDB's default: 122,880).

An insert holds its current row group in memory until it is full, and DuckDB keeps the
Arrow batches it scanned alive until then. Raw lines average about 1 KB, so a default
row group of raw lines is about 120 MB; up to 350 MB of Arrow batches were alive at once
besides DuckDB's own 512 MB, and capturing 1 GB of transcripts peaked at 0.95-1.3 GiB.
At 32,768 rows: 120 MB of batches, a peak of about 0.9 GiB (0.65 GiB within a 256 MB
DuckDB limit), at the same speed.
DuckDB takes this only as an ATTACH option, so connections open the file by ATTACH.
"""


class WarehouseLockedError(RuntimeError):
    """Another process holds the DuckDB file's lock for longer than we may wait."""


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


def unusable_file(path: Path | str, exc: Exception) -> WarehouseFileError:
    """A clear error for a warehouse file DuckDB refused, naming the file and what to do."""
    detail = str(exc).removeprefix("IO Error: ").strip()
    if "not a valid DuckDB database file" in detail:
        advice = (
            "This file is not a DuckDB warehouse. Nothing was changed. Point warehouse.path in the config at "
            "the warehouse, or move this file away and run `star-pipeline build` to build a new one from the transcripts."
        )
    else:
        advice = "Nothing was changed. Check that the file and its folder are readable and writable by you."
    return WarehouseFileError(f"{path}: DuckDB cannot open it ({detail}). {advice}")


def describe_lock_holder(message: str) -> str:
    match = _LOCK_HOLDER.search(message)
    if not match:
        return "another process"
    return f"process {match.group(2)} ({match.group(1)})"


def spill_folder(path: Path | str) -> Path:
    """Where DuckDB spills what does not fit its memory limit: `<warehouse>.spill`, beside the file."""
    return Path(f"{path}.spill")


def _private_folders(path: Path) -> Path:
    """Create the warehouse's folder (0700 when new) and its spill folder (0700, emptied); returns the spill folder.

    Spill files hold transcript text: they live in a folder only the owner can enter, and what a
    killed process left there goes before this one spills (the caller holds the writer lock).
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


def _empty(folder: Path) -> None:
    for leftover in folder.iterdir():
        try:
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink()
        except OSError:
            pass  # a file we cannot remove is left; DuckDB names its own files anew


def open_connection(
    path: Path | str,
    *,
    read_only: bool = False,
    lock_timeout_seconds: float = 60.0,
    config: dict | None = None,
    lake: LakeLocation | None = None,
) -> duckdb.DuckDBPyConnection:
    """Connect to the warehouse, waiting up to `lock_timeout_seconds` for a lock held elsewhere.

    A new file is created readable by its owner only (mode 0600), in a folder
    that is created with mode 0700. A writable connection spills into the private
    `spill_folder`; a read-only one does not spill at all (it reads, and another reader
    may share the file). Pending migrations are applied on every writable connection.
    With `lake` (warehouse.kind: ducklake), the warehouse is that DuckLake (storage/lake.py)
    and `path` only anchors this machine's own files: the spill folder and published copies.
    """
    path = Path(path)
    shared = _SHARED.get(os.path.abspath(path))
    if shared is not None:
        conn = shared.cursor()  # a connection of its own to the database instance the build keeps open
        return _prepare(conn, path, read_only, lake)
    config = dict(config or {})
    spill = None
    if str(path) != ":memory:":
        spill = _private_folders(path)
        config["temp_directory"] = "" if read_only else str(spill)
    if lake is not None:
        return _open_lake(path, lake, read_only, lock_timeout_seconds, config)
    def attach() -> duckdb.DuckDBPyConnection:
        old_umask = os.umask(0o077)
        try:
            return _attach(path, read_only, config)
        finally:
            os.umask(old_umask)

    conn = _attach_waiting_for_lock(
        attach, lock_timeout_seconds,
        failed=lambda exc: unusable_file(path, exc) if isinstance(exc, duckdb.IOException) else exc,
        timed_out=lambda holder: WarehouseLockedError(
            f"{path}: the warehouse is locked by {holder}, and it was not released within {lock_timeout_seconds:g} s. "
            "Nothing was written. Wait for that process to finish (or stop it), then run again; raise "
            "warehouse.lock_timeout_seconds in the config to wait longer."))
    if spill is not None and not read_only:
        _empty(spill)  # this process holds the writer lock: nothing else spills here now
    return _prepare(conn, path, read_only)


# Writable DuckLake instances this process keeps, by (warehouse path, catalog, data path): see _open_lake.
_LAKES: dict[tuple[str, str, str], duckdb.DuckDBPyConnection] = {}


def _open_lake(path: Path, lake: LakeLocation, read_only: bool, lock_timeout_seconds: float,
               config: dict) -> duckdb.DuckDBPyConnection:
    """`open_connection` for a DuckLake: attach (and, writable, initialize and migrate) under the catalog lock.

    With a PostgreSQL catalog a writable instance is kept for the process and each caller gets a cursor of it:
    loading the extensions and attaching takes about a second, once per step otherwise (a `dagster dev` run is
    one process), and such a lake holds no lock that other processes wait for meanwhile. A DuckDB-file
    catalog is locked by the instance that attached it, as the single file is: it is attached per use.
    Several processes of one machine may write a lake at once, so each spills into a folder of its own.
    """
    from star_pipeline.storage.lake import INIT_LOCK, attach_lake, catalog_lock, lake_error
    from star_pipeline.storage.private_files import owner_only_umask

    # DuckLake writes Parquet files at every INSERT, long after the ATTACH: the umask must hold throughout.
    owner_only_umask()
    key = (os.path.abspath(path), lake.catalog, lake.data_path)
    if key in _LAKES:  # also for a reader: a DuckDB-file catalog cannot be attached twice in one process
        return _prepare(_LAKES[key].cursor(), path, read_only, lake)

    def attach(writable: bool) -> duckdb.DuckDBPyConnection:
        # a DuckDB-file catalog admits one process at a time, as the single file does: wait for it
        return _attach_waiting_for_lock(
            lambda: attach_lake(lake, not writable, config), lock_timeout_seconds,
            failed=lambda exc: lake_error(lake, exc),
            timed_out=lambda holder: WarehouseLockedError(
                f"{lake.label}: the catalog file is locked by {holder}, and it was not released within "
                f"{lock_timeout_seconds:g} s. Nothing was written. A DuckDB-file catalog serves one process at a "
                "time; wait for that one, or use a PostgreSQL catalog."))

    if read_only:
        return _prepare(attach(False), path, True, lake)
    if config.get("temp_directory"):
        config["temp_directory"] = str(_process_spill_folder(Path(config["temp_directory"])))
    with catalog_lock(lake, INIT_LOCK, lock_timeout_seconds, "creating or migrating the lake"):
        conn = _prepare(attach(True), path, False, lake)
    if not lake.is_postgres:  # a file catalog's lock is held while the instance lives: give it back after each use
        return conn
    _LAKES[key] = conn
    return _prepare(conn.cursor(), path, False, lake)


def _process_spill_folder(spill: Path) -> Path:
    """`spill`/pid-<this process> (0700, emptied), after removing the folders of processes that are gone."""
    for folder in spill.glob("pid-*"):
        try:
            os.kill(int(folder.name.removeprefix("pid-")), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, PermissionError):
            pass  # not ours to judge: another user's process, or not a pid
    own = spill / f"pid-{os.getpid()}"
    own.mkdir(mode=0o700, exist_ok=True)
    _empty(own)
    return own


def _attach_waiting_for_lock(attach, lock_timeout_seconds: float, *, failed, timed_out) -> duckdb.DuckDBPyConnection:
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


def _attach(path: Path, read_only: bool, config: dict) -> duckdb.DuckDBPyConnection:
    """A DuckDB instance with the warehouse file attached as CATALOG (":memory:": a database in memory)."""
    if str(path) == ":memory:":
        return duckdb.connect(":memory:", config=config)
    conn = duckdb.connect(":memory:", config=config)
    try:
        options = "READ_ONLY" if read_only else f"ROW_GROUP_SIZE {ROW_GROUP_ROWS}"
        conn.execute(f"ATTACH {quote_literal(str(path))} AS {CATALOG} ({options})")
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare(conn: duckdb.DuckDBPyConnection, path: Path, read_only: bool,
             lake: LakeLocation | None = None) -> duckdb.DuckDBPyConnection:
    """Per-connection setup: the warehouse as default catalog, UTC, owner-only files, pending migrations."""
    try:
        if str(path) != ":memory:" or lake is not None:
            conn.execute(f"USE {CATALOG}")  # also for a cursor of a shared instance: it starts in "memory"
        # UTC sessions: dates and hours derived from timestamps never depend on the machine's zone
        conn.execute("SET TimeZone = 'UTC'")
        if str(path) != ":memory:" and lake is None:
            for candidate in (path, Path(f"{path}.wal")):
                if candidate.exists() and (candidate.stat().st_mode & 0o077):
                    candidate.chmod(0o600)
        if not read_only:  # cheap when nothing is pending: one small query and a few file hashes
            from star_pipeline.storage.migrations import apply_migrations

            if lake is None:
                apply_migrations(conn, database_label=str(path))
            else:  # no PRIMARY KEY or UNIQUE in a DuckLake
                apply_migrations(conn, database_label=lake.label, without_keys=True)
    except BaseException:
        conn.close()
        raise
    return conn


# Database instances kept open by `shared_instance`, by absolute path.
_SHARED: dict[str, duckdb.DuckDBPyConnection] = {}


@contextlib.contextmanager
def shared_instance(path: Path | str, **kwargs) -> Iterator[bool]:
    """Keep the warehouse open in this process for the duration (one job run of `star-pipeline build`).

    Every `open_connection` to the same file meanwhile gets a cursor of this
    one instance: no re-open per step (catalog load, migration check) and no
    checkpoint each time a step's connection closes (one at the end, or when
    the WAL outgrows DuckDB's threshold). Only for a process that runs its steps
    one after another and owns the file meanwhile: `dagster dev` runs each step
    with a connection of its own, so that other runs can take turns. The build
    opens it anew for each job: kept open across all of them, DuckDB's memory
    grew to 2 GiB at 4 GB of transcripts (1.4 GiB when reopened per job).
    Raises WarehouseLockedError when another process holds the file past the
    lock timeout, and WarehouseFileError when the file is not one DuckDB can open
    (for example not a DuckDB file). Yields False, and changes nothing, on any other
    DuckDB error: each step then reports it as usual.
    """
    key = os.path.abspath(path)
    if key in _SHARED:
        yield True
        return
    try:
        conn = open_connection(path, **kwargs)
    except duckdb.Error:
        yield False
        return
    _SHARED[key] = conn
    try:
        yield True
    finally:
        del _SHARED[key]
        conn.close()


@contextlib.contextmanager
def connect(path: Path | str, **kwargs) -> Iterator[duckdb.DuckDBPyConnection]:
    """`open_connection` as a context manager that always closes the connection."""
    conn = open_connection(path, **kwargs)
    try:
        yield conn
    finally:
        conn.close()


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
    return bool(
        conn.execute(
            # current_database(): a DuckLake's own catalog tables are attached too, in another database
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
            "AND table_schema = ? AND table_name = ?", [schema, table]
        ).fetchone()[0]
    )
