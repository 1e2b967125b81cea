-- Amp threads into the normalized_messages contract (star_pipeline/normalized/normalized_messages.sql).
-- A thread, T-<uuid>.json, is a JSON document Amp rewrites whole; the raw layer keeps it as pieces
-- (raw/documents.py): the thread itself (position 0: v, id, created, title, env ..., its arrays
-- emptied), each message {role, messageId, content[], state, usage?} and each usage-ledger event
-- {id, timestamp, model, credits, tokens{input, output}, operationType, fromMessageId, toMessageId}.
-- {lines} is the pieces to read. A message rewritten later is stored again: usage.sql keeps the
-- last copy. uuid is a message's number or an event's id; an event's parent_uuid is the message it
-- accounts for (toMessageId).
WITH amp AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset,
        json_transform(document_json(r.line_bytes), '{"id": "VARCHAR", "created": "BIGINT", "title": "VARCHAR",
            "role": "VARCHAR", "messageId": "BIGINT", "content": "JSON",
            "usage": {"model": "VARCHAR", "inputTokens": "BIGINT", "outputTokens": "BIGINT",
                      "cacheCreationInputTokens": "BIGINT", "cacheReadInputTokens": "BIGINT", "timestamp": "VARCHAR"},
            "timestamp": "VARCHAR", "model": "VARCHAR", "tokens": {"input": "BIGINT", "output": "BIGINT"},
            "operationType": "VARCHAR", "toMessageId": "BIGINT",
            "env": {"initial": {"trees": [{"uri": "VARCHAR"}]}}}') AS j
    FROM {lines} r
    WHERE document_json(r.line_bytes) IS NOT NULL
),
amp_blocks AS (
    SELECT *,
        CASE WHEN r_kind = 'message' AND json_type(j.content) = 'ARRAY' THEN json_transform(j.content, '[{"type": "VARCHAR",
            "text": "VARCHAR", "thinking": "VARCHAR", "id": "VARCHAR", "name": "VARCHAR", "input": "JSON",
            "toolUseID": "VARCHAR", "run": {"status": "VARCHAR", "result": "JSON"}}]') END AS blocks
    FROM (SELECT *, CASE WHEN line_number = 0 THEN 'thread' WHEN j.operationType IS NOT NULL THEN 'ledger_event'
                         WHEN j.role IS NOT NULL THEN 'message' ELSE 'unknown' END AS r_kind FROM amp)
)
SELECT
    'amp' AS source,
    path, file_version, line_number, byte_offset,
    nullif(regexp_extract(path, '(T-[^/]+)\.json$', 1), '') AS session_id,
    'main' AS file_kind,
    r_kind AS record_type,
    coalesce(j.operationType, j.role) AS subtype,
    CASE r_kind WHEN 'thread' THEN j.id WHEN 'ledger_event' THEN j.id ELSE CAST(j.messageId AS VARCHAR) END AS uuid,
    CASE WHEN r_kind = 'ledger_event' THEN CAST(j.toMessageId AS VARCHAR) END AS parent_uuid,
    coalesce(TRY_CAST(coalesce(j.timestamp, j.usage.timestamp) AS TIMESTAMPTZ),
             CASE WHEN r_kind = 'thread' THEN to_timestamp(j.created / 1000) END) AS event_ts,
    j.role AS role,
    array_to_string(list_sort(list_distinct(list_transform(blocks, lambda b: coalesce(b.type, '?')))), ',') AS content_kind,
    coalesce(list_sum(list_transform(blocks, lambda b: coalesce(length(b.text), length(b.thinking), 0))), 0) AS text_length,
    FALSE AS is_sidechain,
    FALSE AS is_meta,
    FALSE AS is_compact_summary,
    CASE WHEN r_kind = 'thread' THEN regexp_replace(j.env.initial.trees[1].uri, '^file://', '') END AS cwd,
    coalesce(j.usage.model, j.model) AS model,
    CASE WHEN r_kind = 'message' THEN CAST(j.messageId AS VARCHAR) END AS message_id,
    CASE
        WHEN r_kind = 'message' AND j.usage.inputTokens IS NOT NULL THEN [{
            'call_id': 'message:' || j.messageId, 'model': j.usage.model,
            'input_tokens': j.usage.inputTokens, 'output_tokens': coalesce(j.usage.outputTokens, 0),
            'cache_creation_input_tokens': coalesce(j.usage.cacheCreationInputTokens, 0),
            'cache_read_input_tokens': coalesce(j.usage.cacheReadInputTokens, 0),
            'reasoning_output_tokens': CAST(0 AS BIGINT)}]
        WHEN r_kind = 'ledger_event' AND j.tokens.input IS NOT NULL THEN [{
            'call_id': 'ledger:' || j.id, 'model': j.model,
            'input_tokens': j.tokens.input, 'output_tokens': coalesce(j.tokens.output, 0),
            'cache_creation_input_tokens': CAST(0 AS BIGINT), 'cache_read_input_tokens': CAST(0 AS BIGINT),
            'reasoning_output_tokens': CAST(0 AS BIGINT)}]
    END AS api_calls,
    -- a result still running (run.status 'in-progress') is no result yet: a later copy of the message has it
    list_transform(list_filter(blocks, lambda b: b.type = 'tool_use' OR (b.type = 'tool_result' AND b.run.status IS DISTINCT FROM 'in-progress')),
                   lambda b: {
        'kind': CASE b.type WHEN 'tool_use' THEN 'call' ELSE 'result' END,
        'call_id': coalesce(b.id, b.toolUseID), 'tool_name': b.name, 'input_size': length(CAST(b.input AS VARCHAR)),
        'target_path': coalesce(json_extract_string(b.input, '$.path'), json_extract_string(b.input, '$.file_path')),
        'subagent_type': CAST(NULL AS VARCHAR), 'skill_name': CAST(NULL AS VARCHAR),
        'is_error': coalesce(b.run.status = 'error', FALSE),
        'result_size': CASE WHEN b.type = 'tool_result' THEN length(CAST(b.run.result AS VARCHAR)) END,
        'command': left(json_extract_string(b.input, '$.cmd'), 16000),
        -- run.status: done, error, rejected-by-user, cancelled; a shell command's run.result.exitCode
        'status': CASE WHEN b.type <> 'tool_result' THEN NULL
                       WHEN b.run.status = 'done' AND TRY_CAST(json_extract(b.run.result, '$.exitCode') AS INTEGER) <> 0 THEN 'failed'
                       WHEN b.run.status = 'done' THEN 'ok'
                       WHEN b.run.status = 'error' THEN 'failed'
                       WHEN b.run.status LIKE 'rejected%' THEN 'rejected'
                       WHEN b.run.status = 'cancelled' THEN 'interrupted' END,
        'exit_code': CASE WHEN b.type = 'tool_result' THEN TRY_CAST(json_extract(b.run.result, '$.exitCode') AS INTEGER) END,
        'duration_ms': CAST(NULL AS BIGINT),
        'status_reason': CASE WHEN b.type <> 'tool_result' OR b.run.status IS NULL THEN NULL
                              WHEN b.run.status = 'done' AND TRY_CAST(json_extract(b.run.result, '$.exitCode') AS INTEGER) IS NOT NULL THEN 'exit code'
                              ELSE 'status field' END}) AS tool_blocks,
    left(coalesce(CASE WHEN r_kind = 'thread' THEN j.title END,
        array_to_string(list_transform(list_filter(blocks, lambda b: b.type IN ('text', 'thinking')),
                                       lambda b: left(coalesce(b.text, b.thinking), 16000)), chr(10))), 16000) AS message_text,
    left(array_to_string(list_transform(list_filter(blocks, lambda b: b.type = 'tool_use'),
                                        lambda b: json_text_unescaped(left(CAST(b.input AS VARCHAR), 32000))), chr(10)), 16000)
        AS tool_input,
    left(array_to_string(list_transform(list_filter(blocks, lambda b: b.type = 'tool_result'),
                                        lambda b: json_text_unescaped(left(CAST(b.run.result AS VARCHAR), 32000))), chr(10)), 16000)
        AS tool_result
FROM amp_blocks
