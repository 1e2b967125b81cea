"""The two raw tables of a source, created when a source is first used.

Every source has the same pair (migrations 002 and 008 made them for the first three;
a source added later gets them here, so adding an agent needs no migration):

- `raw.<source>_lines`: one row per line (a line over 64,000 bytes: one row per part);
  the consumed bytes of a file version are its rows' `line_bytes`, in `byte_offset` order,
  each followed by a newline where `ends_with_newline`.
- `raw.<source>_files`: the manifest, one row per version of each file.
"""

from __future__ import annotations

import duckdb

from star_pipeline.sources import Source
from star_pipeline.storage.table_docs import TableDoc

# (name, DuckDB type and constraints, what it is): the tables' DDL and their column docs.
LINES_COLUMN_SPECS = (
    ("source", "VARCHAR NOT NULL", "the agent whose file it is (claude_code, codex, hook_spool, ...)"),
    ("path", "VARCHAR NOT NULL", "the file the line was read from"),
    ("file_version", "INTEGER NOT NULL", "1, then +1 each time the file's consumed prefix changed on disk"),
    ("line_number", "BIGINT NOT NULL", "1-based within the file version; a line's parts share it"),
    ("byte_offset", "BIGINT NOT NULL", "where the row's bytes start in the file version; with source, path and "
     "file_version the key"),
    ("byte_length", "BIGINT NOT NULL", "length of line_bytes (newline excluded)"),
    ("line_bytes", "BLOB NOT NULL", "the bytes as on disk: a line, a part of a long line, or a piece of a "
     "document or database (raw/documents.py, raw/databases.py)"),
    ("ends_with_newline", "BOOLEAN NOT NULL", "a newline followed these bytes on disk"),
    ("sha256", "VARCHAR NOT NULL", "sha256 of line_bytes"),
    ("ingest_run_id", "VARCHAR NOT NULL", "the Dagster run that captured the row"),
    ("ingested_at", "TIMESTAMPTZ NOT NULL", "when it was captured"),
    ("part_number", "INTEGER DEFAULT 1", "a line over 64,000 bytes is kept in parts: this row's part, 1..part_count"),
    ("part_count", "INTEGER DEFAULT 1", "the number of parts of the row's line"),
    ("machine_id", "VARCHAR", "the machine whose agent wrote the file (machine.id); a path is unique per machine"),
)
FILES_COLUMN_SPECS = (
    ("source", "VARCHAR NOT NULL", "the agent whose file it is"),
    ("path", "VARCHAR NOT NULL", "the file (undecodable bytes of a name written as \\xNN)"),
    ("file_version", "INTEGER NOT NULL", "1, then +1 each time the consumed prefix changed on disk; with path the key"),
    ("size_bytes", "BIGINT NOT NULL", "size on disk when last read"),
    ("mtime", "TIMESTAMPTZ NOT NULL", "modification time on disk when last read"),
    ("consumed_offset", "BIGINT NOT NULL", "bytes captured into the lines table"),
    ("consumed_sha256", "VARCHAR NOT NULL", "sha256 of those bytes"),
    ("line_count", "BIGINT NOT NULL", "lines captured from this file version"),
    ("first_seen_at", "TIMESTAMPTZ NOT NULL", "the first run that found this file version"),
    ("last_seen_at", "TIMESTAMPTZ NOT NULL", "the last run that found the file changed and read it"),
    ("source_deleted_at", "TIMESTAMPTZ", "set when the file vanished from disk; rows are kept"),
    ("superseded_at", "TIMESTAMPTZ", "set when a later file_version replaced this one"),
    ("last_ingest_run_id", "VARCHAR NOT NULL", "the Dagster run that last read the file"),
    ("path_bytes", "BLOB", "the name as the file system has it, when not valid UTF-8"),
    ("inode", "BIGINT", "the file's inode when last read: with size, mtime and ctime the signature that tells "
     "an unchanged file (NULL until a run has seen the file since migration 008)"),
    ("ctime", "TIMESTAMPTZ", "the file's status change time when last read (part of that signature)"),
    ("capture_error", "VARCHAR", "why the last run could not read the file; NULL when it could"),
    ("machine_id", "VARCHAR", "the machine whose agent wrote the file (machine.id); with path and file_version the key"),
)
LINES_COLUMNS = ",\n".join(f"    {name} {ddl}" for name, ddl, _ in LINES_COLUMN_SPECS)
FILES_COLUMNS = ",\n".join(f"    {name} {ddl}" for name, ddl, _ in FILES_COLUMN_SPECS)
LINES_DOC = TableDoc({name: text for name, _, text in LINES_COLUMN_SPECS},
                     preview=("path", "file_version", "line_number", "byte_offset", "byte_length", "part_count"))
