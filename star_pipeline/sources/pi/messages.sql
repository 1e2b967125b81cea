-- pi and OpenClaw sessions into the normalized_messages contract (star_pipeline/normalized/normalized_messages.sql);
-- ../shared/FORMATS-agents2.md section 3. {lines} is the raw lines to read, whole. Line 1 is the session
-- {type: session, version, id, timestamp, cwd}; then entries {type, id, parentId, timestamp} forming a tree:
-- model_change{provider, modelId}, thinking_level_change, message{message}, custom (OpenClaw), compaction,
-- branch_summary. message.role is user, assistant {content[text|thinking|toolCall], provider, model, usage,
-- stopReason, errorMessage?} or toolResult {toolCallId, toolName, content[], isError}. An assistant's usage
-- {input, output, cacheRead, cacheWrite, totalTokens, cost{..., total}} is one call (call_id the entry's id):
-- input excludes the cache, reasoning is inside output and not reported apart, cost.total is the USD pi
-- computed from its own model table. The session is the file's uuid (pi: <ISO time>_<uuid>.jsonl; OpenClaw:
-- <sessionId>.jsonl).
-- A tool call's outcome is its toolResult's isError: false ok, true failed ('flag'); a failed bash result ends
-- "Command exited with code N" (its exit code, 'exit code'), and one that ends "Command aborted" or is "Operation
-- aborted" (pi's words for a call stopped by the user's abort) is interrupted ('aborted'). An assistant reply that
-- ends with stopReason "aborted" gets no results (pi's agent loop stops before running its calls): its calls are
-- interrupted ('reply aborted'), told on the reply's own line. pi records no duration: the lines' times give it.
WITH pi AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset,
        json_transform(transcript_json(r.line_bytes), '{"type": "VARCHAR", "id": "VARCHAR", "parentId": "VARCHAR",
            "timestamp": "VARCHAR", "cwd": "VARCHAR", "version": "VARCHAR", "modelId": "VARCHAR", "customType": "VARCHAR",
            "summary": "VARCHAR",
            "message": {"role": "VARCHAR", "content": "JSON", "model": "VARCHAR", "stopReason": "VARCHAR",
                        "errorMessage": "VARCHAR", "responseId": "VARCHAR", "toolCallId": "VARCHAR", "toolName": "VARCHAR",
                        "isError": "BOOLEAN",
                        "usage": {"input": "BIGINT", "output": "BIGINT", "cacheRead": "BIGINT", "cacheWrite": "BIGINT",
                                  "cost": {"total": "DOUBLE"}}}}') AS j
    FROM {lines} r
    WHERE transcript_json(r.line_bytes) IS NOT NULL
),
pi_blocks AS (
    SELECT *,
        CASE WHEN json_type(j.message.content) = 'ARRAY' THEN json_transform(j.message.content,
            '[{"type": "VARCHAR", "text": "VARCHAR", "thinking": "VARCHAR", "id": "VARCHAR", "name": "VARCHAR",
               "arguments": "JSON"}]') END AS blocks,
        CASE WHEN json_type(j.message.content) = 'VARCHAR' THEN j.message.content ->> '$' END AS plain_text
    FROM pi
),
pi_outcomes AS (
    SELECT *,
        CASE WHEN j.message.role = 'toolResult' THEN coalesce(plain_text, array_to_string(list_transform(
            list_filter(blocks, lambda b: b.type = 'text'), lambda b: b.text), chr(10))) END AS result_text,
        CASE WHEN j.message.isError THEN TRY_CAST(nullif(regexp_extract(result_text,
            'Command exited with code (-?[0-9]+)\s*$', 1), '') AS INTEGER) END AS result_exit_code,
        j.message.isError AND (rtrim(result_text) = 'Operation aborted' OR ends_with(rtrim(result_text), 'Command aborted'))
            AS result_aborted
    FROM pi_blocks
)
SELECT
    'pi' AS source,
    path, file_version, line_number, byte_offset,
    coalesce(nullif(regexp_extract(path, '_([0-9a-fA-F]{8}-[0-9a-fA-F-]{27})\.jsonl$', 1), ''),
             regexp_extract(path, '([^/]+)\.jsonl$', 1)) AS session_id,
    'main' AS file_kind,
    coalesce(j.type, '(no type)') AS record_type,
    coalesce(j.message.role, j.customType) AS subtype,
    j.id AS uuid,
    j.parentId AS parent_uuid,
    TRY_CAST(j.timestamp AS TIMESTAMPTZ) AS event_ts,
    CASE j.message.role WHEN 'user' THEN 'user' WHEN 'assistant' THEN 'assistant' WHEN 'toolResult' THEN 'tool' END AS role,
    CASE WHEN j.message.role = 'toolResult' THEN 'tool_result'
         ELSE array_to_string(list_sort(list_distinct(list_transform(blocks, lambda b: CASE b.type
             WHEN 'toolCall' THEN 'tool_use' ELSE coalesce(b.type, '?') END))), ',') END AS content_kind,
    coalesce(list_sum(list_transform(blocks, lambda b: coalesce(length(b.text), length(b.thinking), 0))), length(plain_text), 0)
        AS text_length,
    FALSE AS is_sidechain,
    FALSE AS is_meta,
    j.type = 'compaction' AS is_compact_summary,
    CASE WHEN j.type = 'session' THEN j.cwd END AS cwd,
    CASE WHEN j.type = 'session' THEN j.version END AS tool_version,
    coalesce(j.message.model, j.modelId) AS model,
    j.message.responseId AS message_id,
    CASE WHEN j.message.role = 'assistant' AND j.message.usage.input IS NOT NULL THEN [{
        'call_id': j.id, 'model': j.message.model,
        'input_tokens': j.message.usage.input, 'output_tokens': coalesce(j.message.usage.output, 0),
        'cache_creation_input_tokens': coalesce(j.message.usage.cacheWrite, 0),
        'cache_read_input_tokens': coalesce(j.message.usage.cacheRead, 0),
        'reasoning_output_tokens': CAST(0 AS BIGINT), 'recorded_cost_usd': j.message.usage.cost.total}] END AS api_calls,
    CASE WHEN j.message.role = 'toolResult' THEN [{
            'kind': 'result', 'call_id': j.message.toolCallId, 'tool_name': j.message.toolName, 'input_size': CAST(NULL AS BIGINT),
            'target_path': CAST(NULL AS VARCHAR), 'subagent_type': CAST(NULL AS VARCHAR), 'skill_name': CAST(NULL AS VARCHAR),
            'is_error': coalesce(j.message.isError, FALSE), 'result_size': length(CAST(j.message.content AS VARCHAR)),
            'command': CAST(NULL AS VARCHAR),
            'status': CASE WHEN result_aborted THEN 'interrupted' WHEN j.message.isError THEN 'failed'
                           WHEN NOT j.message.isError THEN 'ok' END,
            'exit_code': result_exit_code, 'duration_ms': CAST(NULL AS BIGINT),
            'status_reason': CASE WHEN result_aborted THEN 'aborted' WHEN result_exit_code IS NOT NULL THEN 'exit code'
                                  WHEN j.message.isError IS NOT NULL THEN 'flag' END}]
         ELSE list_concat(list_transform(list_filter(blocks, lambda b: b.type = 'toolCall'), lambda b: {
            'kind': 'call', 'call_id': b.id, 'tool_name': b.name, 'input_size': length(CAST(b.arguments AS VARCHAR)),
            'target_path': coalesce(json_extract_string(b.arguments, '$.path'), json_extract_string(b.arguments, '$.file_path')),
            'subagent_type': CAST(NULL AS VARCHAR), 'skill_name': CAST(NULL AS VARCHAR), 'is_error': CAST(NULL AS BOOLEAN),
            'result_size': CAST(NULL AS BIGINT), 'command': left(json_extract_string(b.arguments, '$.command'), 16000),
            'status': CAST(NULL AS VARCHAR), 'exit_code': CAST(NULL AS INTEGER), 'duration_ms': CAST(NULL AS BIGINT),
            'status_reason': CAST(NULL AS VARCHAR)}),
            -- an aborted reply's calls: interrupted, their result told here (pi writes none)
            list_transform(list_filter(blocks, lambda b: b.type = 'toolCall' AND j.message.stopReason = 'aborted'), lambda b: {
            'kind': 'result', 'call_id': b.id, 'tool_name': b.name, 'input_size': CAST(NULL AS BIGINT),
            'target_path': CAST(NULL AS VARCHAR), 'subagent_type': CAST(NULL AS VARCHAR), 'skill_name': CAST(NULL AS VARCHAR),
            'is_error': FALSE, 'result_size': CAST(NULL AS BIGINT), 'command': CAST(NULL AS VARCHAR),
            'status': 'interrupted', 'exit_code': CAST(NULL AS INTEGER), 'duration_ms': CAST(NULL AS BIGINT),
            'status_reason': 'reply aborted'})) END
        AS tool_blocks,
    left(CASE WHEN j.message.role = 'toolResult' THEN NULL
              WHEN j.type IN ('compaction', 'branch_summary') THEN j.summary
              ELSE coalesce(plain_text, array_to_string(list_transform(list_filter(blocks, lambda b: b.type IN ('text', 'thinking')),
                                       lambda b: left(coalesce(b.text, b.thinking), 16000)), chr(10))) END, 16000) AS message_text,
    left(array_to_string(list_transform(list_filter(blocks, lambda b: b.type = 'toolCall'),
                                        lambda b: json_text_unescaped(left(CAST(b.arguments AS VARCHAR), 32000))), chr(10)), 16000)
        AS tool_input,
    CASE WHEN j.message.role = 'toolResult' THEN left(coalesce(plain_text, array_to_string(list_transform(
        list_filter(blocks, lambda b: b.type = 'text'), lambda b: left(b.text, 16000)), chr(10))), 16000) END AS tool_result
FROM pi_outcomes
