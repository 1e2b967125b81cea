"""The team warehouse on DuckLake (`warehouse.kind: ducklake`): attaching it, initializing it once, the
catalog-wide locks that serialize what two machines must not do at the same time, and trying again a commit
that lost to another machine's.

A DuckLake keeps its catalog in PostgreSQL (many machines), or in a DuckDB or SQLite file (one machine), and its
rows in Parquet files under `data_path`. It is attached under the same name as the single file (`CATALOG`),
so every query, asset and check runs unchanged. The package's `open_connection` calls `open_lake` here to attach
it; through the package's names, the I/O manager and the warehouse resource take the derived-writer lock and
retry conflicts, the raw capture retries its preparation, and config.py checks a catalog string. Imports only
common.py and extensions.py of the warehouse package. What differs, measured in docs/design/ducklake-study.md:
- the extensions come from their pinned pip packages, and postgres_scanner must be LOADed before the ATTACH (or
  DuckDB tries to download it);
- the first ATTACH of an empty PostgreSQL catalog creates its tables, and two machines doing it at once fail (2
  of 3 in every round measured), as do two machines applying the same migration: both run under the catalog
  lock (a PostgreSQL transaction-level advisory lock, released by PostgreSQL when its holder dies);
- no PRIMARY KEY or UNIQUE (migrations are applied without them, storage/migrations.py), no ATTACH row group
  option (a persisted lake option instead);
- files it writes take the process's umask: a lake connection sets the owner-only umask for the process;
- conflicts are detected per table at commit (an upsert beside another machine's insert fails): the derived
  layers have one writer at a time (`derived_writer_lock`), and replayable writes are tried again
  (`retry_on_conflict`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from star_pipeline.storage.private_files import owner_only_umask
from star_pipeline.storage.warehouse.common import (
    CATALOG,
    ROW_GROUP_ROWS,
    WarehouseLockedError,
    attach_waiting_for_lock,
    empty_folder,
    prepare_session,
    quote_literal,
)
from star_pipeline.storage.warehouse.extensions import load_extension

POSTGRES_PREFIX = "postgres:"
SQLITE_PREFIX = "sqlite:"

# The advisory lock keys (two int4s) star_pipeline takes in a PostgreSQL catalog's database: the first names
# the project (a stable hash), the second what is locked.
LOCK_CLASS = zlib.crc32(b"star_pipeline") & 0x7FFFFFFF
INIT_LOCK = 1
"""Attaching an empty catalog and applying migrations: one machine at a time."""
DERIVED_WRITER_LOCK = 2
"""Writing the derived layers (normalized, classified, aggregate): one machine at a time (the elected writer)."""
CAPTURE_SIDE = 3
"""The side connection every capture lock of a process takes its lock through (`capture_lock`)."""

LAKE_OPTIONS = {
    # What a writable connection's ROW_GROUP_SIZE does for the single file (common.ROW_GROUP_ROWS).
    "parquet_row_group_size": str(ROW_GROUP_ROWS),
    # Maintenance (CHECKPOINT) removes files of expired snapshots and orphan files only once they are this
    # old. A shorter time deleted the Parquet file of another machine's open write, and that committed write
    # could no longer be read (the study's section 3): no write takes a day.
    "expire_older_than": "1 day",
    "delete_older_than": "1 day",
}

_PASSWORD = re.compile(r"(?i)\bpassword\s*=")


@dataclass(frozen=True)
class LakeLocation:
    """Where a DuckLake warehouse lives: its catalog (`postgres:<libpq string>`, `sqlite:<file>` or a DuckDB
    file) and the folder (or `s3://` URL) of its Parquet files."""

    catalog: str
    data_path: str

    @property
    def is_postgres(self) -> bool:
        return self.catalog.startswith(POSTGRES_PREFIX)

    @property
    def label(self) -> str:
        """How messages name the lake: never with a password (the config refuses one, but libpq strings from
        elsewhere may hold one)."""
        catalog = re.sub(r"(?i)(password\s*=\s*)(\S+)", r"\1***", self.catalog)
        return f"the DuckLake {catalog} (data in {self.data_path})"


def lake_location(catalog: str, data_path: str) -> LakeLocation | None:
    """The resources' and I/O manager's two strings as a LakeLocation; None ("" catalog) for the single file."""
    return LakeLocation(catalog, data_path) if catalog else None


def catalog_password_problem(catalog: str) -> str | None:
    """Why a catalog string must not be in the config file, or None."""
    if catalog.startswith(POSTGRES_PREFIX) and _PASSWORD.search(catalog):
        return ("holds a password. Leave it out of the file and give it to libpq instead: the PGPASSWORD "
                "environment variable, a ~/.pgpass file (PGPASSFILE) or a service file (PGSERVICE).")
    return None


def _load_extensions(conn: duckdb.DuckDBPyConnection, lake: LakeLocation) -> None:
    load_extension(conn, "ducklake")
    if lake.is_postgres:
        load_extension(conn, "postgres_scanner")
    elif lake.catalog.startswith(SQLITE_PREFIX):
        load_extension(conn, "sqlite_scanner")
    if lake.data_path.startswith("s3://"):
        # S3 with the usual credentials chain (environment, ~/.aws, instance role), as the AWS CLI finds them
        load_extension(conn, "httpfs")
        load_extension(conn, "aws")
        conn.execute("CREATE SECRET IF NOT EXISTS star_pipeline_s3 (TYPE s3, PROVIDER credential_chain)")


def attach_lake(lake: LakeLocation, read_only: bool, config: dict) -> duckdb.DuckDBPyConnection:
    """A DuckDB instance with the lake attached as CATALOG; a new lake gets its options (LAKE_OPTIONS)."""
    conn = duckdb.connect(":memory:", config=config)
    try:
        _load_extensions(conn, lake)
        options = [f"DATA_PATH {quote_literal(lake.data_path)}"] + (["READ_ONLY"] if read_only else [])
        conn.execute(f"ATTACH {quote_literal('ducklake:' + lake.catalog)} AS {CATALOG} ({', '.join(options)})")
        if not read_only:
            current = dict(conn.execute(f"SELECT option_name, value FROM {CATALOG}.options()").fetchall())
            for name, value in LAKE_OPTIONS.items():
                if current.get(name) != value:
                    conn.execute(f"CALL {CATALOG}.set_option(?, ?)", [name, value])
    except BaseException:
        conn.close()
        raise
    return conn


class LakeAttachError(RuntimeError):
    """The lake's catalog or data folder could not be opened."""


