"""The dashboard's read path: the two copies each aggregate rebuild publishes, opened read-only.

`<warehouse>.reports.duckdb` (aggregate/published_report_copy.py) answers the cost and token figures through
reports/report.py, so a page shows what `star-pipeline report` prints; `<warehouse>.search.duckdb`
(aggregate/search_copy.py) holds the masked texts and the history tables (sessions, tool calls, API calls,
files, links) and the search index. Both are written whole and renamed into place, so the dashboard never
waits for a run, never blocks one, and never sees half a copy. A copy replaced since it was opened is opened
again at the next request; the one opened before stays readable by the requests still using it. Each is attached to
an in-memory database of its own: `duckdb.connect(path)` would hand back the database already open for that path
while an older connection to it lives (DuckDB's instance cache), i.e. the replaced copy, so that a long-running
dashboard (a team member's `serve`) would keep showing the rebuild it first read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

from star_pipeline.reports.reader import READER_CONFIG
from star_pipeline.storage.published_copies import published_copy_path, search_copy_path
from star_pipeline.storage.warehouse import quote_literal

COPY_CATALOG = "published_copy"


class CopyMissingError(FileNotFoundError):
    """A published copy does not exist yet; the message says how to make it."""


@dataclass
class _Opened:
    identity: tuple
    connection: duckdb.DuckDBPyConnection


class PublishedCopies:
    """Read-only connections to the report copy and the search copy of one warehouse, reopened when replaced."""

    def __init__(self, warehouse_path: Path | str) -> None:
        self.warehouse_path = Path(warehouse_path)
        self.paths = {"reports": published_copy_path(warehouse_path), "search": search_copy_path(warehouse_path)}
        self._opened: dict[str, _Opened] = {}
        self._lock = threading.Lock()

    def reports(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own (one per request: DuckDB connections are not shared between threads)."""
        return self._cursor("reports")

    def search(self) -> duckdb.DuckDBPyConnection:
        return self._cursor("search")

    def published_at(self, name: str) -> float | None:
        try:
            return self.paths[name].stat().st_mtime
        except OSError:
            return None

    def _cursor(self, name: str) -> duckdb.DuckDBPyConnection:
        path = self.paths[name]
        try:
            status = path.stat()
        except FileNotFoundError:
            raise CopyMissingError(
                f"{path}: not published yet. Build the warehouse first (`star-pipeline build`, or `make dev` and let "
                "the sensors run): each aggregate rebuild publishes it.") from None
        identity = (status.st_ino, status.st_mtime_ns, status.st_size)
        with self._lock:
            opened = self._opened.get(name)
            if opened is None or opened.identity != identity:
                connection = duckdb.connect(":memory:", config=READER_CONFIG)
                connection.execute(f"ATTACH {quote_literal(str(path))} AS {COPY_CATALOG} (READ_ONLY)")
                if name == "search":
                    from star_pipeline.storage.warehouse import load_extension

                    load_extension(connection, "fts")  # the stemmer the query's words are made with
                # The replaced connection is not closed here: requests may still read through it; it goes with
                # its last cursor.
                opened = self._opened[name] = _Opened(identity, connection)
            cursor = opened.connection.cursor()
        cursor.execute(f"USE {COPY_CATALOG}")  # a cursor starts in the in-memory database
        cursor.execute("SET TimeZone = 'UTC'")
        return cursor

