-- Qwen Code lines into the normalized_messages contract (star_pipeline/normalized/normalized_messages.sql).
-- {lines} is the raw lines to read, whole. A line: {uuid, parentUuid, sessionId, timestamp, type:
-- user|assistant|tool_result|system, cwd, version, gitBranch, message: a Gemini Content {role, parts[]}}.
-- Tokens are inclusive (cachedContentTokenCount inside promptTokenCount, thoughtsTokenCount inside
-- candidatesTokenCount); api_calls carries them in the warehouse's semantics: input = prompt - cached,
-- cache read = cached, output = candidates (reasoning inside), reasoning = thoughts. Assistant lines
-- carry their call (usageMetadata, call_id = the line's uuid); `system` ui_telemetry lines with
-- event.name qwen-code.api_response log every call again (call_id = response_id), including calls
-- made inside a tool that have no assistant line (usage.sql counts each call once).
WITH qwen AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset,
        json_transform(transcript_json(r.line_bytes), '{
            "uuid": "VARCHAR", "parentUuid": "VARCHAR", "sessionId": "VARCHAR", "timestamp": "VARCHAR",
            "type": "VARCHAR", "subtype": "VARCHAR", "cwd": "VARCHAR", "version": "VARCHAR", "gitBranch": "VARCHAR",
            "model": "VARCHAR",
            "usageMetadata": {"promptTokenCount": "BIGINT", "candidatesTokenCount": "BIGINT",
                              "thoughtsTokenCount": "BIGINT", "cachedContentTokenCount": "BIGINT"},
            "message": {"role": "VARCHAR", "parts": "JSON"},
            "toolCallResult": {"callId": "VARCHAR", "status": "VARCHAR"},
            "systemPayload": {"uiEvent": "JSON"}}') AS j
    FROM {lines} r
    WHERE transcript_json(r.line_bytes) IS NOT NULL
),
qwen_parts AS (
    SELECT *,
        CASE WHEN json_type(j.message.parts) = 'ARRAY' THEN json_transform(j.message.parts, '[{"text": "VARCHAR",
            "thought": "BOOLEAN", "functionCall": {"id": "VARCHAR", "name": "VARCHAR", "args": "JSON"},
            "functionResponse": {"id": "VARCHAR", "name": "VARCHAR", "response": "JSON"}}]') END AS raw_parts,
        json_transform(j.systemPayload.uiEvent, '{"event.name": "VARCHAR", "response_id": "VARCHAR", "model": "VARCHAR",
            "input_token_count": "BIGINT", "output_token_count": "BIGINT", "cached_content_token_count": "BIGINT",
            "thoughts_token_count": "BIGINT", "status_code": "BIGINT"}') AS ui
    FROM qwen
),
qwen_outcomes AS (
    SELECT *, list_transform(raw_parts, lambda p: struct_insert(p, exit_code := TRY_CAST(nullif(regexp_extract(
        json_extract_string(p.functionResponse.response, '$.output'), '(?m)^Exit Code: (-?[0-9]+)\s*$', 1), '') AS INTEGER))) AS parts
    FROM qwen_parts
)
SELECT
    'qwen' AS source,
    path, file_version, line_number, byte_offset,
    coalesce(j.sessionId, nullif(regexp_extract(path, '([^/]+)\.jsonl$', 1), '')) AS session_id,
    'main' AS file_kind,
    coalesce(j.type, '(no type)') AS record_type,
    coalesce(ui."event.name", j.subtype) AS subtype,
    j.uuid AS uuid,
    j.parentUuid AS parent_uuid,
    TRY_CAST(j.timestamp AS TIMESTAMPTZ) AS event_ts,
    j.message.role AS role,
    array_to_string(list_sort(list_distinct(list_transform(parts, lambda p: CASE
        WHEN p.functionCall.name IS NOT NULL THEN 'functionCall'
        WHEN p.functionResponse.id IS NOT NULL THEN 'functionResponse'
        WHEN p.thought THEN 'thought' ELSE 'text' END))), ',') AS content_kind,
    coalesce(list_sum(list_transform(parts, lambda p: coalesce(length(p.text), 0))), 0) AS text_length,
    FALSE AS is_sidechain,
    FALSE AS is_meta,
    FALSE AS is_compact_summary,
    j.cwd AS cwd,
    j.gitBranch AS git_branch,
    j.version AS tool_version,
    coalesce(j.model, ui.model) AS model,
    ui.response_id AS request_id,
    CASE
        WHEN j.type = 'assistant' AND j.usageMetadata.promptTokenCount IS NOT NULL THEN [{
            'call_id': j.uuid, 'model': j.model,
            'input_tokens': j.usageMetadata.promptTokenCount - coalesce(j.usageMetadata.cachedContentTokenCount, 0),
            'output_tokens': coalesce(j.usageMetadata.candidatesTokenCount, 0),
            'cache_creation_input_tokens': CAST(0 AS BIGINT),
            'cache_read_input_tokens': coalesce(j.usageMetadata.cachedContentTokenCount, 0),
            'reasoning_output_tokens': coalesce(j.usageMetadata.thoughtsTokenCount, 0)}]
        WHEN ui."event.name" = 'qwen-code.api_response' AND ui.input_token_count IS NOT NULL THEN [{
            'call_id': ui.response_id, 'model': ui.model,
            'input_tokens': ui.input_token_count - coalesce(ui.cached_content_token_count, 0),
            'output_tokens': coalesce(ui.output_token_count, 0),
            'cache_creation_input_tokens': CAST(0 AS BIGINT),
            'cache_read_input_tokens': coalesce(ui.cached_content_token_count, 0),
            'reasoning_output_tokens': coalesce(ui.thoughts_token_count, 0)}]
    END AS api_calls,
    list_transform(
        list_filter(parts, lambda p: p.functionCall.name IS NOT NULL OR p.functionResponse.id IS NOT NULL),
        lambda p: {
            'kind': CASE WHEN p.functionCall.name IS NOT NULL THEN 'call' ELSE 'result' END,
            'call_id': coalesce(p.functionCall.id, p.functionResponse.id),
            'tool_name': coalesce(p.functionCall.name, p.functionResponse.name),
            'input_size': length(CAST(p.functionCall.args AS VARCHAR)),
            'target_path': coalesce(json_extract_string(p.functionCall.args, '$.absolute_path'),
                                    json_extract_string(p.functionCall.args, '$.file_path'),
                                    json_extract_string(p.functionCall.args, '$.path')),
            'subagent_type': CAST(NULL AS VARCHAR),
            'skill_name': CAST(NULL AS VARCHAR),
            'is_error': coalesce(json_extract(p.functionResponse.response, '$.error') IS NOT NULL, FALSE),
            'result_size': CASE WHEN p.functionResponse.id IS NOT NULL THEN length(CAST(p.functionResponse.response AS VARCHAR)) END,
            'command': left(json_extract_string(p.functionCall.args, '$.command'), 16000),
            -- the tool_result line's toolCallResult.status (success, error, cancelled: the user declined or
            -- stopped it); a shell command that ran is a success whatever its exit: its output's 'Exit Code: N'
            'status': CASE WHEN p.functionResponse.id IS NULL OR j.toolCallResult.callId IS DISTINCT FROM p.functionResponse.id
                               OR j.toolCallResult.status IS NULL THEN NULL
                           WHEN j.toolCallResult.status = 'success' AND p.exit_code <> 0 THEN 'failed'
                           WHEN j.toolCallResult.status = 'success' THEN 'ok'
                           WHEN j.toolCallResult.status = 'error' THEN 'failed'
                           WHEN j.toolCallResult.status = 'cancelled' THEN 'rejected' END,
            'exit_code': p.exit_code,
            'duration_ms': CAST(NULL AS BIGINT),
            'status_reason': CASE WHEN p.functionResponse.id IS NULL OR j.toolCallResult.callId IS DISTINCT FROM p.functionResponse.id
                                      OR j.toolCallResult.status IS NULL THEN NULL
                                  WHEN j.toolCallResult.status = 'success' AND p.exit_code IS NOT NULL THEN 'exit code'
                                  ELSE 'status field' END
        }) AS tool_blocks,
    left(array_to_string(list_transform(list_filter(parts, lambda p: p.text IS NOT NULL),
                                        lambda p: left(p.text, 16000)), chr(10)), 16000) AS message_text,
    left(array_to_string(list_transform(list_filter(parts, lambda p: p.functionCall.name IS NOT NULL),
                                        lambda p: json_text_unescaped(left(CAST(p.functionCall.args AS VARCHAR), 32000))), chr(10)),
         16000) AS tool_input,
    left(array_to_string(list_transform(list_filter(parts, lambda p: p.functionResponse.id IS NOT NULL),
                                        lambda p: json_text_unescaped(left(CAST(p.functionResponse.response AS VARCHAR), 32000))), chr(10)),
         16000) AS tool_result
FROM qwen_outcomes
