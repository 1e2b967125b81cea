"""The star schema for `star-pipeline sql` and `export`: `<warehouse>.star.duckdb`, its facts and dimensions,
masked, made from the warehouse opened read-only and remade only when the warehouse changed.

The copies each rebuild publishes hold only what their readers need (reports: a few columns of
fact_token_usage; search: masked texts and history tables), not the star schema. Publishing it too would add
its whole size to every rebuild (all of fact_token_usage alone took 0.6-0.8 s at 1 GB, BENCHMARKS.md), for a
command people run now and then. So the first `sql` or `export` after a build makes it, as a report reads the
warehouse: read-only, waiting up to 3 s for a run to let go; never the writer lock. While a run holds the
warehouse longer, the copy made last is read and the note says from when. The user's SQL never sees the
warehouse itself (raw lines, unmasked texts): only this copy and the other published ones (reports/sql.py).

Masked as everywhere else (storage/masking.py): a tool call's target path is hidden when its input held a
flagged secret, a repository URL loses its user part (a token, a password). The other columns of the facts and
dimensions are ids, names, times and numbers the secret classifier does not read; no fact or dimension holds a
prompt, a reply, a tool input or a command.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from star_pipeline.reports.reader import READER_CONFIG
from star_pipeline.storage.masking import SECRET_PATH, TARGET_MASKED, repository_url_masked
from star_pipeline.storage.published_copies import replace_with, star_copy_path
from star_pipeline.storage.warehouse import (
    CATALOG, WarehouseLockedError, describe_lock_holder, open_connection, quote_literal, table_exists, unusable_file,
)

FACTS = ("fact_token_usage", "fact_tool_call", "fact_session_event")
DIMENSIONS = ("dim_date", "dim_time", "dim_project", "dim_model", "dim_tool", "dim_agent_type", "dim_machine")

# The calls whose target path is hidden: their message's masked input held a secret and no longer holds the path.
_MASKED_CALLS = f"""
    SELECT DISTINCT c.source, c.call_id FROM normalized.normalized_tool_calls c
    JOIN aggregate.search_documents i
      ON i.source = c.source AND i.path = c.path AND i.file_version = c.file_version AND i.byte_offset = c.byte_offset
    WHERE {TARGET_MASKED}"""

# Each table of the copy: every column of the warehouse's table, the masked ones replaced.
STAR_TABLES = {
    **{table: f"SELECT * FROM aggregate.{table}" for table in (*FACTS, *DIMENSIONS)},
    "fact_tool_call": f"""
        SELECT f.* REPLACE (CASE WHEN m.call_id IS NOT NULL THEN '{SECRET_PATH}' ELSE f.target_path END AS target_path)
        FROM aggregate.fact_tool_call f LEFT JOIN ({_MASKED_CALLS}) m USING (source, call_id)""",
    "dim_project": f"""
        SELECT * REPLACE ({repository_url_masked('repository_url')} AS repository_url) FROM aggregate.dim_project""",
}
_READ_FROM = ["aggregate.search_documents", "normalized.normalized_tool_calls"]  # besides the tables themselves


class StarCopyError(RuntimeError):
    """No star copy can be made or read; the message says why and what to do."""


def star_copy_for_reading(warehouse_path: Path | str, lake=None, wait_seconds: float = 3.0) -> tuple[Path, str]:
    """The star copy, remade first when the warehouse changed since it was made (the file: its size and time; a
    DuckLake: its snapshot), and a sentence saying what it is."""
    warehouse_path = Path(warehouse_path)
    target = star_copy_path(warehouse_path)
    if lake is None:
        if not warehouse_path.exists():
            raise StarCopyError(f"{warehouse_path}: no warehouse yet. Build it first: `star-pipeline build` (or "
                                "materialize in dagster dev).")
        made = _made_from(target)
        if made and made[0] == _identity(warehouse_path):
            return target, f"read {target} (the star schema of {warehouse_path} as of {_when(made[1])})"
    try:
        conn = _open_warehouse(warehouse_path, lake, wait_seconds)
    except WarehouseLockedError as held:
        made = _made_from(target)
        if made is None:
            raise StarCopyError(f"{str(held).rstrip('.')}. No star copy was made yet ({target} is made from the "
                                "warehouse when no run holds it); try again when the run finishes.") from None
        return target, f"{held.args[0]}: read the star copy made at {_when(made[1])} ({target})"
    source = lake.label if lake is not None else str(warehouse_path)
    try:
        if lake is None:
            identity = _identity(warehouse_path)  # now that no writer can change it
        else:  # a lake's every commit is a new snapshot: the copy is current while the snapshot is
            snapshot = conn.execute("SELECT max(snapshot_id) FROM ducklake_snapshots(current_database())").fetchone()[0]
            identity = f"snapshot {snapshot}"
            made = _made_from(target)
            if made and made[0] == identity:
                return target, f"read {target} (the star schema of {source} as of {_when(made[1])})"
        _write_copy(conn, target, identity, source)
    finally:
        conn.close()
    return target, f"read {target} (made now from {source})"


def _identity(warehouse_path: Path) -> str:
    """What changes whenever a writer changed the warehouse file: its size, time and inode, and its WAL's."""
    parts = []
    for path in (warehouse_path, Path(f"{warehouse_path}.wal")):
        try:
            status = path.stat()
        except FileNotFoundError:
            continue
        parts.append(f"{path.name}:{status.st_size}:{status.st_mtime_ns}:{status.st_ino}")
    return "|".join(parts)