def lake_error(lake: LakeLocation, exc: Exception) -> RuntimeError:
    """A clear error for a lake DuckDB could not attach: its own message, the lake, and what to do."""
    detail = str(exc).strip().split("\n")[0]
    if lake.data_path.startswith("s3://") and "Secret Validation" in str(exc):
        advice = ("No AWS credentials were found for the s3:// data path: set AWS_ACCESS_KEY_ID and "
                  "AWS_SECRET_ACCESS_KEY (and AWS_REGION), or a profile in ~/.aws, or run where an instance role "
                  "applies, then run again.")
    elif lake.is_postgres:
        advice = ("Check that PostgreSQL is running and reachable with that connection string (host, port, "
                  "dbname, user; the password from PGPASSWORD or ~/.pgpass), then run again.")
    else:
        advice = "Check that the catalog file and the data folder exist and are writable by you, then run again."
    return LakeAttachError(f"cannot open {lake.label}: {detail}. Nothing was written. {advice}")


# Writable DuckLake instances this process keeps, by (warehouse path, catalog, data path): see open_lake.
_LAKES: dict[tuple[str, str, str], duckdb.DuckDBPyConnection] = {}


def open_lake(path: Path, lake: LakeLocation, read_only: bool, lock_timeout_seconds: float,
              config: dict) -> duckdb.DuckDBPyConnection:
    """`open_connection` for a DuckLake: attach (and, writable, initialize and migrate) under the catalog lock.

    With a PostgreSQL catalog a writable instance is kept for the process and each caller gets a cursor of it:
    loading the extensions and attaching takes about a second, once per step otherwise (a `dagster dev` run is
    one process), and such a lake holds no lock that other processes wait for meanwhile. A DuckDB-file
    catalog is locked by the instance that attached it, as the single file is: it is attached per use.
    Several processes of one machine may write a lake at once, so each spills into a folder of its own.
    `path` only anchors this machine's own files: the spill folder and published copies.
    """
    # DuckLake writes Parquet files at every INSERT, long after the ATTACH: the umask must hold throughout.
    owner_only_umask()
    key = (os.path.abspath(path), lake.catalog, lake.data_path)
    if key in _LAKES:  # also for a reader: a DuckDB-file catalog cannot be attached twice in one process
        return prepare_lake_connection(_LAKES[key].cursor(), lake, read_only)

    def attach(writable: bool) -> duckdb.DuckDBPyConnection:
        # a DuckDB-file catalog admits one process at a time, as the single file does: wait for it
        return attach_waiting_for_lock(
            lambda: attach_lake(lake, not writable, config), lock_timeout_seconds,
            failed=lambda exc: lake_error(lake, exc),
            timed_out=lambda holder: WarehouseLockedError(
                f"{lake.label}: the catalog file is locked by {holder}, and it was not released within "
                f"{lock_timeout_seconds:g} s. Nothing was written. A DuckDB-file catalog serves one process at a "
                "time; wait for that one, or use a PostgreSQL catalog."))

    if read_only:
        return prepare_lake_connection(attach(False), lake, True)
    if config.get("temp_directory"):
        config["temp_directory"] = str(_process_spill_folder(Path(config["temp_directory"])))
    with catalog_lock(lake, INIT_LOCK, lock_timeout_seconds, "creating or migrating the lake"):
        conn = prepare_lake_connection(attach(True), lake, False)
    if not lake.is_postgres:  # a file catalog's lock is held while the instance lives: give it back after each use
        return conn
    _LAKES[key] = conn
    return prepare_lake_connection(conn.cursor(), lake, False)