FILES_DOC = TableDoc({name: text for name, _, text in FILES_COLUMN_SPECS},
                     preview=("path", "file_version", "size_bytes", "line_count", "consumed_offset", "last_seen_at",
                              "source_deleted_at", "capture_error"))


ADDED_COLUMNS = (("machine_id", "VARCHAR"),)
"""Columns added to the raw tables after sources created their own: a table created before gets them
(migration 011 adds them to the tables migrations made)."""


def _complete(conn, table: str) -> bool:
    """Whether raw.<table> exists with every ADDED_COLUMNS column: a query bound, not run."""
    try:
        conn.execute(f'SELECT {", ".join(c for c, _ in ADDED_COLUMNS)} FROM raw."{table}" LIMIT 0')
    except (duckdb.CatalogException, duckdb.BinderException):
        return False
    return True


def captured_sources(conn, sources, machine_id: str) -> set[str]:
    """Of `sources`, the names of those whose manifest holds a row of `machine_id` (or of no machine: rows stored
    before machine ids existed). A build skips a source with no files on disk that this machine never captured:
    its step would only make two empty tables (half a second apiece on a DuckLake); the steps that read them
    make them (`ensure_raw_tables`). One bound query per source; a missing table is a source never captured."""
    found = set()
    for source in sources:
        try:
            held = conn.execute(f'SELECT EXISTS (SELECT 1 FROM raw."{source.name}_files" '
                                "WHERE machine_id = ? OR machine_id IS NULL)", [machine_id]).fetchone()[0]
        except duckdb.CatalogException:
            continue
        if held:
            found.add(source.name)
    return found


def ensure_raw_tables(conn, sources: tuple[Source, ...] | list[Source]) -> None:
    """Create the raw tables of `sources` that do not exist yet, and add the ADDED_COLUMNS an older one lacks
    (cheap when all is there: one catalog query; for one source, two bound queries, as information_schema
    reads every table of a DuckLake, 27 ms a call), in one transaction. On a DuckLake another machine may make the
    same table at the same time: the caller tries again (`retry_on_conflict`)."""
    if len(sources) == 1 and all(_complete(conn, f"{sources[0].name}_{kind}") for kind in ("lines", "files")):
        return
    existing: dict[str, set[str]] = {}
    for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_catalog = current_database() AND table_schema = 'raw'").fetchall():
        existing.setdefault(table, set()).add(column)
    statements = []
    for source in sources:
        for table, columns in ((f"{source.name}_lines", LINES_COLUMNS), (f"{source.name}_files", FILES_COLUMNS)):
            if table not in existing:
                statements.append(f'CREATE TABLE IF NOT EXISTS raw."{table}" ({columns})')
                continue
            statements += [f'ALTER TABLE raw."{table}" ADD COLUMN {column} {ddl}'
                           for column, ddl in ADDED_COLUMNS if column not in existing[table]]
    if not statements:
        return
    # one commit for them all: on a DuckLake each commit is a catalog round trip, and a fresh lake's first
    # normalizing step makes the tables of every source no machine captured yet
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
        for statement in statements:
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        try:
            conn.execute("ROLLBACK")
        except duckdb.Error:  # a commit that failed (a conflict) ended the transaction itself
            pass
        raise
