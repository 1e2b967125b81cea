-- Kimi CLI lines into the normalized_messages contract (star_pipeline/normalized/normalized_messages.sql).
-- {lines} is the raw lines to read, whole. A session is a folder ~/.kimi/sessions/<md5 of the work
-- dir>/<sessionId>/ holding wire.jsonl (the event stream: {timestamp (epoch seconds), message{type,
-- payload}}, a sub-agent's events wrapped in SubagentEvent{task_tool_call_id, event}) and
-- context*.jsonl (the model's context: {role, content}, `_usage`/`_checkpoint` bookkeeping rows).
-- A StatusUpdate with token_usage is one API call (input_other excludes cache): api_calls, call_id =
-- its message_id; nested ones are the sub-agent's calls, in the same session (agent_id = the Task call).
WITH kimi AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset,
        json_transform(transcript_json(r.line_bytes), '{"timestamp": "DOUBLE", "type": "VARCHAR",
            "message": {"type": "VARCHAR", "payload": "JSON"}, "role": "VARCHAR", "content": "JSON"}') AS j
    FROM {lines} r
    WHERE transcript_json(r.line_bytes) IS NOT NULL
),
events AS (
    SELECT *,
        j.message.type = 'SubagentEvent' AS nested,
        CASE WHEN j.message.type = 'SubagentEvent' THEN json_extract_string(j.message.payload, '$.task_tool_call_id') END AS task_id,
        CASE WHEN j.message.type = 'SubagentEvent' THEN json_extract_string(j.message.payload, '$.event.type')
             ELSE j.message.type END AS event_type,
        CASE WHEN j.message.type = 'SubagentEvent' THEN json_extract(j.message.payload, '$.event.payload')
             ELSE j.message.payload END AS payload
    FROM kimi
),
parsed AS (
    SELECT *,
        json_transform(payload, '{"type": "VARCHAR", "text": "VARCHAR", "think": "VARCHAR", "message_id": "VARCHAR",
            "token_usage": {"input_other": "BIGINT", "output": "BIGINT", "input_cache_read": "BIGINT",
                            "input_cache_creation": "BIGINT"},
            "id": "VARCHAR", "function": {"name": "VARCHAR", "arguments": "VARCHAR"},
            "tool_call_id": "VARCHAR", "return_value": {"is_error": "BOOLEAN", "output": "JSON", "message": "VARCHAR"},
            "user_input": "JSON"}') AS p
    FROM events
)
SELECT
    'kimi' AS source,
    path, file_version, line_number, byte_offset,
    nullif(regexp_extract(path, '([^/]+)/[^/]+\.jsonl$', 1), '') AS session_id,
    task_id AS agent_id,
    'main' AS file_kind,
    CASE WHEN j.message.type IS NOT NULL THEN event_type
         WHEN j.role IS NOT NULL THEN 'context_' || j.role
         ELSE coalesce(j.type, '(no type)') END AS record_type,
    CASE WHEN nested THEN 'subagent' ELSE p.type END AS subtype,
    to_timestamp(j.timestamp) AS event_ts,
    CASE WHEN event_type = 'TurnBegin' THEN 'user' WHEN event_type IN ('ContentPart', 'ToolCall') THEN 'assistant'
         ELSE j.role END AS role,
    nested AS is_sidechain,
    FALSE AS is_meta,
    FALSE AS is_compact_summary,
    p.message_id AS request_id,
    CASE WHEN event_type = 'StatusUpdate' AND p.token_usage.output IS NOT NULL THEN [{
        'call_id': p.message_id, 'model': CAST(NULL AS VARCHAR),
        'input_tokens': coalesce(p.token_usage.input_other, 0),
        'output_tokens': coalesce(p.token_usage.output, 0),
        'cache_creation_input_tokens': coalesce(p.token_usage.input_cache_creation, 0),
        'cache_read_input_tokens': coalesce(p.token_usage.input_cache_read, 0),
        'reasoning_output_tokens': CAST(0 AS BIGINT)}] END AS api_calls,
    CASE
        WHEN event_type = 'ToolCall' THEN [{
            'kind': 'call', 'call_id': p.id, 'tool_name': p.function.name, 'input_size': length(p.function.arguments),
            'target_path': json_extract_string(CASE WHEN json_valid(p.function.arguments) THEN p.function.arguments END, '$.path'),
            'subagent_type': CAST(NULL AS VARCHAR), 'skill_name': CAST(NULL AS VARCHAR), 'is_error': FALSE,
            'result_size': CAST(NULL AS BIGINT),
            'command': left(json_extract_string(CASE WHEN json_valid(p.function.arguments) THEN p.function.arguments END,
                                                '$.command'), 16000),
            'status': CAST(NULL AS VARCHAR), 'exit_code': CAST(NULL AS INTEGER), 'duration_ms': CAST(NULL AS BIGINT), 'status_reason': CAST(NULL AS VARCHAR)}]
        WHEN event_type = 'ToolResult' THEN [{
            'kind': 'result', 'call_id': p.tool_call_id, 'tool_name': CAST(NULL AS VARCHAR), 'input_size': CAST(NULL AS BIGINT),
            'target_path': CAST(NULL AS VARCHAR), 'subagent_type': CAST(NULL AS VARCHAR), 'skill_name': CAST(NULL AS VARCHAR),
            'is_error': coalesce(p.return_value.is_error, FALSE),
            'result_size': length(CAST(p.return_value.output AS VARCHAR)), 'command': CAST(NULL AS VARCHAR),
            -- return_value.is_error is the flag; its message names a shell command's exit code ('Command failed
            -- with exit code: N.') and a call the user refused ('... rejected by the user ...')
            'status': CASE WHEN p.return_value.is_error IS NULL THEN NULL
                           WHEN p.return_value.is_error AND p.return_value.message ILIKE '%rejected by the user%' THEN 'rejected'
                           WHEN p.return_value.is_error THEN 'failed' ELSE 'ok' END,
            'exit_code': TRY_CAST(nullif(regexp_extract(p.return_value.message, '^Command failed with exit code: (-?[0-9]+)', 1), '') AS INTEGER),
            'duration_ms': CAST(NULL AS BIGINT),
            'status_reason': CASE WHEN p.return_value.is_error IS NULL THEN NULL
                                  WHEN p.return_value.is_error AND p.return_value.message ILIKE '%rejected by the user%' THEN 'rejected by user'
                                  WHEN regexp_matches(p.return_value.message, '^Command failed with exit code: ') THEN 'exit code'
                                  ELSE 'flag' END}]
    END AS tool_blocks,
    left(CASE
        WHEN event_type = 'ContentPart' THEN coalesce(p.text, p.think)
        WHEN event_type = 'TurnBegin' THEN array_to_string(json_extract_string(p.user_input, '$[*].text'), chr(10))
        WHEN json_type(j.content) = 'VARCHAR' THEN j.content ->> '$'
        WHEN json_type(j.content) = 'ARRAY' THEN array_to_string(list_transform(
            json_transform(j.content, '[{"text": "VARCHAR", "think": "VARCHAR"}]'), lambda b: coalesce(b.text, b.think)), chr(10))
    END, 16000) AS message_text,
    CASE WHEN event_type = 'ToolCall' THEN left(json_text_unescaped(left(p.function.arguments, 32000)), 16000) END AS tool_input,
    CASE WHEN event_type = 'ToolResult' THEN left(json_text_unescaped(left(CAST(p.return_value.output AS VARCHAR), 32000)), 16000)
    END AS tool_result
FROM parsed
