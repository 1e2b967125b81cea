"""Incremental, byte-perfect capture of line-oriented source files.

One `Capture` is one ingest run over one source (Claude Code transcripts,
Codex rollouts or our hook spool): it compares every file on disk with the
manifest of the previous runs and reads only what is new.

- Unchanged files (same size and mtime, nothing held back) are not opened.
- A changed file's consumed prefix is hashed again to prove it is unchanged,
  then only the bytes after the consumed offset are split into lines.
- A last line without its newline is held back until the newline arrives, or
  until the file has been quiet for `quiet_seconds`; then it is captured as it
  is (`ends_with_newline = false`). Bytes appended later start a new line row.
- A file whose consumed prefix changed (rewritten, truncated) is captured again
  from byte 0 as `file_version + 1`; the old version's rows stay.
- A file that vanished keeps its rows and gets `source_deleted_at`; if it
  comes back with the same prefix, capture continues where it stopped.
- An unreadable file is reported and skipped; its stored rows are untouched.

Lines are streamed as Arrow record batches, so memory stays bounded whatever
the size of the files.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from itertools import accumulate

import pyarrow as pa

READ_CHUNK_BYTES = 4 << 20
BATCH_BYTES = 8 << 20
BATCH_ROWS = 16384

LINE_SCHEMA = pa.schema(
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
    ]
)

MANIFEST_SCHEMA = pa.schema(
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
    ]
)
MANIFEST_KEY = ["path", "file_version"]
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


def discover_files(roots: list[str], pattern: str) -> tuple[dict[str, os.stat_result], list[str]]:
    """Every regular file below the roots whose name matches `pattern`, keyed by path; plus missing roots."""
    found: dict[str, os.stat_result] = {}
    missing: list[str] = []
    for root in roots:
        real_root = os.path.realpath(os.path.expanduser(root))
        if not os.path.isdir(real_root):
            missing.append(root)
            continue
        for folder, _dirs, names in os.walk(real_root):
            for name in names:
                if not fnmatch.fnmatch(name, pattern):
                    continue
                path = os.path.join(folder, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue  # vanished between listing and stat, or a dangling link
                if os.path.isfile(path):
                    found[path] = st
    return found, missing


def mtime_of(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime_ns // 1000 / 1_000_000, tz=timezone.utc)


class Capture:
    """One ingest run of one source. Consume `lines()` first, then read `manifest()`."""

    def __init__(
        self,
        *,
        source: str,
        files_on_disk: dict[str, os.stat_result],
        previous: dict[str, FileState],
        run_id: str,
        now: datetime,
        quiet_seconds: float,
        log: logging.Logger | None = None,
    ) -> None:
        self.source = source
        self.files_on_disk = files_on_disk
        self.previous = previous
        self.run_id = run_id
        self.now = now
        self.quiet_seconds = quiet_seconds
        self.log = log or logging.getLogger(__name__)
        self.stats = CaptureStats()
        self.unreadable: dict[str, str] = {}
        self._manifest_rows: list[FileState] = []
        self._consumed = False

    # -- public -----------------------------------------------------------
    def lines(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(LINE_SCHEMA, self._batches())

    def manifest(self) -> pa.Table:
        if not self._consumed:
            raise RuntimeError("Capture.manifest() is only complete after lines() has been read to the end")
        columns = {name: [getattr(row, name) for row in self._manifest_rows] for name in MANIFEST_SCHEMA.names}
        return pa.table(columns, schema=MANIFEST_SCHEMA)

    # -- internals --------------------------------------------------------
    def _batches(self) -> Iterator[pa.RecordBatch]:
        builder = _BatchBuilder(self.source, self.run_id, self.now)
        for path in sorted(set(self.files_on_disk) | set(self.previous)):
            st = self.files_on_disk.get(path)
            prev = self.previous.get(path)
            if st is None:
                if prev is not None and prev.source_deleted_at is None and prev.superseded_at is None:
                    self._manifest_rows.append(replace(prev, source_deleted_at=self.now, last_ingest_run_id=self.run_id))
                    self.stats.files_deleted += 1
                continue
            self.stats.files_seen += 1
            if (
                prev is not None
                and prev.source_deleted_at is None
                and prev.superseded_at is None
                and prev.size_bytes == st.st_size
                and prev.mtime == mtime_of(st)
                and prev.consumed_offset == st.st_size
            ):
                continue
            try:
                yield from self._read_file(path, st, prev, builder)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                self.unreadable[path] = reason
                self.log.warning(
                    "%s: cannot read this file (%s); it was skipped and its stored rows are unchanged. "
                    "Fix its permissions and the next run captures it.",
                    path,
                    reason,
                )
        yield from builder.flush()
        self._consumed = True

    def _read_file(self, path: str, st: os.stat_result, prev: FileState | None, builder: "_BatchBuilder"):
        with open(path, "rb") as handle:
            hasher = hashlib.sha256()
            rewritten = False
            if prev is not None and prev.superseded_at is not None:
                rewritten = True  # an earlier run superseded it but did not finish the new version
            elif prev is not None:
                if st.st_size < prev.consumed_offset:
                    rewritten = True
                else:
                    remaining = prev.consumed_offset
                    while remaining:
                        chunk = handle.read(min(READ_CHUNK_BYTES, remaining))
                        if not chunk:
                            break
                        hasher.update(chunk)
                        remaining -= len(chunk)
                    rewritten = remaining != 0 or hasher.hexdigest() != prev.consumed_sha256
            self.stats.files_read += 1
            if prev is None or rewritten:
                if rewritten:
                    if prev.superseded_at is None:
                        self._manifest_rows.append(replace(prev, superseded_at=self.now, last_ingest_run_id=self.run_id))
                    self.stats.files_rewritten += 1
                    handle.seek(0)
                    hasher = hashlib.sha256()
                else:
                    self.stats.files_new += 1
                version = prev.file_version + 1 if prev else 1
                offset, line_number, first_seen = 0, 0, self.now
            else:
                version, offset, line_number, first_seen = (
                    prev.file_version,
                    prev.consumed_offset,
                    prev.line_count,
                    prev.first_seen_at,
                )
            pending = b""
            while True:
                chunk = handle.read(READ_CHUNK_BYTES)
                if not chunk:
                    break
                data = pending + chunk if pending else chunk
                parts = data.split(b"\n")
                pending = parts.pop()
                if parts:  # whole lines, each with its newline: hashed as one slice, added as one run
                    complete = len(data) - len(pending)
                    hasher.update(memoryview(data)[:complete])
                    yield from builder.add_lines(path, version, line_number, offset, parts)
                    line_number += len(parts)
                    offset += complete
            if pending:
                quiet = (self.now - mtime_of(st)).total_seconds() >= self.quiet_seconds
                if quiet:
                    line_number += 1
                    hasher.update(pending)
                    yield from builder.add(path, version, line_number, offset, pending, False)
                    offset += len(pending)
                else:
                    self.stats.lines_held_back += 1
        new_lines = line_number - (0 if prev is None or rewritten else prev.line_count)
        self.stats.lines_captured += new_lines
        self.stats.bytes_captured += offset - (0 if prev is None or rewritten else prev.consumed_offset)
        self._manifest_rows.append(
            FileState(
                source=self.source,
                path=path,
                file_version=version,
                size_bytes=max(st.st_size, offset),
                mtime=mtime_of(st),
                consumed_offset=offset,
                consumed_sha256=hasher.hexdigest(),
                line_count=line_number,
                first_seen_at=first_seen,
                last_seen_at=self.now,
                source_deleted_at=None,
                superseded_at=None,
                last_ingest_run_id=self.run_id,
            )
        )


class _BatchBuilder:
    """Accumulates line rows and emits Arrow record batches of bounded size."""

    def __init__(self, source: str, run_id: str, now: datetime) -> None:
        self.source, self.run_id, self.now = source, run_id, now
        self._reset()

    def _reset(self) -> None:
        self.paths: list[str] = []
        self.versions: list[int] = []
        self.numbers: list[int] = []
        self.offsets: list[int] = []
        self.data: list[bytes] = []
        self.newlines: list[bool] = []
        self.size = 0

    def add(self, path: str, version: int, number: int, offset: int, data: bytes, newline: bool):
        self.paths.append(path)
        self.versions.append(version)
        self.numbers.append(number)
        self.offsets.append(offset)
        self.data.append(data)
        self.newlines.append(newline)
        self.size += len(data)
        if self.size >= BATCH_BYTES or len(self.data) >= BATCH_ROWS:
            yield from self.flush()

    def add_lines(self, path: str, version: int, number: int, offset: int, lines: list[bytes]):
        """Lines that each ended with a newline, following line `number`, the first at byte `offset`."""
        start = 0
        while start < len(lines):
            run = lines[start : start + max(1, BATCH_ROWS - len(self.data))]
            count = len(run)
            offsets = list(accumulate((len(line) + 1 for line in run), initial=offset))
            self.paths.extend([path] * count)
            self.versions.extend([version] * count)
            self.numbers.extend(range(number + 1, number + 1 + count))
            self.offsets.extend(offsets[:-1])
            self.data.extend(run)
            self.newlines.extend([True] * count)
            self.size += offsets[-1] - offset - count
            start, number, offset = start + count, number + count, offsets[-1]
            if self.size >= BATCH_BYTES or len(self.data) >= BATCH_ROWS:
                yield from self.flush()

    def flush(self):
        if not self.data:
            return
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
            ],
            schema=LINE_SCHEMA,
        )
        self._reset()


def load_manifest(conn, table_sql: str) -> dict[str, FileState]:
    """The latest version of every file in a manifest table (superseded only if a run died mid-rewrite)."""
    cursor = conn.execute(
        f"SELECT {', '.join(MANIFEST_SCHEMA.names)} FROM {table_sql} QUALIFY file_version = max(file_version) OVER (PARTITION BY path)"
    )
    states: dict[str, FileState] = {}
    for row in cursor.fetchall():
        state = FileState(*row)
        states[state.path] = replace(state, mtime=state.mtime.astimezone(timezone.utc))
    return states


def drop_rows_beyond_manifest(conn, lines_sql: str, files_sql: str) -> int:
    """Delete stored lines the manifest does not cover; returns how many.

    Lines and manifest are two writes. A run that died between them left
    lines its manifest never recorded; the next run reads those bytes again,
    so the orphans go first (a half-written line among them may come back
    complete). Cheap when nothing died: the two row counts agree and nothing
    is scanned.
    """
    stored = conn.execute(f"SELECT count(*) FROM {lines_sql}").fetchone()[0]
    expected = conn.execute(f"SELECT coalesce(sum(line_count), 0) FROM {files_sql}").fetchone()[0]
    if stored == expected:
        return 0
    return conn.execute(
        f"""
        DELETE FROM {lines_sql} l WHERE NOT EXISTS (
            SELECT 1 FROM {files_sql} f
            WHERE f.path = l.path AND f.file_version = l.file_version AND l.byte_offset < f.consumed_offset)
        """
    ).fetchone()[0]