def _made_from(target: Path) -> tuple[str | None, datetime] | None:
    """(the warehouse identity it was made from, when it was made) of an existing copy; None when there is none."""
    if not target.exists():
        return None
    try:
        conn = duckdb.connect(str(target), read_only=True, config=READER_CONFIG)
    except duckdb.Error:
        return None  # not a copy we can read: it is made again
    try:
        return conn.execute("SELECT warehouse_identity, made_at FROM meta.star_copy").fetchone()
    except duckdb.Error:
        return None
    finally:
        conn.close()


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _open_warehouse(warehouse_path: Path, lake, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """The warehouse read-only, in an instance that may also write the copy's new file (a connection opened on the
    file read-only may not). Waits up to `wait_seconds` for a writer; then WarehouseLockedError naming it."""
    if lake is not None:  # a lake's readers never wait on its writers (a DuckDB-file catalog: open_connection waits)
        return open_connection(warehouse_path, read_only=True, lock_timeout_seconds=wait_seconds, lake=lake)
    deadline = time.monotonic() + wait_seconds
    while True:
        conn = duckdb.connect(":memory:", config=READER_CONFIG)
        try:
            conn.execute(f"ATTACH {quote_literal(str(warehouse_path))} AS {CATALOG} (READ_ONLY)")
            conn.execute(f"USE {CATALOG}")
            conn.execute("SET TimeZone = 'UTC'")
            return conn
        except duckdb.IOException as exc:
            conn.close()
            message = str(exc)
            if "lock" not in message.lower():
                raise unusable_file(warehouse_path, exc) from None
        if time.monotonic() >= deadline:
            raise WarehouseLockedError(f"the warehouse is held by {describe_lock_holder(message)}")
        time.sleep(0.2)


def _write_copy(conn: duckdb.DuckDBPyConnection, target: Path, identity: str | None, made_from: str) -> None:
    """Write the copy beside `target` under a name of this process's own (two commands may make it at once) and
    rename it into place: a reader never sees half of one; owner-only."""
    missing = [name for name in [*(f"aggregate.{t}" for t in (*FACTS, *DIMENSIONS)), *_READ_FROM]
               if not table_exists(conn, *name.split("."))]
    if missing:
        raise StarCopyError(f"{made_from}: the warehouse has no star schema yet ({', '.join(missing)} missing: a build "
                            "stopped before the aggregate layer?). Run `star-pipeline build`.")
    _remove_leftovers(target)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    old_umask = os.umask(0o077)
    try:
        conn.execute(f"ATTACH {quote_literal(str(temporary))} AS star_copy")
        try:
            for table, query in STAR_TABLES.items():
                conn.execute(f"CREATE TABLE star_copy.main.{table} AS {query}")
            conn.execute("CREATE SCHEMA star_copy.meta")
            conn.execute("CREATE TABLE star_copy.meta.star_copy AS SELECT CAST(? AS VARCHAR) AS made_from, "
                         "CAST(? AS VARCHAR) AS warehouse_identity, now() AS made_at", [made_from, identity])
        finally:
            conn.execute("DETACH star_copy")
    except BaseException:
        for leftover in (temporary, Path(f"{temporary}.wal")):
            leftover.unlink(missing_ok=True)
        raise
    finally:
        os.umask(old_umask)
    replace_with(temporary, target)


def _remove_leftovers(target: Path) -> None:
    """The temporary copies (and WALs) of processes that are gone: killed while making one."""
    for leftover in target.parent.glob(f"{target.name}.*.tmp*"):
        pid = leftover.name.removeprefix(f"{target.name}.").split(".")[0]
        if pid.isdigit() and (int(pid) == os.getpid() or not _running(int(pid))):
            leftover.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's: not ours to judge
    return True