def prepare_lake_connection(conn: duckdb.DuckDBPyConnection, lake: LakeLocation,
                            read_only: bool, migrate: bool = True) -> duckdb.DuckDBPyConnection:
    """Per-connection setup for the lake (also a cursor of a kept or shared instance): common.prepare_session,
    with migrations applied without PRIMARY KEY or UNIQUE (a DuckLake has neither), unless `migrate` is False."""
    return prepare_session(conn, read_only=read_only, use_catalog=True, database_label=lake.label, without_keys=True,
                           migrate=migrate)


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
    empty_folder(own)
    return own


# Per (catalog, lock): this process's connection to the catalog's PostgreSQL, kept for the next lock (loading
# the postgres extension into a new DuckDB instance takes a few tenths of a second; a lock then takes
# milliseconds), and how many nested holders the lock has in this process.
_SIDE: dict[tuple[str, int], duckdb.DuckDBPyConnection] = {}
_DEPTH: dict[tuple[str, int], int] = {}


def _side_connection(lake: LakeLocation, what: int) -> duckdb.DuckDBPyConnection:
    key = (lake.catalog, what)
    if key not in _SIDE:
        side = duckdb.connect(":memory:")
        try:
            load_extension(side, "postgres_scanner")
            side.execute(f"ATTACH {quote_literal(lake.catalog.removeprefix(POSTGRES_PREFIX))} AS lock_db (TYPE postgres)")
        except BaseException:
            side.close()
            raise
        _SIDE[key] = side
    return _SIDE[key]


