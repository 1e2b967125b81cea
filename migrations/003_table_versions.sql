-- The version (hash of the SQL that builds it) of every incrementally built derived table.
-- When the SQL changes, the table is rebuilt in full instead of appended to.
CREATE TABLE meta_table_versions (
    table_name VARCHAR PRIMARY KEY,   -- 'schema.table'
    version    VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
