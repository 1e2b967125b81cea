-- Raw layer: byte-perfect capture of every source line, and a manifest of the files.
-- One pair of tables per source (claude_code, codex, hook_spool), same shape.
-- A line's bytes exclude its newline; `ends_with_newline` says whether it had one,
-- so the consumed bytes of a file version are the concatenation, in byte_offset
-- order, of line_bytes plus '\n' where ends_with_newline.

CREATE TABLE raw.claude_code_lines (
    source            VARCHAR NOT NULL,
    path              VARCHAR NOT NULL,
    file_version      INTEGER NOT NULL,   -- 1, then +1 each time the consumed prefix changed on disk
    line_number       BIGINT NOT NULL,    -- 1-based within the file version
    byte_offset       BIGINT NOT NULL,
    byte_length       BIGINT NOT NULL,    -- length of line_bytes (newline excluded)
    line_bytes        BLOB NOT NULL,
    ends_with_newline BOOLEAN NOT NULL,
    sha256            VARCHAR NOT NULL,   -- of line_bytes
    ingest_run_id     VARCHAR NOT NULL,
    ingested_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE raw.claude_code_files (
    source            VARCHAR NOT NULL,
    path              VARCHAR NOT NULL,
    file_version      INTEGER NOT NULL,
    size_bytes        BIGINT NOT NULL,    -- size on disk when last read
    mtime             TIMESTAMPTZ NOT NULL,
    consumed_offset   BIGINT NOT NULL,    -- bytes captured into the lines table
    consumed_sha256   VARCHAR NOT NULL,   -- sha256 of those bytes
    line_count        BIGINT NOT NULL,
    first_seen_at     TIMESTAMPTZ NOT NULL,
    last_seen_at      TIMESTAMPTZ NOT NULL, -- last run that found the file changed (size or mtime) and read it
    source_deleted_at TIMESTAMPTZ,        -- set when the file vanished from disk; rows are kept
    superseded_at     TIMESTAMPTZ,        -- set when a later file_version replaced this one
    last_ingest_run_id VARCHAR NOT NULL
);

CREATE TABLE raw.codex_lines (
    source            VARCHAR NOT NULL,
    path              VARCHAR NOT NULL,
    file_version      INTEGER NOT NULL,
    line_number       BIGINT NOT NULL,
    byte_offset       BIGINT NOT NULL,
    byte_length       BIGINT NOT NULL,
    line_bytes        BLOB NOT NULL,
    ends_with_newline BOOLEAN NOT NULL,
    sha256            VARCHAR NOT NULL,
    ingest_run_id     VARCHAR NOT NULL,
    ingested_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE raw.hook_spool_lines (
    source            VARCHAR NOT NULL,
    path              VARCHAR NOT NULL,
    file_version      INTEGER NOT NULL,
    line_number       BIGINT NOT NULL,
    byte_offset       BIGINT NOT NULL,
    byte_length       BIGINT NOT NULL,
    line_bytes        BLOB NOT NULL,
    ends_with_newline BOOLEAN NOT NULL,
    sha256            VARCHAR NOT NULL,
    ingest_run_id     VARCHAR NOT NULL,
    ingested_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE raw.codex_files (
    source            VARCHAR NOT NULL,
    path              VARCHAR NOT NULL,
    file_version      INTEGER NOT NULL,
    size_bytes        BIGINT NOT NULL,
    mtime             TIMESTAMPTZ NOT NULL,
    consumed_offset   BIGINT NOT NULL,
    consumed_sha256   VARCHAR NOT NULL,
    line_count        BIGINT NOT NULL,
    first_seen_at     TIMESTAMPTZ NOT NULL,
    last_seen_at      TIMESTAMPTZ NOT NULL,
    source_deleted_at TIMESTAMPTZ,
    superseded_at     TIMESTAMPTZ,
    last_ingest_run_id VARCHAR NOT NULL
);

CREATE TABLE raw.hook_spool_files (
    source            VARCHAR NOT NULL,
    path              VARCHAR NOT NULL,
    file_version      INTEGER NOT NULL,
    size_bytes        BIGINT NOT NULL,
    mtime             TIMESTAMPTZ NOT NULL,
    consumed_offset   BIGINT NOT NULL,
    consumed_sha256   VARCHAR NOT NULL,
    line_count        BIGINT NOT NULL,
    first_seen_at     TIMESTAMPTZ NOT NULL,
    last_seen_at      TIMESTAMPTZ NOT NULL,
    source_deleted_at TIMESTAMPTZ,
    superseded_at     TIMESTAMPTZ,
    last_ingest_run_id VARCHAR NOT NULL
);
