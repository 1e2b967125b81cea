-- Goose into the normalized_messages contract (star_pipeline/normalized/normalized_messages.sql).
-- sessions.db (schema v5 and later) is kept as a piece per row (raw/databases.py):
-- {"key": {...}, "row": {<columns>}, "table": "sessions|messages"}, stored again when the row changes,
-- {"deleted":true} where a row went. A sessions row: id "YYYYMMDD_n", name, working_dir, created_at
-- (UTC text without a zone), and running token totals: accumulated_input/output_tokens for the
-- session, input/output_tokens for its latest exchange; no cache fields, and a model only in newer
-- schemas (model_config_json). A messages row: session_id, role, content_json (a list of content
-- items: text, toolRequest {id, toolCall{value{name, arguments}}}, toolResponse {id, toolResult{status,
-- value}}), created_timestamp (epoch seconds). The session's total is one api_calls entry of its row.
WITH pieces AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset, document_json(r.line_bytes) AS doc
    FROM {lines} r
    WHERE document_json(r.line_bytes) IS NOT NULL
),
parsed AS (
    SELECT *,
        CASE WHEN json_extract_string(doc, '$.deleted') = 'true' THEN 'deleted' ELSE json_extract_string(doc, '$.table') END AS kind,
        json_transform(json_extract(doc, '$.row'), '{"id": "VARCHAR", "session_id": "VARCHAR", "name": "VARCHAR", "role": "VARCHAR",
            "working_dir": "VARCHAR", "created_at": "VARCHAR", "created_timestamp": "BIGINT", "content_json": "VARCHAR",
            "model_config_json": "VARCHAR", "accumulated_input_tokens": "BIGINT", "accumulated_output_tokens": "BIGINT",
            "input_tokens": "BIGINT", "output_tokens": "BIGINT"}') AS j
    FROM pieces
),
shaped AS (
    SELECT *,
        CASE WHEN kind = 'messages' AND json_valid(j.content_json) THEN json_transform(j.content_json, '[{"type": "VARCHAR",
            "text": "VARCHAR", "id": "VARCHAR", "toolCall": {"status": "VARCHAR", "value": {"name": "VARCHAR", "arguments": "JSON"}},
            "toolResult": {"status": "VARCHAR", "value": "JSON"}}]') END AS items,
        coalesce(j.accumulated_input_tokens, j.input_tokens) AS session_input,
        coalesce(j.accumulated_output_tokens, j.output_tokens) AS session_output,
        json_extract_string(j.model_config_json, '$.model_name') AS session_model
    FROM parsed
)
SELECT
    'goose' AS source,
    path, file_version, line_number, byte_offset,
    CASE WHEN kind = 'sessions' THEN j.id ELSE j.session_id END AS session_id,
    'main' AS file_kind,
    coalesce(kind, 'unknown') AS record_type,
    j.role AS subtype,
    CAST(coalesce(json_extract_string(doc, '$.key.id'), '') AS VARCHAR) AS uuid,
    coalesce(CASE WHEN j.created_timestamp IS NOT NULL THEN to_timestamp(j.created_timestamp) END,
             TRY_CAST(j.created_at || '+00' AS TIMESTAMPTZ)) AS event_ts,
    j.role AS role,
    array_to_string(list_sort(list_distinct(list_transform(items, lambda i: coalesce(i.type, '?')))), ',') AS content_kind,
    coalesce(list_sum(list_transform(items, lambda i: coalesce(length(i.text), 0))), 0) AS text_length,
    FALSE AS is_sidechain,
    FALSE AS is_meta,
    FALSE AS is_compact_summary,
    j.working_dir AS cwd,
    session_model AS model,
    CASE WHEN kind = 'sessions' AND coalesce(session_input, session_output) IS NOT NULL THEN [{
        'call_id': 'session-total', 'model': session_model,
        'input_tokens': coalesce(session_input, 0), 'output_tokens': coalesce(session_output, 0),
        'cache_creation_input_tokens': CAST(0 AS BIGINT), 'cache_read_input_tokens': CAST(0 AS BIGINT),
        'reasoning_output_tokens': CAST(0 AS BIGINT)}] END AS api_calls,
    list_transform(list_filter(items, lambda i: i.type IN ('toolRequest', 'toolResponse')), lambda i: {
        'kind': CASE i.type WHEN 'toolRequest' THEN 'call' ELSE 'result' END,
        'call_id': i.id, 'tool_name': i.toolCall.value.name, 'input_size': length(CAST(i.toolCall.value.arguments AS VARCHAR)),
        'target_path': json_extract_string(i.toolCall.value.arguments, '$.path'),
        'subagent_type': CAST(NULL AS VARCHAR), 'skill_name': CAST(NULL AS VARCHAR),
        'is_error': coalesce(i.toolResult.status = 'error', FALSE),
        'result_size': CASE WHEN i.type = 'toolResponse' THEN length(CAST(i.toolResult.value AS VARCHAR)) END,
        'command': left(json_extract_string(i.toolCall.value.arguments, '$.command'), 16000),
        -- toolResult.status: success or error
        'status': CASE WHEN i.type = 'toolResponse' THEN CASE i.toolResult.status WHEN 'success' THEN 'ok' WHEN 'error' THEN 'failed' END END,
        'exit_code': CAST(NULL AS INTEGER), 'duration_ms': CAST(NULL AS BIGINT),
        'status_reason': CASE WHEN i.type = 'toolResponse' AND i.toolResult.status IN ('success', 'error') THEN 'status field' END}) AS tool_blocks,
    left(CASE WHEN kind = 'sessions' THEN j.name
              ELSE array_to_string(list_transform(list_filter(items, lambda i: i.type = 'text'), lambda i: left(i.text, 16000)), chr(10))
         END, 16000) AS message_text,
    left(array_to_string(list_transform(list_filter(items, lambda i: i.type = 'toolRequest'),
                                        lambda i: json_text_unescaped(left(CAST(i.toolCall.value.arguments AS VARCHAR), 32000))), chr(10)), 16000)
        AS tool_input,
    left(array_to_string(list_transform(list_filter(items, lambda i: i.type = 'toolResponse'),
                                        lambda i: json_text_unescaped(left(CAST(i.toolResult.value AS VARCHAR), 32000))), chr(10)), 16000)
        AS tool_result
FROM shaped