@contextlib.contextmanager
def catalog_lock(lake: LakeLocation | None, what: int, timeout_seconds: float, doing: str,
                 side_slot: int | None = None) -> Iterator[None]:
    """Hold the PostgreSQL catalog's advisory lock `what` for the duration (the single file and other catalogs:
    no-op; a DuckDB-file catalog's own file lock already admits one process at a time).

    A transaction-level lock: PostgreSQL releases it when the transaction ends or its holder dies (a
    session-level one taken through DuckDB's postgres extension was not held: the study's section 5.5).
    Waits up to `timeout_seconds`, then fails naming what it waited for. Re-entrant within a process.
    `side_slot`: the side connection to take it through when not its own (locks that are never held at once in
    one process may share one, and the cost of a new one: loading the postgres extension).
    """
    if lake is None or not lake.is_postgres:
        yield
        return
    key = (lake.catalog, what)
    if _DEPTH.get(key):
        _DEPTH[key] += 1
        try:
            yield
        finally:
            _DEPTH[key] -= 1
        return
    slot = what if side_slot is None else side_slot
    try:
        side = _side_connection(lake, slot)
        side.execute("BEGIN TRANSACTION")
    except duckdb.Error as exc:
        _SIDE.pop((lake.catalog, slot), None)
        raise lake_error(lake, exc) from None
    try:
        side.execute("SELECT 1 FROM postgres_query('lock_db', 'SELECT 1')").fetchall()  # opens the PG transaction
        deadline = time.monotonic() + timeout_seconds
        delay = 0.05
        while not side.execute(
            f"SELECT * FROM postgres_query('lock_db', 'SELECT pg_try_advisory_xact_lock({LOCK_CLASS}, {int(what)})')"
        ).fetchone()[0]:
            if time.monotonic() >= deadline:
                raise WarehouseLockedError(
                    f"{lake.label}: another machine or process is {doing}, and did not finish within "
                    f"{timeout_seconds:g} s. Nothing was written. Wait for it (or stop it), then run again; raise "
                    "warehouse.lock_timeout_seconds in the config to wait longer."
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        _DEPTH[key] = 1
        yield
    finally:
        _DEPTH.pop(key, None)
        try:
            side.execute("ROLLBACK")  # ends the PostgreSQL transaction: the lock is released
        except duckdb.Error:
            _SIDE.pop((lake.catalog, slot), None)
            side.close()


def derived_writer_lock(lake: LakeLocation | None, timeout_seconds: float):
    """Held while a step writes a layer above raw: on a PostgreSQL lake, one machine at a time rebuilds them.

    Machines capture their own raw lines at any time (inserts do not conflict); the normalized, classified and
    aggregate tables are written by one step at a time across the team, as the pool of one does within one
    Dagster instance. A second writer's step waits up to `timeout_seconds`, then fails naming what it waited
    for; a holder that dies releases it.
    """
    return catalog_lock(lake, DERIVED_WRITER_LOCK, timeout_seconds,
                        "rebuilding the derived layers (only one machine may at a time: the elected writer)")


def capture_lock(lake: LakeLocation | None, machine_id: str, source: str, timeout_seconds: float):
    """Held by a raw step from its recovery to its manifest write: on a PostgreSQL lake, one process of a machine
    captures a source at a time (other machines and other sources never wait).

    A raw step deletes its machine's stored lines that its manifest does not cover (`drop_rows_beyond_manifest`:
    lines of a run that died between its lines and its manifest). Nothing else kept two processes of one machine
    from capturing one source at once on a lake (a `make dev` sensor's run and a cron `build --raw-only`): the
    second one's recovery deleted the lines the first had committed and not yet recorded in its manifest, which
    then said they were read: lost. The single file's own lock already admits one writing process at a time."""
    what = zlib.crc32(f"capture/{machine_id}/{source}".encode()) & 0x7FFFFFFF
    return catalog_lock(lake, what, timeout_seconds, f"capturing {source} on machine {machine_id}",
                        side_slot=CAPTURE_SIDE)


CONFLICT_ATTEMPTS = 6
"""How often a write that conflicted with another machine's is tried (waits of 0.2, 0.4 ... 3.2 s between)."""


def is_conflict(exc: BaseException) -> bool:
    """A DuckLake commit that lost to another machine's concurrent write of the same table (it changed nothing)."""
    return isinstance(exc, duckdb.Error) and "Transaction conflict" in str(exc)


def retry_on_conflict(write, *, attempts: int = CONFLICT_ATTEMPTS, log=None):
    """`write()` again while it fails with a DuckLake transaction conflict; its result.

    DuckLake detects conflicts per table: another machine's manifest upsert, or its creation of the same new raw
    table, makes this one's commit fail although both wanted compatible changes. The failed transaction wrote
    nothing, so trying again is safe for any write that can be replayed (never a consumed stream).
    """
    delay = 0.2
    for attempt in range(1, attempts + 1):
        try:
            return write()
        except Exception as exc:
            if not is_conflict(exc) or attempt == attempts:
                raise
            if log is not None:
                log(f"another machine wrote the same table at the same time; trying again ({attempt}/{attempts - 1})")
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")
