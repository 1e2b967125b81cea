"""The single-file engine (`warehouse.kind: duckdb`, the default): the warehouse is one DuckDB file, attached
as CATALOG with the writer's row group size, created owner-only, waited for while another process holds its
lock, and named with what to do when DuckDB cannot open it.

Imports only common.py of the warehouse package; the package's `open_connection` is what calls it.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from star_pipeline.storage.warehouse.common import (
    CATALOG,
    ROW_GROUP_ROWS,
    WarehouseFileError,
    WarehouseLockedError,
    attach_waiting_for_lock,
    empty_folder,
    prepare_session,
    quote_literal,
)


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


def open_file(path: Path, read_only: bool, lock_timeout_seconds: float, config: dict,
              spill: Path | None) -> duckdb.DuckDBPyConnection:
    """`open_connection` for the single file: attach it, waiting up to `lock_timeout_seconds` for its lock.

    A new file is created readable by its owner only (mode 0600). A writable connection holds the writer lock,
    so nothing else spills into `spill` meanwhile: what a killed process left there is removed.
    """
    def attach() -> duckdb.DuckDBPyConnection:
        old_umask = os.umask(0o077)
        try:
            return _attach(path, read_only, config)
        finally:
            os.umask(old_umask)

    conn = attach_waiting_for_lock(
        attach, lock_timeout_seconds,
        failed=lambda exc: unusable_file(path, exc) if isinstance(exc, duckdb.IOException) else exc,
        timed_out=lambda holder: WarehouseLockedError(
            f"{path}: the warehouse is locked by {holder}, and it was not released within {lock_timeout_seconds:g} s. "
            "Nothing was written. Wait for that process to finish (or stop it), then run again; raise "
            "warehouse.lock_timeout_seconds in the config to wait longer."))
    if spill is not None and not read_only:
        empty_folder(spill)  # this process holds the writer lock: nothing else spills here now
    return prepare_file_connection(conn, path, read_only)


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


def prepare_file_connection(conn: duckdb.DuckDBPyConnection, path: Path, read_only: bool,
                            migrate: bool = True) -> duckdb.DuckDBPyConnection:
    """Per-connection setup for the file (also a cursor of a shared instance): common.prepare_session, with the
    file and its WAL kept owner-only and migrations applied with their keys (unless `migrate` is False: a
    cursor of an instance migrated when it was opened)."""
    in_memory = str(path) == ":memory:"
    return prepare_session(
        conn, read_only=read_only, use_catalog=not in_memory, database_label=str(path), migrate=migrate,
        files_to_keep_private=() if in_memory else (path, Path(f"{path}.wal")),
    )
