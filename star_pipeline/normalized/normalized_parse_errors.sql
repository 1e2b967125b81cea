-- normalized_parse_errors: every raw line that could not be parsed, with its raw
-- reference and the reason, so nothing is skipped silently. The complement of
-- normalized_messages (transcripts) and normalized_hook_events (hook spool).
-- {claude_code_lines} / {codex_lines} / {hook_spool_lines} are the raw lines to read, whole,
-- restricted to those not normalized yet (see normalized_messages.sql).
WITH candidates AS (
    SELECT 'claude_code' AS source, r.path, r.file_version, r.line_number, r.byte_offset, r.byte_length,
           r.line_bytes, r.ends_with_newline, try(decode(r.line_bytes)) AS text
    FROM {claude_code_lines} r
    WHERE transcript_json(r.line_bytes) IS NULL
    UNION ALL
    SELECT 'codex', r.path, r.file_version, r.line_number, r.byte_offset, r.byte_length,
           r.line_bytes, r.ends_with_newline, try(decode(r.line_bytes))
    FROM {codex_lines} r
    WHERE transcript_json(r.line_bytes) IS NULL
    UNION ALL
    SELECT 'hook_spool', r.path, r.file_version, r.line_number, r.byte_offset, r.byte_length,
           r.line_bytes, r.ends_with_newline, try(decode(r.line_bytes))
    FROM {hook_spool_lines} r
    WHERE transcript_json(r.line_bytes) IS NULL
       OR try(json_type(transcript_json(r.line_bytes), '$.payload')) IS DISTINCT FROM 'OBJECT'
)
SELECT
    source, path, file_version, line_number, byte_offset, byte_length,
    CASE
        WHEN byte_length = 0 THEN 'empty line'
        WHEN text IS NULL THEN 'invalid UTF-8'
        WHEN contains(text, chr(0)) THEN 'contains NUL bytes'
        WHEN json_valid(text) AND source = 'hook_spool' AND coalesce(try(json_exists(text, '$.payload_text')), FALSE)
            THEN 'hook payload was not JSON (kept as text in the spool)'
        WHEN json_valid(text) AND source = 'hook_spool' THEN 'spool line without a payload object'
        WHEN json_valid(text) THEN 'JSON but not an object'
        WHEN NOT ends_with_newline THEN 'truncated: last line without newline, not valid JSON'
        WHEN regexp_matches(text, '}\s*\{') THEN 'not valid JSON (records glued on one line?)'
        ELSE 'not valid JSON'
    END AS reason,
    CAST(line_bytes[1:160] AS VARCHAR) AS excerpt
FROM candidates
