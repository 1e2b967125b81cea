-- normalized_parse_errors: every raw line that could not be parsed, with its raw
-- reference and the reason, so nothing is skipped silently: the complement of
-- normalized_messages and normalized_hook_events. {source_lines} selects, per source,
-- its lines that are no message or event (its `unparsed_where`, star_pipeline/sources/),
-- read whole; {source_reasons} are the reasons sources give for their own lines.
--
-- Columns:
--   source: the agent whose file holds the line
--   path: the file the line was read from
--   file_version: the version of that file in raw
--   line_number: the line's number in that file version, from 1
--   byte_offset: where the line starts; with source, path and file_version the key
--   byte_length: the line's length in bytes
--   reason: why it could not be parsed (empty line, invalid UTF-8, truncated, not valid JSON ...)
--   excerpt: the line's first 160 bytes
--   machine_id: the machine whose copy of the file was read (one per path: raw/line_parts.py)
--   normalize_run_id: the Dagster run that found the line
-- Preview: reason, source, line_number, byte_length, file_version, path
WITH candidates AS (
    {source_lines}
)
SELECT
    source, path, file_version, line_number, byte_offset, byte_length,
    CASE
        WHEN byte_length = 0 THEN 'empty line'
        WHEN text IS NULL THEN 'invalid UTF-8'
        WHEN contains(text, chr(0)) THEN 'contains NUL bytes'
        {source_reasons}
        WHEN json_valid(text) THEN 'JSON but not an object'
        WHEN NOT ends_with_newline THEN 'truncated: last line without newline, not valid JSON'
        WHEN regexp_matches(text, '}\s*\{') THEN 'not valid JSON (records glued on one line?)'
        ELSE 'not valid JSON'
    END AS reason,
    CAST(line_bytes[1:160] AS VARCHAR) AS excerpt
FROM candidates
