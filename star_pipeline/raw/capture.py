"""Incremental, byte-perfect capture of line-oriented source files.

One `Capture` is one ingest run over one source (Claude Code transcripts,
Codex rollouts or our hook spool): it compares every file on disk with the
manifest of the previous runs and reads only what is new.

- Unchanged files (same size, mtime, inode and ctime, nothing held back, no
  error last time) are not opened.
- A changed file's consumed prefix is hashed again to prove it is unchanged,
  then only the bytes after the consumed offset are split into lines.
- A last line without its newline is captured at once when it is one complete
  JSON value; otherwise it is held back until the newline arrives, or until
  the file has been quiet for `quiet_seconds`, then captured as it is
  (`ends_with_newline = false`). Bytes appended later start a new line row,
  except a newline right after it: that newline ends the stored line (its
  `ends_with_newline` becomes true), as a capture of the whole file would store it.
- A line longer than PART_BYTES is stored as several rows, its parts, in order
  (`part_number` 1..`part_count`, each with its own byte offset; only the last
  part carries the newline), cut between UTF-8 characters: DuckDB keeps a
  value larger than about 128 KB pinned in memory until its transaction
  commits, so long lines stored whole could not be committed in bounded
  memory. The parts concatenate to the line's bytes.
- A file whose consumed prefix changed (rewritten, truncated) is captured again
  from byte 0 as `file_version + 1`; the old version's rows stay.
- A file that vanished keeps its rows and gets `source_deleted_at`; if it
  comes back with the same prefix, capture continues where it stopped.
- A file that cannot be read is reported and recorded in its manifest row
  (`capture_error`) with what was captured of it so far; every other file
  proceeds, and the next run tries it again.
- A file name that is not valid UTF-8 is stored with its undecodable bytes
  written as `\\xNN` (`path`), and its bytes as the file system holds them
  (`path_bytes`), so the file can be opened again.

Lines are streamed as Arrow record batches, so memory stays bounded whatever
the size of the files.
"""

from __future__ import annotations

import fnmatch
import glob as globlib
import hashlib
import json
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cache
from itertools import accumulate
from typing import TYPE_CHECKING, NamedTuple

from star_pipeline.raw.databases import TOMBSTONE, TOMBSTONE_SIGNATURE, content_digest, database_rows, database_snapshot
from star_pipeline.raw.documents import SKELETON, split_document, unsplit_document
from star_pipeline.raw.line_parts import PART_BYTES, split_parts, stored_signature
from star_pipeline.sources.source import Source, capture_of

# pyarrow (with numpy, 40 MiB) is imported by the functions that build tables, not with this module: the raw
# sensors and the code server that loads the definitions use only discover_files.
if TYPE_CHECKING:
    import pyarrow as pa

READ_CHUNK_BYTES = 4 << 20
BATCH_BYTES = 8 << 20
BATCH_ROWS = 16384


@cache
def line_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("source", pa.string()),
            ("path", pa.string()),
            ("file_version", pa.int32()),
            ("line_number", pa.int64()),
            ("byte_offset", pa.int64()),
            ("byte_length", pa.int64()),
            ("line_bytes", pa.binary()),
            ("ends_with_newline", pa.bool_()),
            ("sha256", pa.string()),
            ("ingest_run_id", pa.string()),
            ("ingested_at", pa.timestamp("us", tz="UTC")),
            ("part_number", pa.int32()),
            ("part_count", pa.int32()),
            ("machine_id", pa.string()),
        ]
    )


@cache
def manifest_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("source", pa.string()),
            ("path", pa.string()),
            ("file_version", pa.int32()),
            ("size_bytes", pa.int64()),
            ("mtime", pa.timestamp("us", tz="UTC")),
            ("consumed_offset", pa.int64()),
            ("consumed_sha256", pa.string()),
            ("line_count", pa.int64()),
            ("first_seen_at", pa.timestamp("us", tz="UTC")),
            ("last_seen_at", pa.timestamp("us", tz="UTC")),
            ("source_deleted_at", pa.timestamp("us", tz="UTC")),
            ("superseded_at", pa.timestamp("us", tz="UTC")),
            ("last_ingest_run_id", pa.string()),
            ("path_bytes", pa.binary()),
            ("inode", pa.int64()),
            ("ctime", pa.timestamp("us", tz="UTC")),
            ("capture_error", pa.string()),
            ("machine_id", pa.string()),
        ]
    )
