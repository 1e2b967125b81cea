-- Meta tables every warehouse has, and the key macros (see star_pipeline/storage/keys.py).
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS normalized;
CREATE SCHEMA IF NOT EXISTS classified;
CREATE SCHEMA IF NOT EXISTS aggregate;

-- One row per asset write (or failed attempt).
CREATE TABLE meta_load_log (
    run_id        VARCHAR,
    asset_key     VARCHAR NOT NULL,
    partition_key VARCHAR,
    write_mode    VARCHAR,
    started_at    TIMESTAMPTZ NOT NULL,
    completed_at  TIMESTAMPTZ,
    rows_written  BIGINT,
    status        VARCHAR NOT NULL,   -- 'success' | 'failure'
    error         VARCHAR
);

-- dimension_key([part, ...]): md5 of the parts joined with '|', NULL as '-1'.
CREATE MACRO dimension_key(parts) AS
    md5(array_to_string(list_transform(parts, p -> coalesce(CAST(p AS VARCHAR), '-1')), '|'));

-- hash_diff(MAP {'attr': value, ...}): md5 of sorted 'k=v' pairs, NULL values skipped.
CREATE MACRO hash_diff(attributes) AS
    md5(array_to_string(
        list_transform(
            list_filter(list_sort(map_entries(attributes)), e -> e.value IS NOT NULL),
            e -> e.key || '=' || CAST(e.value AS VARCHAR)),
        '|'));
