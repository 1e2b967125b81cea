-- Aider into the normalized_messages contract (star_pipeline/normalized/normalized_messages.sql).
-- .aider.chat.history.md is Markdown Aider appends to, one raw row per line (../shared/FORMATS-agents2.md
-- section 4). A run starts at `# aider chat started at YYYY-MM-DD HH:MM:SS` (local time without a zone,
-- the file's only time); Aider's own output lines start with `> ` (`> Main model: X with ...` or
-- `> Model: X with ...` name the model, again after a `/model` switch; `> Tokens: 2.4k sent, [1.1k cache
-- write, 800 cache hit,] 749 received. Cost: $0.0017 message, $0.0017 session.` follows each main-model
-- reply); user prompts and commands are `#### <text>`; other lines are the assistant's reply.
-- Each line is a row. Its run (the session: the project folder and the run's start) and the model in use
-- are the last run header and the last model line of that run at or before it in the same file version, looked up in
-- raw (ASOF joins): those lines come earlier in an appended file, so a line reads the same whatever run
-- captured it, and an incremental run equals a rebuild. The run's start is kept as written, read as UTC:
-- its day is the day Aider wrote (the corpus README's rule). A `> Tokens:` line is one api_calls entry:
-- counts as printed, `2.4k` read as 2,400 and `12k` as 12,000 (Aider rounds them for display: < 1,000
-- exact, then one decimal, then whole thousands), `sent` as input, `cache write` and `cache hit` as cache
-- creation and read, `received` as output; the `$x message` cost is read by usage.sql.
WITH own_lines AS (
    SELECT h.path, h.file_version, h.line_number, decode(h.line_bytes) AS text
    FROM raw.aider_lines h
    WHERE h.part_number = 1 AND h.path IN (SELECT path FROM {lines})
      AND h.machine_id IS NOT DISTINCT FROM (SELECT min(g.machine_id) FROM raw.aider_files g WHERE g.path = h.path)
      AND (h.line_bytes >= '# aider chat started at '::BLOB AND h.line_bytes < '# aider chat started au'::BLOB
           OR h.line_bytes >= '> Main model: '::BLOB AND h.line_bytes < '> Main model;'::BLOB
           OR h.line_bytes >= '> Model: '::BLOB AND h.line_bytes < '> Model;'::BLOB)
),
runs AS (
    SELECT path, file_version, line_number,
        TRY_CAST(regexp_extract(text, '^# aider chat started at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)', 1) || '+00' AS TIMESTAMPTZ) AS started
    FROM own_lines WHERE text LIKE '# aider chat started at %'
),
models AS (
    SELECT path, file_version, line_number, nullif(regexp_extract(text, '^> (?:Main )?[Mm]odel: (\S+)', 1), '') AS model
    FROM own_lines WHERE text LIKE '> Main model: %' OR text LIKE '> Model: %'
),
text_lines AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset,
        rtrim(decode(r.line_bytes), ' ' || chr(13)) AS text  -- Aider ends its own lines with two spaces (a Markdown line break)
    FROM {lines} r
    WHERE try(decode(r.line_bytes)) IS NOT NULL
),
placed AS (
    SELECT t.*, run.line_number AS run_line, run.started
    FROM text_lines t
    ASOF LEFT JOIN runs run ON run.path = t.path AND run.file_version = t.file_version AND t.line_number >= run.line_number
),
modelled AS (
    SELECT p.*, CASE WHEN p.run_line IS NULL OR m.line_number > p.run_line THEN m.model END AS model_in_use
    FROM placed p
    ASOF LEFT JOIN models m ON m.path = p.path AND m.file_version = p.file_version AND p.line_number >= m.line_number
),
shaped AS (
    SELECT *,
        CASE WHEN text LIKE '# aider chat started at %' THEN 'run'
             WHEN text LIKE '> Tokens: %' THEN 'tokens'
             WHEN text LIKE '> %' OR text = '>' THEN 'aider'
             WHEN text LIKE '#### %' THEN 'user'
             WHEN trim(text) = '' THEN 'blank'
             ELSE 'assistant' END AS kind,
        regexp_extract(text, '^> Tokens: ([0-9.]+)(k?) sent', ['n', 'k']) AS sent,
        regexp_extract(text, ' ([0-9.]+)(k?) cache write', ['n', 'k']) AS cache_write,
        regexp_extract(text, ' ([0-9.]+)(k?) cache hit', ['n', 'k']) AS cache_hit,
        regexp_extract(text, ' ([0-9.]+)(k?) received', ['n', 'k']) AS received
    FROM modelled
)
SELECT
    'aider' AS source,
    path, file_version, line_number, byte_offset,
    -- the run: the project folder and the run's start as written
    regexp_replace(path, '/[^/]*$', '') || '@' || coalesce(strftime(started, '%Y-%m-%dT%H:%M:%S'), 'before-first-run') AS session_id,
    'main' AS file_kind,
    kind AS record_type,
    CASE WHEN kind = 'user' AND text LIKE '#### /%' THEN 'command' END AS subtype,
    CAST(NULL AS VARCHAR) AS uuid,
    started AS event_ts,
    CASE kind WHEN 'user' THEN 'user' WHEN 'assistant' THEN 'assistant' WHEN 'aider' THEN 'system' WHEN 'tokens' THEN 'system'
              WHEN 'run' THEN 'system' END AS role,
    CASE WHEN kind IN ('user', 'assistant') THEN 'text' END AS content_kind,
    length(text) AS text_length,
    FALSE AS is_sidechain,
    FALSE AS is_meta,
    FALSE AS is_compact_summary,
    regexp_replace(path, '/[^/]*$', '') AS cwd,
    model_in_use AS model,
    CASE WHEN kind = 'tokens' AND sent.n <> '' THEN [{
        'call_id': CAST(NULL AS VARCHAR), 'model': model_in_use,
        'input_tokens': CAST(round(TRY_CAST(sent.n AS DOUBLE) * CASE WHEN sent.k = 'k' THEN 1000 ELSE 1 END) AS BIGINT),
        'output_tokens': coalesce(CAST(round(TRY_CAST(received.n AS DOUBLE) * CASE WHEN received.k = 'k' THEN 1000 ELSE 1 END) AS BIGINT), 0),
        'cache_creation_input_tokens': coalesce(CAST(round(TRY_CAST(cache_write.n AS DOUBLE) * CASE WHEN cache_write.k = 'k' THEN 1000 ELSE 1 END) AS BIGINT), 0),
        'cache_read_input_tokens': coalesce(CAST(round(TRY_CAST(cache_hit.n AS DOUBLE) * CASE WHEN cache_hit.k = 'k' THEN 1000 ELSE 1 END) AS BIGINT), 0),
        'reasoning_output_tokens': CAST(0 AS BIGINT)}] END AS api_calls,
    left(CASE WHEN kind = 'user' THEN substr(text, 6) WHEN kind IN ('assistant', 'aider', 'tokens', 'run') THEN text END, 16000)
        AS message_text
FROM shaped