# A path is unique per machine, not globally: each machine's manifest rows are its own (several machines may
# write one team warehouse, and a path such as ~/.claude/projects/x/<uuid>.jsonl exists on each).
MANIFEST_KEY = ["machine_id", "path", "file_version"]
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class FileState:
    """One manifest row: what has been captured of one version of one file."""

    source: str
    path: str
    file_version: int
    size_bytes: int
    mtime: datetime
    consumed_offset: int
    consumed_sha256: str
    line_count: int
    first_seen_at: datetime
    last_seen_at: datetime
    source_deleted_at: datetime | None
    superseded_at: datetime | None
    last_ingest_run_id: str
    path_bytes: bytes | None = None
    inode: int | None = None
    ctime: datetime | None = None
    capture_error: str | None = None
    machine_id: str | None = None

    @property
    def disk_path(self) -> str:
        """The path to open: the file system's own bytes when the stored `path` had to escape some."""
        return os.fsdecode(self.path_bytes) if self.path_bytes else self.path


class DiskFile(NamedTuple):
    """A file found under a source root: the path to open, its stat and how it is captured (`Source.files`)."""

    disk_path: str
    stat: os.stat_result
    capture: str = "lines"


DATABASE_SIDECARS = ("-wal",)
"""Files beside an SQLite database that hold part of its content: a live database keeps its latest
transactions in its write-ahead log until a checkpoint copies them into the file."""


def with_sidecars(path: str, st: os.stat_result) -> os.stat_result:
    """The stat of a database with its write-ahead log counted in: the sizes added, the latest mtime, so that
    a transaction that only reached the log still shows as a change."""
    size, mtime_ns = st.st_size, st.st_mtime_ns
    for suffix in DATABASE_SIDECARS:
        try:
            side = os.stat(path + suffix)
        except OSError:
            continue
        size += side.st_size
        mtime_ns = max(mtime_ns, side.st_mtime_ns)
    if (size, mtime_ns) == (st.st_size, st.st_mtime_ns):
        return st
    fields = list(st[:10])
    fields[6], fields[8] = size, mtime_ns // 1_000_000_000
    return os.stat_result((*fields, st.st_atime, mtime_ns / 1e9, st.st_ctime, st.st_atime_ns, mtime_ns, st.st_ctime_ns))


@dataclass
class Discovery:
    """What `discover_files` found: files by stored path, roots that do not exist, and what it had to skip."""

    files: dict[str, DiskFile] = field(default_factory=dict)
    missing_roots: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class CaptureStats:
    files_seen: int = 0
    files_read: int = 0
    files_new: int = 0
    files_rewritten: int = 0
    files_deleted: int = 0
    lines_captured: int = 0
    bytes_captured: int = 0
    lines_held_back: int = 0


