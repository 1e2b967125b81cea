-- Factory Droid sessions into the normalized_messages contract (star_pipeline/normalized/normalized_messages.sql).
-- A session is two files named by its id in <sessions>/<cwd slug>/ (../shared/FORMATS-agents.md section 7):
--   <id>.jsonl, appended lines: session_start {id, title, cwd}, message {id, timestamp, message{role,
--     content[]}} (text, tool_use{id, name, input}, tool_result{tool_use_id, content}), todo_state;
--     no model and no tokens;
--   <id>.settings.json, one JSON object Droid rewrites in place: model, providerLockTimestamp and
--     tokenUsage, the running total of the whole session, absent before the first call. The raw layer
--     stores each version whole (raw/documents.py, nothing split); usage.sql counts the last.
-- The total is one api_calls entry of its settings version, in our semantics: thinkingTokens are
-- added to output and reported as reasoning (input already excludes cache). The model drops
-- Droid's 'custom:' prefix of a bring-your-own-key model and is lower-cased, as ccusage names it.
WITH droid AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset,
        r.path LIKE '%.settings.json' AS is_settings,
        json_transform(document_json(r.line_bytes), '{"type": "VARCHAR", "id": "VARCHAR", "timestamp": "VARCHAR",
            "title": "VARCHAR", "cwd": "VARCHAR",
            "message": {"role": "VARCHAR", "content": "JSON"},
            "model": "VARCHAR", "providerLockTimestamp": "VARCHAR",
            "tokenUsage": {"inputTokens": "BIGINT", "outputTokens": "BIGINT", "cacheCreationTokens": "BIGINT",
                           "cacheReadTokens": "BIGINT", "thinkingTokens": "BIGINT"}}') AS j
    FROM {lines} r
    WHERE document_json(r.line_bytes) IS NOT NULL
),
droid_blocks AS (
    SELECT *,
        CASE WHEN json_type(j.message.content) = 'ARRAY' THEN json_transform(j.message.content, '[{"type": "VARCHAR",
            "text": "VARCHAR", "id": "VARCHAR", "name": "VARCHAR", "input": "JSON", "tool_use_id": "VARCHAR",
            "content": "JSON", "is_error": "BOOLEAN"}]') END AS blocks,
        CASE WHEN j.model IS NOT NULL THEN lower(regexp_replace(j.model, '^custom:', '')) END AS droid_model
    FROM droid
)
SELECT
    'droid' AS source,
    path, file_version, line_number, byte_offset,
    regexp_extract(path, '([^/]+?)(\.settings)?\.jsonl?$', 1) AS session_id,
    'main' AS file_kind,
    CASE WHEN is_settings THEN 'settings' ELSE coalesce(j.type, 'unknown') END AS record_type,
    j.message.role AS subtype,
    CASE WHEN NOT is_settings THEN j.id END AS uuid,
    TRY_CAST(coalesce(j.timestamp, j.providerLockTimestamp) AS TIMESTAMPTZ) AS event_ts,
    j.message.role AS role,
    array_to_string(list_sort(list_distinct(list_transform(blocks, lambda b: coalesce(b.type, '?')))), ',') AS content_kind,
    coalesce(list_sum(list_transform(blocks, lambda b: coalesce(length(b.text), 0))), 0) AS text_length,
    FALSE AS is_sidechain,
    FALSE AS is_meta,
    FALSE AS is_compact_summary,
    j.cwd AS cwd,
    droid_model AS model,
    CASE WHEN is_settings AND j.tokenUsage.inputTokens IS NOT NULL THEN [{
        'call_id': 'session-total', 'model': droid_model,
        'input_tokens': j.tokenUsage.inputTokens,
        'output_tokens': coalesce(j.tokenUsage.outputTokens, 0) + coalesce(j.tokenUsage.thinkingTokens, 0),
        'cache_creation_input_tokens': coalesce(j.tokenUsage.cacheCreationTokens, 0),
        'cache_read_input_tokens': coalesce(j.tokenUsage.cacheReadTokens, 0),
        'reasoning_output_tokens': coalesce(j.tokenUsage.thinkingTokens, 0)}] END AS api_calls,
    list_transform(list_filter(blocks, lambda b: b.type IN ('tool_use', 'tool_result')), lambda b: {
        'kind': CASE b.type WHEN 'tool_use' THEN 'call' ELSE 'result' END,
        'call_id': coalesce(b.id, b.tool_use_id), 'tool_name': b.name, 'input_size': length(CAST(b.input AS VARCHAR)),
        'target_path': coalesce(json_extract_string(b.input, '$.file_path'), json_extract_string(b.input, '$.path')),
        'subagent_type': CAST(NULL AS VARCHAR), 'skill_name': CAST(NULL AS VARCHAR),
        'is_error': b.is_error,
        'result_size': CASE WHEN b.type = 'tool_result' THEN length(CAST(b.content AS VARCHAR)) END,
        'command': left(json_extract_string(b.input, '$.command'), 16000),
        -- only an is_error flag, where the result has one (none in the sample): without it, no outcome
        'status': CASE WHEN b.type = 'tool_result' THEN CASE b.is_error WHEN TRUE THEN 'failed' WHEN FALSE THEN 'ok' END END,
        'exit_code': CAST(NULL AS INTEGER), 'duration_ms': CAST(NULL AS BIGINT),
        'status_reason': CASE WHEN b.type = 'tool_result' AND b.is_error IS NOT NULL THEN 'flag' END}) AS tool_blocks,
    left(coalesce(j.title, array_to_string(list_transform(list_filter(blocks, lambda b: b.type = 'text'),
                                                         lambda b: left(b.text, 16000)), chr(10))), 16000) AS message_text,
    left(array_to_string(list_transform(list_filter(blocks, lambda b: b.type = 'tool_use'),
                                        lambda b: json_text_unescaped(left(CAST(b.input AS VARCHAR), 32000))), chr(10)), 16000)
        AS tool_input,
    left(array_to_string(list_transform(list_filter(blocks, lambda b: b.type = 'tool_result'),
                                        lambda b: json_text_unescaped(left(CAST(b.content AS VARCHAR), 32000))), chr(10)), 16000)
        AS tool_result
FROM droid_blocks
