"""The one way into the warehouse: `open_connection` / `connect` / `shared_instance`, whichever engine holds it,
and every name the rest of star_pipeline uses about it (errors, SQL quoting, the lake's settings and locks).

Two engines, chosen by the `lake` argument (config's `warehouse.kind`):
- file_engine.py: the single DuckDB file (`lake=None`, the default);
- lake_engine.py: the team warehouse on DuckLake (`lake=LakeLocation(...)`).
Both attach the warehouse under the same name (`CATALOG`), so every query, asset and check runs unchanged.

Decision (issue 29): the package's modules import one way only, and code outside the package imports from
`star_pipeline.storage.warehouse` alone, never from a module inside it:

    __init__ (this API) -> file_engine -> common
                        -> lake_engine -> extensions -> common
                                       -> common
    common -> storage/migrations.py;  lake_engine -> storage/private_files.py (neither imports the warehouse)

dagster-duckdb's `DuckDBResource.get_connection` does not close its connection
when the body raises (no try/finally), which keeps DuckDB's file lock held by
a dead step; everything here closes in `finally`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb

from star_pipeline.storage.warehouse.common import (
    CATALOG,
    DEFAULT_MEMORY_LIMIT,
    ROW_GROUP_ROWS,
    WarehouseFileError,
    WarehouseLockedError,
    WarehouseWriteError,
    describe_lock_holder,
    paths_in,
    private_folders,
    quote_ident,
    quote_literal,
    table_exists,
    write_failure,
)
from star_pipeline.storage.warehouse.extensions import load_extension
from star_pipeline.storage.warehouse.file_engine import open_file, prepare_file_connection, unusable_file
from star_pipeline.storage.warehouse.lake_engine import (
    INIT_LOCK,
    POSTGRES_PREFIX,
    SQLITE_PREFIX,
    LakeAttachError,
    LakeLocation,
    attach_lake,
    capture_lock,
    catalog_lock,
    catalog_password_problem,
    derived_writer_lock,
    lake_location,
    open_lake,
    prepare_lake_connection,
    retry_on_conflict,
)

__all__ = [
    # opening the warehouse
    "connect", "open_connection", "shared_instance", "CATALOG", "DEFAULT_MEMORY_LIMIT", "ROW_GROUP_ROWS",
    # errors, and the messages readers build from DuckDB's
    "WarehouseFileError", "WarehouseLockedError", "WarehouseWriteError", "LakeAttachError",
    "describe_lock_holder", "unusable_file", "write_failure",
    # SQL helpers
    "paths_in", "quote_ident", "quote_literal", "table_exists", "load_extension",
    # the DuckLake's settings, locks and conflict retries
    "LakeLocation", "lake_location", "catalog_password_problem", "POSTGRES_PREFIX", "SQLITE_PREFIX",
    "attach_lake", "capture_lock", "catalog_lock", "derived_writer_lock", "INIT_LOCK", "retry_on_conflict",
]


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
    spill folder; a read-only one does not spill at all (it reads, and another reader
    may share the file). Pending migrations are applied on every writable connection (on a cursor of a
    `shared_instance`: once, when the instance was opened).
    With `lake` (warehouse.kind: ducklake), the warehouse is that DuckLake (lake_engine.py)
    and `path` only anchors this machine's own files: the spill folder and published copies.
    """
    path = Path(path)
    key = os.path.abspath(path)
    shared = _SHARED.get(key)
    if shared is not None:
        conn = shared.cursor()  # a connection of its own to the database instance the build keeps open
        # the instance was migrated when it was opened writable: no migration check per step
        migrate = key not in _SHARED_MIGRATED
        if lake is None:
            return prepare_file_connection(conn, path, read_only, migrate=migrate)
        return prepare_lake_connection(conn, lake, read_only, migrate=migrate)
    config = dict(config or {})
    spill = None
    if str(path) != ":memory:":
        spill = private_folders(path)
        config["temp_directory"] = "" if read_only else str(spill)
    if lake is not None:
        return open_lake(path, lake, read_only, lock_timeout_seconds, config)
    return open_file(path, read_only, lock_timeout_seconds, config, spill)


# Database instances kept open by `shared_instance`, by absolute path; those opened writable, whose pending
# migrations were applied then.
_SHARED: dict[str, duckdb.DuckDBPyConnection] = {}
_SHARED_MIGRATED: set[str] = set()


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
    if not kwargs.get("read_only"):
        _SHARED_MIGRATED.add(key)
    try:
        yield True
    finally:
        del _SHARED[key]
        _SHARED_MIGRATED.discard(key)
        conn.close()


@contextlib.contextmanager
def connect(path: Path | str, **kwargs) -> Iterator[duckdb.DuckDBPyConnection]:
    """`open_connection` as a context manager that always closes the connection."""
    conn = open_connection(path, **kwargs)
    try:
        yield conn
    finally:
        conn.close()