def stored_path(path: str) -> str:
    """`path` as stored: itself when valid UTF-8, else with each undecodable byte written as \\xNN."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:  # os.walk gave the undecodable bytes as lone surrogates
        return os.fsencode(path).decode("utf-8", "backslashreplace")


def discover_source_files(source: Source, roots: list[str], project_folders: list[str] = ()) -> Discovery:
    """Every file of `source` (a `Source`): those below its roots and the folders its index lists
    (`Source.listed_folders`), and its `project_files` in each of the `project_folders`
    (storage/project_folders.py). A root that does not exist is reported; a listed folder that does not is not."""
    found = discover_files(roots, source.files)
    if source.listed_folders is not None:
        listed = discover_files(source.listed_folders(roots), source.files)
        found.skipped.extend(listed.skipped)
        for key, disk in listed.files.items():
            found.files.setdefault(key, disk)
    for folder in project_folders:
        for pattern in source.project_files:
            for match in sorted(globlib.glob(os.path.join(globlib.escape(folder), pattern), include_hidden=True)):
                # as the walk of a root names it (its real path), so a file found both ways is one file
                path = os.path.realpath(match)
                capture = capture_of(source.files, path)
                key = stored_path(path)
                if capture is None or key in found.files:
                    continue
                try:
                    st = os.stat(path)
                except OSError as exc:
                    found.skipped.append(f"{key}: cannot stat it ({exc.strerror})")
                    continue
                if stat.S_ISREG(st.st_mode):
                    found.files[key] = DiskFile(path, with_sidecars(path, st) if capture == "database" else st, capture)
    return found


def discover_files(roots: list[str], files: str | tuple[tuple[str, str], ...]) -> Discovery:
    """Every regular file below the roots that `files` names (a source's (glob, capture) pairs, see
    `Source.files`; a plain glob: names of files of lines), keyed by stored path.

    Symbolic links to folders are followed, each folder once (a link back into the tree is
    reported as a loop, not walked again). Unreadable folders, links that point nowhere and
    two names that would be stored alike are skipped and listed in `skipped`, with the reason.
    """
    found = Discovery()
    for root in roots:
        real_root = os.path.realpath(os.path.expanduser(root))
        if not os.path.isdir(real_root):
            found.missing_roots.append(root)
            continue
        visited: set[tuple[int, int]] = set()

        def unreadable(error: OSError) -> None:
            found.skipped.append(f"{stored_path(error.filename or '?')}: folder not readable ({error.strerror})")

        for folder, dirs, names in os.walk(real_root, onerror=unreadable, followlinks=True):
            try:
                st = os.stat(folder)
            except OSError:
                dirs[:] = []
                continue
            if (st.st_dev, st.st_ino) in visited:
                found.skipped.append(f"{stored_path(folder)}: a link to a folder already walked (a symlink loop?)")
                dirs[:] = []
                continue
            visited.add((st.st_dev, st.st_ino))
            for name in names:
                path = os.path.join(folder, name)
                capture = capture_of(files, path) if not isinstance(files, str) else (
                    "lines" if fnmatch.fnmatchcase(name, files) else None)
                if capture is None:
                    continue
                try:
                    st = os.stat(path)
                except FileNotFoundError:
                    if os.path.islink(path):
                        found.skipped.append(f"{stored_path(path)}: a symbolic link to nothing ({os.readlink(path)})")
                    continue  # else it vanished between listing and stat
                except OSError as exc:
                    found.skipped.append(f"{stored_path(path)}: cannot stat it ({exc.strerror})")
                    continue
                if not stat.S_ISREG(st.st_mode):  # the stat above says it (os.path.isfile would stat again)
                    continue
                key = stored_path(path)
                if key in found.files and found.files[key].disk_path != path:
                    found.skipped.append(
                        f"{key}: two files are stored under this name (one name is not valid UTF-8); this one was skipped"
                    )
                    continue
                found.files[key] = DiskFile(path, with_sidecars(path, st) if capture == "database" else st, capture)
    return found


def mtime_of(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime_ns // 1000 / 1_000_000, tz=timezone.utc)


def ctime_of(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_ctime_ns // 1000 / 1_000_000, tz=timezone.utc)


def is_complete_json(data: bytes) -> bool:
    """Whether `data` is one whole JSON value (a last line an agent finished but did not end with a newline)."""
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return False
    return True


@dataclass
class _Progress:
    """How far the capture of one file version got: what its manifest row records."""

    version: int
    offset: int
    line_number: int
    first_seen: datetime
    hasher: "hashlib._Hash"
    new: bool  # a new file, or a new version: its lines count from 0
    open_last_line: bool = False  # the stored last line has no newline yet (a newline read next ends it)


class Capture:
    """One ingest run of one source. Consume `lines()` first, then read `manifest()` and `after_manifest`."""

    def __init__(
        self,
        *,
        source: str,
        files_on_disk: dict[str, DiskFile],
        previous: dict[str, FileState],
        run_id: str,
        now: datetime,
        quiet_seconds: float,
        log: logging.Logger | None = None,
        lines_table: str = "lines",
        machine_id: str,
    ) -> None:
        self.source = source
        self.machine_id = machine_id
        self.files_on_disk = files_on_disk
        self.previous = previous
        self.run_id = run_id
        self.now = now
        self.quiet_seconds = quiet_seconds
        self.log = log or logging.getLogger(__name__)
        self.lines_table = lines_table
        self.stats = CaptureStats()
        self.unreadable: dict[str, str] = {}
        self.newlines_completed: list[tuple[str, int, int]] = []  # (path, file_version, line_number)
        self._manifest_rows: list[FileState] = []
        self._consumed = False

    # -- public -----------------------------------------------------------
    def lines(self) -> pa.RecordBatchReader:
        import pyarrow as pa

        return pa.RecordBatchReader.from_batches(line_schema(), self._batches())

    def manifest(self) -> pa.Table:
        if not self._consumed:
            raise RuntimeError("Capture.manifest() is only complete after lines() has been read to the end")
        import pyarrow as pa

        schema = manifest_schema()
        columns = {name: [getattr(row, name) for row in self._manifest_rows] for name in schema.names}
        return pa.table(columns, schema=schema)

    def after_manifest(self) -> tuple[tuple[str, list], ...]:
        """Statements to run with the manifest write: stored last lines whose newline arrived in this run."""
        return tuple(
            (
                f"UPDATE {self.lines_table} SET ends_with_newline = true "
                "WHERE machine_id = ? AND path = ? AND file_version = ? AND line_number = ? AND part_number = part_count",
                [self.machine_id, path, version, line_number],
            )
            for path, version, line_number in self.newlines_completed
        )

    # -- internals --------------------------------------------------------
    def _batches(self) -> Iterator[pa.RecordBatch]:
        builder = _BatchBuilder(self.source, self.run_id, self.now, self.machine_id)
        for path in sorted(set(self.files_on_disk) | set(self.previous)):
            disk = self.files_on_disk.get(path)
            prev = self.previous.get(path)
            if disk is None:
                if prev is not None and prev.source_deleted_at is None and prev.superseded_at is None:
                    self._manifest_rows.append(replace(prev, source_deleted_at=self.now, last_ingest_run_id=self.run_id))
                    self.stats.files_deleted += 1
                continue
            st = disk.stat
            self.stats.files_seen += 1
            if prev is not None and self._unchanged(prev, st):
                if prev.inode is None:  # captured before inode and ctime were recorded: record them, read nothing
                    self._manifest_rows.append(replace(prev, inode=st.st_ino, ctime=ctime_of(st)))
                continue
            progress = None
            try:
                progress = self._start(path, disk, prev)
                yield from self._read_file(path, disk, prev, progress, builder)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                self.unreadable[path] = reason
                self.log.warning(
                    "%s: cannot read this file (%s); what was stored of it is unchanged and the next run tries it "
                    "again. Fix its permissions to have it captured.",
                    path,
                    reason,
                )
                self._record(path, disk, prev, progress, error=reason)
        yield from builder.flush()
        self._consumed = True

    @staticmethod
    def _unchanged(prev: FileState, st: os.stat_result) -> bool:
        return (
            prev.source_deleted_at is None
            and prev.superseded_at is None
            and prev.capture_error is None
            and prev.size_bytes == st.st_size
            and prev.mtime == mtime_of(st)
            and prev.consumed_offset == st.st_size
            and (prev.inode is None or (prev.inode == st.st_ino and prev.ctime == ctime_of(st)))
        )

    def _start(self, path: str, disk: DiskFile, prev: FileState | None) -> _Progress:
        """Where this run's capture of the file begins (a new version when the consumed prefix changed)."""
        hasher = hashlib.sha256()
        if prev is None:
            self.stats.files_new += 1
            return _Progress(1, 0, 0, self.now, hasher, new=True)
        rewritten = prev.superseded_at is not None  # an earlier run superseded it but did not finish the new version
        last_byte = b""
        if not rewritten:
            if disk.stat.st_size < prev.consumed_offset:
                rewritten = True
            else:
                with open(disk.disk_path, "rb") as handle:
                    remaining = prev.consumed_offset
                    while remaining:
                        chunk = handle.read(min(READ_CHUNK_BYTES, remaining))
                        if not chunk:
                            break
                        hasher.update(chunk)
                        remaining -= len(chunk)
                        last_byte = chunk[-1:]
                rewritten = remaining != 0 or hasher.hexdigest() != prev.consumed_sha256
        if rewritten:
            if prev.superseded_at is None:
                self._manifest_rows.append(replace(prev, superseded_at=self.now, last_ingest_run_id=self.run_id))
            self.stats.files_rewritten += 1
            return _Progress(prev.file_version + 1, 0, 0, self.now, hashlib.sha256(), new=True)
        return _Progress(prev.file_version, prev.consumed_offset, prev.line_count, prev.first_seen_at, hasher, new=False,
                         open_last_line=prev.line_count > 0 and last_byte not in (b"", b"\n"))

    def _read_file(self, path: str, disk: DiskFile, prev: FileState | None, p: _Progress, builder: "_BatchBuilder"):
        st = disk.stat
        self.stats.files_read += 1
        start_offset, start_lines = p.offset, p.line_number
        with open(disk.disk_path, "rb") as handle:
            handle.seek(p.offset)
            pending: list[bytes] = []  # the start of a line whose newline has not been read yet
            first = True
            while True:
                chunk = handle.read(READ_CHUNK_BYTES)
                if not chunk:
                    break
                if first and p.open_last_line and chunk[:1] == b"\n":
                    # the stored last line had no newline yet: this one ends it
                    self.newlines_completed.append((path, p.version, p.line_number))
                    p.hasher.update(b"\n")
                    p.offset += 1
                    chunk = chunk[1:]
                first = False
                newline = chunk.find(b"\n")
                if newline < 0:
                    pending.append(chunk)
                    continue
                if pending:  # a line that spans reads: joined once, not once per read
                    line = b"".join(pending) + chunk[:newline]
                    pending = []
                    p.hasher.update(line)
                    p.hasher.update(b"\n")
                    yield from builder.add(path, p.version, p.line_number + 1, p.offset, line, True)
                    p.line_number += 1
                    p.offset += len(line) + 1
                    chunk = chunk[newline + 1 :]
                parts = chunk.split(b"\n")
                tail = parts.pop()
                if parts:  # whole lines, each with its newline: hashed as one slice, added as one run
                    complete = len(chunk) - len(tail)
                    p.hasher.update(memoryview(chunk)[:complete])
                    yield from builder.add_lines(path, p.version, p.line_number, p.offset, parts)
                    p.line_number += len(parts)
                    p.offset += complete
                if tail:
                    pending.append(tail)
            if pending:
                last = b"".join(pending)
                quiet = (self.now - mtime_of(st)).total_seconds() >= self.quiet_seconds
                if quiet or is_complete_json(last):
                    p.hasher.update(last)
                    yield from builder.add(path, p.version, p.line_number + 1, p.offset, last, False)
                    p.line_number += 1
                    p.offset += len(last)
                else:
                    self.stats.lines_held_back += 1
        self.stats.lines_captured += p.line_number - (0 if p.new else start_lines)
        self.stats.bytes_captured += p.offset - (0 if p.new else start_offset)
        self._record(path, disk, prev, p, error=None)

    def _record(self, path: str, disk: DiskFile, prev: FileState | None, p: _Progress | None, error: str | None) -> None:
        """The file's manifest row after this run: what `p` captured (nothing, when it could not start)."""
        st = disk.stat
        if p is None:  # could not even start: keep what is stored, note the error
            if prev is not None:
                self._manifest_rows.append(replace(prev, capture_error=error, last_ingest_run_id=self.run_id))
                return
            p = _Progress(1, 0, 0, self.now, hashlib.sha256(), new=True)
        self._manifest_rows.append(
            FileState(
                source=self.source,
                path=path,
                file_version=p.version,
                size_bytes=max(st.st_size, p.offset),
                mtime=mtime_of(st),
                consumed_offset=p.offset,
                consumed_sha256=p.hasher.hexdigest(),
                line_count=p.line_number,
                first_seen_at=p.first_seen,
                last_seen_at=self.now,
                source_deleted_at=None,
                superseded_at=None,
                last_ingest_run_id=self.run_id,
                path_bytes=os.fsencode(disk.disk_path) if disk.disk_path != path else None,
                inode=st.st_ino,
                ctime=ctime_of(st),
                capture_error=error,
                machine_id=self.machine_id,
            )
        )


