-- Meta tables for the classified layer.

-- The text of every classifier version ever materialized, so an old version can
-- be re-run after its file was edited.
CREATE TABLE meta_classifier_configs (
    classifier_version VARCHAR PRIMARY KEY,
    classifier_name    VARCHAR NOT NULL,
    config_text        VARCHAR NOT NULL,
    first_materialized_at TIMESTAMPTZ NOT NULL
);

-- How far each incremental classifier version has scanned each file's messages.
CREATE TABLE meta_classifier_progress (
    classifier_version VARCHAR NOT NULL,
    source             VARCHAR NOT NULL,
    path               VARCHAR NOT NULL,
    file_version       INTEGER NOT NULL,
    scanned_through_offset BIGINT NOT NULL,
    PRIMARY KEY (classifier_version, source, path, file_version)
);

-- The salt of secret fingerprints: random per warehouse, so a fingerprint says
-- "the same secret as that row" without letting anyone test guesses elsewhere.
CREATE TABLE meta_fingerprint_salt AS SELECT md5(CAST(uuid() AS VARCHAR)) || md5(CAST(uuid() AS VARCHAR)) AS salt;
