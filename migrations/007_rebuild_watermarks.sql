-- What each normalized table rebuilt from normalized_messages (usage, sessions, tool
-- calls) last saw of every file: its message count and latest normalize run. A file
-- whose messages no longer match (new lines, or normalized_messages rebuilt) is one
-- whose calls and sessions the next run recomputes (normalized/per_file_rebuild.py).
-- No primary key: a write deletes and re-inserts a file's row in one transaction.
CREATE TABLE meta_rebuild_watermarks (
    table_name            VARCHAR NOT NULL,   -- e.g. 'normalized.normalized_usage'
    source                VARCHAR NOT NULL,
    path                  VARCHAR NOT NULL,
    file_version          INTEGER NOT NULL,
    message_count         BIGINT NOT NULL,
    last_normalize_run_id VARCHAR
);