class PieceCapture(Capture):
    """One ingest run of a source whose files are not all appended lines: each file is captured as its
    `DiskFile.capture` says. Lines as `Capture` does; a JSON document (raw/documents.py) and an SQLite
    database (raw/databases.py) as pieces, each at a position, stored again only when its bytes change.

    `stored` holds, per path, the signature of the latest stored piece at each position.
    """

    def __init__(self, *, pointers: tuple[str, ...], tables: tuple[str, ...],
                 stored: dict[str, dict[int, tuple[str, ...]]], **kwargs) -> None:
        super().__init__(**kwargs)
        self.pointers = pointers
        self.tables = tables
        self.stored = stored

    def _start(self, path: str, disk: DiskFile, prev: FileState | None):
        if disk.capture == "lines":
            return super()._start(path, disk, prev)
        return None  # a document or a database is read whole: nothing to resume

    def _read_file(self, path: str, disk: DiskFile, prev: FileState | None, p, builder: "_BatchBuilder"):
        if disk.capture == "lines":
            yield from super()._read_file(path, disk, prev, p, builder)
        elif disk.capture == "documents":
            yield from self._read_document(path, disk, prev, builder)
        else:
            yield from self._read_database(path, disk, prev, builder)

    def _current(self, prev: FileState | None, sha: str) -> bool:
        return prev is not None and prev.superseded_at is None and prev.source_deleted_at is None and prev.consumed_sha256 == sha

    def _read_document(self, path: str, disk: DiskFile, prev: FileState | None, builder: "_BatchBuilder"):
        st = disk.stat
        with open(disk.disk_path, "rb") as handle:
            data = handle.read()
        self.stats.files_read += 1
        sha = hashlib.sha256(data).hexdigest()
        if self._current(prev, sha):  # touched or rewritten alike: the version stands
            self._keep(prev, disk, len(data))
            return
        document = split_document(data, self.pointers)
        if document is None:
            if (self.now - mtime_of(st)).total_seconds() < self.quiet_seconds:
                self.stats.lines_held_back += 1  # caught mid-write: the next run reads it whole
                return
            document = unsplit_document(data)  # not JSON even when quiet: kept whole
        pieces = [(SKELETON, -len(document.skeleton), document.skeleton)]
        pieces += [(position, offset, element) for position, (offset, element) in enumerate(document.elements, start=1)]
        yield from self._store_version(path, disk, prev, pieces, builder, size=len(data), consumed=len(data), sha=sha)

    def _read_database(self, path: str, disk: DiskFile, prev: FileState | None, builder: "_BatchBuilder"):
        with database_snapshot(disk.disk_path) as connection:
            rows = dict(database_rows(connection, self.tables))
        self.stats.files_read += 1
        signatures = {position: stored_signature(piece) for position, piece in rows.items()}
        sha = content_digest(signatures)
        size = disk.stat.st_size  # with its write-ahead log (with_sidecars)
        if self._current(prev, sha):
            self._keep(prev, disk, size)
            return
        stored = self.stored.get(path, {})
        for position, signature in stored.items():  # rows that are gone: a tombstone at their position
            if position not in rows and signature != TOMBSTONE_SIGNATURE:
                rows[position] = TOMBSTONE
        pieces, offset = [], 0
        for position in sorted(rows):  # negative offsets: a database's pieces are not slices of the file
            offset -= len(rows[position])
            pieces.append((position, offset, rows[position]))
        yield from self._store_version(path, disk, prev, pieces, builder, size=size, consumed=size, sha=sha)

    def _keep(self, prev: FileState, disk: DiskFile, size: int) -> None:
        st = disk.stat
        self._manifest_rows.append(replace(prev, size_bytes=size, consumed_offset=size, mtime=mtime_of(st), inode=st.st_ino,
                                           ctime=ctime_of(st), capture_error=None, last_seen_at=self.now))

    def _store_version(self, path: str, disk: DiskFile, prev: FileState | None, pieces: list[tuple[int, int, bytes]],
                       builder: "_BatchBuilder", *, size: int, consumed: int, sha: str):
        """A new version of the file: the pieces that differ from the latest stored at their position, and its manifest row."""
        st = disk.stat
        version = prev.file_version + 1 if prev is not None else 1
        signatures = self.stored.setdefault(path, {})
        stored = stored_bytes = 0
        for position, offset, piece in pieces:
            signature = stored_signature(piece)
            if signatures.get(position) == signature:
                continue
            signatures[position] = signature
            yield from builder.add(path, version, position, offset, piece, False)
            stored += 1
            stored_bytes += len(piece)
        if prev is None:
            self.stats.files_new += 1
        else:
            self.stats.files_rewritten += 1
            if prev.superseded_at is None:
                self._manifest_rows.append(replace(prev, superseded_at=self.now, last_ingest_run_id=self.run_id))
        self.stats.lines_captured += stored
        self.stats.bytes_captured += stored_bytes
        self._manifest_rows.append(
            FileState(
                source=self.source, path=path, file_version=version, size_bytes=size, mtime=mtime_of(st),
                consumed_offset=consumed, consumed_sha256=sha, line_count=stored,
                first_seen_at=prev.first_seen_at if prev is not None else self.now, last_seen_at=self.now,
                source_deleted_at=None, superseded_at=None, last_ingest_run_id=self.run_id,
                path_bytes=os.fsencode(disk.disk_path) if disk.disk_path != path else None,
                inode=st.st_ino, ctime=ctime_of(st), capture_error=None, machine_id=self.machine_id,
            )
        )


