"""Capture of SQLite databases an agent keeps (OpenCode's opencode.db, Goose's sessions.db).

A database is stored as pieces in the source's raw lines table, one per row of the tables the
source names (`Source.database_tables`): the row as canonical JSON,
`{"key": {<primary key columns>}, "row": {<every column>}, "table": "<name>"}` (keys sorted, no
spaces, text as UTF-8; a BLOB as {"$base64": ...}, text that is not UTF-8 as {"$text_base64": ...}),
at a position (`line_number`) that is a hash of its table and key, so a row keeps its position
whatever else changes. A new version stores only the rows whose bytes changed since the latest
stored piece at their position, and, for a row that is gone, a tombstone `{"deleted":true}` at its
position (the earlier piece there says which row it was): an agent updating a session's running
totals stores that row again, not the database, and nothing it deletes is lost.

The database is read from a consistent private copy (SQLite's online backup, in a folder only its
owner can open, removed afterwards), never in place for longer than that copy takes: in WAL mode
(OpenCode) readers never block the agent's writes, and the copy includes transactions still in the
write-ahead log. The manifest records the database with its log (`capture.with_sidecars`): its size
and mtime, and as `consumed_sha256` the digest of its content (`content_digest`), which the raw
check rebuilds from the stored pieces and from the database on disk.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

from star_pipeline.raw.line_parts import stored_signature

TOMBSTONE = b'{"deleted":true}'


class _NotUtf8(bytes):
    """Text SQLite holds that is not valid UTF-8: kept as its bytes."""


def _text(data: bytes):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _NotUtf8(data)


def _json_value(value):
    if isinstance(value, _NotUtf8):
        return {"$text_base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, bytes):
        return {"$base64": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"cannot store a {type(value).__name__}")


def canonical_row(table: str, key: dict, row: dict) -> bytes:
    return json.dumps({"key": key, "row": row, "table": table}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=_json_value).encode("utf-8")


def row_position(table: str, key: dict) -> int:
    """The position of a row: 63 bits of the sha256 of its table and key (never 0, the documents' skeleton)."""
    digest = hashlib.sha256(json.dumps([table, key], sort_keys=True, default=_json_value).encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> 1) or 1


@contextmanager
def database_snapshot(path: str) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a consistent copy of the database at `path`, in a private temporary folder.

    Raises OSError when it is not an SQLite database or cannot be read; sqlite3.OperationalError
    "database is locked" when a writer held it for the whole timeout (the next run tries again)."""
    folder = tempfile.mkdtemp(prefix="star_pipeline-sqlite-")  # mode 0700: the copy is its owner's only
    copy = os.path.join(folder, "copy.db")
    try:
        if _closed_wal_database(path):
            _copy_files(path, copy)  # no connection in place: opening it would leave a -shm in the agent's folder
        else:
            _online_backup(path, copy)
        connection = sqlite3.connect(copy)
        connection.text_factory = _text
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            yield connection
        except sqlite3.DatabaseError as exc:
            raise _as_os_error(path, exc) from None
        finally:
            connection.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _closed_wal_database(path: str) -> bool:
    """A database in WAL mode that no connection has open: its shared-memory file (-shm) is absent, which every
    connection to a WAL database creates and keeps. Copying its files is then consistent (nobody writes), and
    it is the only way to read it without writing into its folder (a reader opening it makes the -shm; a
    committed project's `.crush/` would gain one); the copy reads the write-ahead log's rows too."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(20)
    except OSError:
        return False  # reported by the open that follows
    return len(header) == 20 and header[:16] == b"SQLite format 3\x00" and header[18] == 2 and not os.path.exists(path + "-shm")


def _copy_files(path: str, copy: str) -> None:
    for suffix in ("", "-wal"):
        if suffix == "" or os.path.exists(path + suffix):
            try:
                shutil.copyfile(path + suffix, copy + suffix)
            except OSError as exc:
                raise OSError(f"cannot copy {path + suffix} to read it ({exc.strerror})") from None


def _online_backup(path: str, copy: str) -> None:
    """SQLite's online backup of the database in place into `copy` (consistent while the agent writes)."""
    try:
        source = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, timeout=10)
        try:
            target = sqlite3.connect(copy)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.DatabaseError as exc:
        if "locked" in str(exc) or "not a database" in str(exc) or "malformed" in str(exc):
            raise _as_os_error(path, exc) from None
        # A folder the reader cannot write its -shm into, and the like: copy the files and read the copy.
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                shutil.copyfile(path + suffix, copy + suffix)


def _as_os_error(path: str, exc: sqlite3.DatabaseError) -> OSError:
    return OSError(f"cannot read it as an SQLite database ({exc})")


def database_rows(connection: sqlite3.Connection, tables: tuple[str, ...]) -> Iterator[tuple[int, bytes]]:
    """(position, canonical JSON) of every row of the `tables` the database has, table by table."""
    present = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table in tables:
        if table not in present:
            continue
        quoted = '"' + table.replace('"', '""') + '"'
        info = connection.execute(f"PRAGMA table_info({quoted})").fetchall()
        key_columns = [name for _cid, name, _type, _notnull, _default, pk in sorted(info, key=lambda c: c[5]) if pk]
        select = f"SELECT rowid AS __rowid, * FROM {quoted}" if not key_columns else f"SELECT * FROM {quoted}"
        cursor = connection.execute(select)
        names = [d[0] for d in cursor.description]
        for values in cursor:
            row = dict(zip(names, values))
            key = {"rowid": row.pop("__rowid")} if not key_columns else {c: row[c] for c in key_columns}
            yield row_position(table, key), canonical_row(table, key, row)


def content_digest(signatures: dict[int, tuple[str, ...]]) -> str:
    """The digest of a database's stored content: its live rows' signatures (tombstones left out), by position."""
    hasher = hashlib.sha256()
    for position in sorted(signatures):
        signature = signatures[position]
        if signature != TOMBSTONE_SIGNATURE:
            hasher.update(f"{position} {' '.join(signature)}\n".encode())
    return hasher.hexdigest()


TOMBSTONE_SIGNATURE = (hashlib.sha256(TOMBSTONE).hexdigest(),)


def database_digest(path: str, tables: tuple[str, ...]) -> str:
    """The content digest of the database at `path` as it is now (what its capture would record)."""

    with database_snapshot(path) as connection:
        return content_digest({position: stored_signature(piece) for position, piece in database_rows(connection, tables)})


def stored_database_digest(conn, lines_sql: str, path: str, version: int) -> str:
    """The content digest of version `version` of the database at `path`, from the pieces in `lines_sql` (a
    quoted table name): the latest piece at each position, at or before that version."""
    rows = conn.execute(
        f"""
        WITH pieces AS (
            SELECT line_number, file_version, list(sha256 ORDER BY byte_offset) AS signature
            FROM {lines_sql} WHERE path = ? AND file_version <= ? GROUP BY ALL
        )
        SELECT line_number, arg_max(signature, file_version) FROM pieces GROUP BY line_number
        """,
        [path, version],
    ).fetchall()
    return content_digest({position: tuple(signature) for position, signature in rows})
