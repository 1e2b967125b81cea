"""The two raw tables of a source, created when a source is first used.

Every source has the same pair (migrations 002 and 008 made them for the first three;
a source added later gets them here, so adding an agent needs no migration):

- `raw.<source>_lines`: one row per line (a line over 64,000 bytes: one row per part);
  the consumed bytes of a file version are its rows' `line_bytes`, in `byte_offset` order,
  each followed by a newline where `ends_with_newline`.
- `raw.<source>_files`: the manifest, one row per version of each file.
"""

from __future__ import annotations

from star_pipeline.sources import Source

LINES_COLUMNS = """
    source            VARCHAR NOT NULL,
    path              VARCHAR NOT NULL,
    file_version      INTEGER NOT NULL,   -- 1, then +1 each time the consumed prefix changed on disk
    line_number       BIGINT NOT NULL,    -- 1-based within the file version; a line's parts share it
    byte_offset       BIGINT NOT NULL,
    byte_length       BIGINT NOT NULL,    -- length of line_bytes (newline excluded)
    line_bytes        BLOB NOT NULL,
    ends_with_newline BOOLEAN NOT NULL,
    sha256            VARCHAR NOT NULL,   -- of line_bytes
    ingest_run_id     VARCHAR NOT NULL,
    ingested_at       TIMESTAMPTZ NOT NULL,
    part_number       INTEGER DEFAULT 1,  -- a long line's parts: 1..part_count
    part_count        INTEGER DEFAULT 1
"""

FILES_COLUMNS = """
    source            VARCHAR NOT NULL,
    path              VARCHAR NOT NULL,   -- undecodable bytes of a name written as \\xNN
    file_version      INTEGER NOT NULL,
    size_bytes        BIGINT NOT NULL,    -- size on disk when last read
    mtime             TIMESTAMPTZ NOT NULL,
    consumed_offset   BIGINT NOT NULL,    -- bytes captured into the lines table
    consumed_sha256   VARCHAR NOT NULL,   -- sha256 of those bytes
    line_count        BIGINT NOT NULL,
    first_seen_at     TIMESTAMPTZ NOT NULL,
    last_seen_at      TIMESTAMPTZ NOT NULL, -- last run that found the file changed and read it
    source_deleted_at TIMESTAMPTZ,        -- set when the file vanished from disk; rows are kept
    superseded_at     TIMESTAMPTZ,        -- set when a later file_version replaced this one
    last_ingest_run_id VARCHAR NOT NULL,
    path_bytes        BLOB,               -- the name as the file system has it, when not valid UTF-8
    inode             BIGINT,
    ctime             TIMESTAMPTZ,
    capture_error     VARCHAR             -- why the last run could not read the file; NULL when it could
"""


def ensure_raw_tables(conn, sources: tuple[Source, ...] | list[Source]) -> None:
    """Create the raw tables of `sources` that do not exist yet (cheap when they all do)."""
    existing = {row[0] for row in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'").fetchall()}
    for source in sources:
        for table, columns in ((f"{source.name}_lines", LINES_COLUMNS), (f"{source.name}_files", FILES_COLUMNS)):
            if table not in existing:
                conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
                conn.execute(f'CREATE TABLE IF NOT EXISTS raw."{table}" ({columns})')