def stored_signatures(conn, lines_sql: str, machine_id: str) -> dict[str, dict[int, tuple[str, ...]]]:
    """Per path of machine `machine_id`, the signature (its parts' sha256) of the latest stored piece at each position."""
    rows = conn.execute(
        f"""
        WITH pieces AS (
            SELECT path, file_version, line_number, list(sha256 ORDER BY byte_offset) AS signature
            FROM {lines_sql} WHERE machine_id = ? GROUP BY ALL
        )
        SELECT path, line_number, arg_max(signature, file_version) FROM pieces GROUP BY ALL
        """,
        [machine_id],
    ).fetchall()
    stored: dict[str, dict[int, tuple[str, ...]]] = {}
    for path, position, signature in rows:
        stored.setdefault(path, {})[position] = tuple(signature)
    return stored


class _BatchBuilder:
    """Accumulates line rows and emits Arrow record batches of bounded size."""

    def __init__(self, source: str, run_id: str, now: datetime, machine_id: str) -> None:
        self.source, self.run_id, self.now, self.machine_id = source, run_id, now, machine_id
        self._reset()

    def _reset(self) -> None:
        self.paths: list[str] = []
        self.versions: list[int] = []
        self.numbers: list[int] = []
        self.offsets: list[int] = []
        self.data: list[bytes] = []
        self.newlines: list[bool] = []
        self.part_numbers: list[int] = []
        self.part_counts: list[int] = []
        self.size = 0

    def add(self, path: str, version: int, number: int, offset: int, data: bytes, newline: bool):
        """One line (line `number`, at byte `offset`), as one row or, when long, as its parts."""
        parts = split_parts(data) if len(data) > PART_BYTES else [data]
        for index, part in enumerate(parts, start=1):
            self.paths.append(path)
            self.versions.append(version)
            self.numbers.append(number)
            self.offsets.append(offset)
            self.data.append(part)
            self.newlines.append(newline and index == len(parts))
            self.part_numbers.append(index)
            self.part_counts.append(len(parts))
            self.size += len(part)
            offset += len(part)
            if self.size >= BATCH_BYTES or len(self.data) >= BATCH_ROWS:
                yield from self.flush()

    def add_lines(self, path: str, version: int, number: int, offset: int, lines: list[bytes]):
        """Lines that each ended with a newline, following line `number`, the first at byte `offset`."""
        start = 0
        while start < len(lines):
            run = lines[start : start + max(1, BATCH_ROWS - len(self.data))]
            if max(map(len, run)) > PART_BYTES:  # a long line among them: one at a time, in parts
                for line in run:
                    number += 1
                    yield from self.add(path, version, number, offset, line, True)
                    offset += len(line) + 1
                start += len(run)
                continue
            count = len(run)
            offsets = list(accumulate((len(line) + 1 for line in run), initial=offset))
            self.paths.extend([path] * count)
            self.versions.extend([version] * count)
            self.numbers.extend(range(number + 1, number + 1 + count))
            self.offsets.extend(offsets[:-1])
            self.data.extend(run)
            self.newlines.extend([True] * count)
            self.part_numbers.extend([1] * count)
            self.part_counts.extend([1] * count)
            self.size += offsets[-1] - offset - count
            start, number, offset = start + count, number + count, offsets[-1]
            if self.size >= BATCH_BYTES or len(self.data) >= BATCH_ROWS:
                yield from self.flush()

    def flush(self):
        if not self.data:
            return
        import pyarrow as pa

        n = len(self.data)
        yield pa.record_batch(
            [
                pa.array([self.source] * n, pa.string()),
                pa.array(self.paths, pa.string()),
                pa.array(self.versions, pa.int32()),
                pa.array(self.numbers, pa.int64()),
                pa.array(self.offsets, pa.int64()),
                pa.array([len(d) for d in self.data], pa.int64()),
                pa.array(self.data, pa.binary()),
                pa.array(self.newlines, pa.bool_()),
                pa.array([hashlib.sha256(d).hexdigest() for d in self.data], pa.string()),
                pa.array([self.run_id] * n, pa.string()),
                pa.array([self.now] * n, pa.timestamp("us", tz="UTC")),
                pa.array(self.part_numbers, pa.int32()),
                pa.array(self.part_counts, pa.int32()),
                pa.array([self.machine_id] * n, pa.string()),
            ],
            schema=line_schema(),
        )
        self._reset()


def load_manifest(conn, table_sql: str, machine_id: str) -> dict[str, FileState]:
    """The latest version of every file of machine `machine_id` in a manifest table (superseded only if a run
    died mid-rewrite). Another machine's rows for the same path are not this machine's file."""
    cursor = conn.execute(
        f"SELECT {', '.join(manifest_schema().names)} FROM {table_sql} WHERE machine_id = ? "
        "QUALIFY file_version = max(file_version) OVER (PARTITION BY path)",
        [machine_id],
    )
    states: dict[str, FileState] = {}
    for row in cursor.fetchall():
        state = FileState(*row)
        states[state.path] = replace(
            state,
            mtime=state.mtime.astimezone(timezone.utc),
            ctime=state.ctime.astimezone(timezone.utc) if state.ctime else None,
            path_bytes=bytes(state.path_bytes) if state.path_bytes is not None else None,
        )
    return states


def drop_rows_beyond_manifest(conn, lines_sql: str, files_sql: str, machine_id: str) -> int:
    """Delete machine `machine_id`'s stored lines its manifest does not cover; returns how many rows.

    Lines and manifest are two writes. A run that died between them left
    lines its manifest never recorded; the next run reads those bytes again,
    so the orphans go first (a half-written line among them may come back
    complete). Cheap when nothing died: the stored lines (first parts) and the
    manifest's line counts agree, and only those two counts are read.

    Counts and deletion are this machine's only: in a team warehouse another
    machine may have committed its lines and not yet its manifest, and deleting
    those would lose them for good (its manifest then says they were read).
    """
    stored = conn.execute(f"SELECT count(*) FROM {lines_sql} WHERE part_number = 1 AND machine_id = ?",
                          [machine_id]).fetchone()[0]
    expected = conn.execute(f"SELECT coalesce(sum(line_count), 0) FROM {files_sql} WHERE machine_id = ?",
                            [machine_id]).fetchone()[0]
    if stored == expected:
        return 0
    return conn.execute(
        f"""
        DELETE FROM {lines_sql} l WHERE l.machine_id = ? AND NOT EXISTS (
            SELECT 1 FROM {files_sql} f
            WHERE f.machine_id = l.machine_id AND f.path = l.path AND f.file_version = l.file_version
              AND l.byte_offset < f.consumed_offset)
        """,
        [machine_id],
    ).fetchone()[0]


def claim_unowned_rows(conn, lines_sql: str, files_sql: str, machine_id: str) -> bool:
    """Give rows stored before machine ids existed (machine_id NULL, migration 011) to `machine_id`, this
    machine: a warehouse file had one machine. Returns whether there were any. Cheap once done: one probe of the
    manifest (the lines table is not scanned: the claim gives a file's manifest rows and lines their machine in one
    transaction, so lines without a machine have a manifest row without one, but for orphans of a run that died
    between its two writes before machine ids existed, which no machine reads)."""
    if not conn.execute(f"SELECT 1 FROM {files_sql} WHERE machine_id IS NULL LIMIT 1").fetchone():
        return False
    conn.execute("BEGIN TRANSACTION")
    try:
        for table in (files_sql, lines_sql):
            conn.execute(f"UPDATE {table} SET machine_id = ? WHERE machine_id IS NULL", [machine_id])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return True
