-- Gemini CLI chats into the normalized_messages contract (star_pipeline/normalized/normalized_messages.sql).
-- Two shapes live side by side under <project>/chats/ (../shared/FORMATS-agents.md section 1):
--   session-*.json: one JSON document {sessionId, projectHash, startTime, lastUpdated, kind?, summary?,
--     messages[]} rewritten whole; the raw layer keeps it as pieces (raw/documents.py): the document at
--     position 0 (its messages emptied) and each message at its position;
--   session-*.jsonl: appended lines, line 1 {sessionId, ..., kind: "main"}, then messages, {"$set": {...}}
--     and {"$rewindTo": id} lines; a message is appended again, same id, when it gains tokens or tool calls.
-- A message {id, timestamp, type: user|gemini|info, content, model?, tokens?, thoughts[]?, toolCalls[]?}
-- is stored again each time it changes: usage.sql keeps its last copy. The file's header (position 0
-- of a document, line 1 of a .jsonl) names the session; a sub-agent's file,
-- chats/<parent sessionId>/<6 chars>.json, belongs to the parent session (file_kind 'subagent', its own
-- sessionId as agent_id). Tokens in Gemini's semantics (cached inside input, thoughts outside output)
-- become ours in api_calls: input - cached + tool, cache read cached, output + thoughts, reasoning thoughts.
WITH heads AS (
    SELECT h.path,
        any_value(regexp_extract(decode(h.line_bytes), '"sessionId"\s*:\s*"([^"]*)"', 1)) AS header_session,
        any_value(regexp_extract(decode(h.line_bytes), '"kind"\s*:\s*"([^"]*)"', 1)) AS header_kind
    FROM raw.gemini_lines h
    WHERE h.part_number = 1 AND ((h.line_number = 0) OR (h.line_number = 1 AND h.path LIKE '%.jsonl'))
      AND try(decode(h.line_bytes)) IS NOT NULL AND h.path IN (SELECT path FROM {lines})
    GROUP BY h.path
),
gemini AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset,
        r.line_number = 0 OR (r.line_number = 1 AND r.path LIKE '%.jsonl') AS is_head,
        regexp_extract(r.path, '/chats/([0-9a-fA-F]{8}-[0-9a-fA-F-]{27})/[^/]+$', 1) AS parent_session,
        nullif(h.header_session, '') AS header_session, nullif(h.header_kind, '') AS header_kind,
        json_transform(document_json(r.line_bytes), '{"id": "VARCHAR", "timestamp": "VARCHAR", "type": "VARCHAR",
            "content": "JSON", "model": "VARCHAR", "startTime": "VARCHAR", "summary": "VARCHAR",
            "tokens": {"input": "BIGINT", "output": "BIGINT", "cached": "BIGINT", "thoughts": "BIGINT", "tool": "BIGINT"},
            "thoughts": [{"subject": "VARCHAR", "description": "VARCHAR"}],
            "toolCalls": [{"id": "VARCHAR", "name": "VARCHAR", "args": "JSON", "status": "VARCHAR", "result": "JSON"}],
            "$set": "JSON", "$rewindTo": "VARCHAR"}') AS j
    FROM {lines} r
    LEFT JOIN heads h USING (path)
    WHERE document_json(r.line_bytes) IS NOT NULL
),
shaped AS (
    SELECT *,
        CASE WHEN is_head THEN 'session' WHEN j."$set" IS NOT NULL THEN 'set' WHEN j."$rewindTo" IS NOT NULL THEN 'rewind'
             WHEN j.type IS NOT NULL THEN 'message' ELSE 'unknown' END AS r_kind,
        CASE WHEN json_type(j.content) = 'VARCHAR' THEN j.content ->> '$'
             WHEN json_type(j.content) = 'ARRAY'
             THEN array_to_string(list_transform(CAST(j.content -> '$[*].text' AS VARCHAR[]), lambda t: json_text_unescaped(left(t, 32000))), chr(10))
        END AS content_text,
        parent_session <> '' AS in_subagent_folder,
        list_transform(j.toolCalls, lambda t: struct_insert(t, exit_code := TRY_CAST(nullif(regexp_extract(
            json_extract_string(t.result, '$[0].functionResponse.response.output'), '(?m)^Exit Code: (-?[0-9]+)\s*$', 1), '') AS INTEGER)))
            AS tool_calls
    FROM gemini
)
SELECT
    'gemini' AS source,
    path, file_version, line_number, byte_offset,
    CASE WHEN in_subagent_folder THEN parent_session
         ELSE coalesce(header_session, regexp_extract(path, '([^/]+)\.jsonl?$', 1)) END AS session_id,
    CASE WHEN in_subagent_folder THEN coalesce(header_session, regexp_extract(path, '([^/]+)\.json$', 1)) END AS agent_id,
    CASE WHEN in_subagent_folder THEN 'subagent' ELSE 'main' END AS file_kind,
    r_kind AS record_type,
    j.type AS subtype,
    CASE WHEN r_kind = 'message' THEN j.id WHEN r_kind = 'rewind' THEN j."$rewindTo" END AS uuid,
    coalesce(TRY_CAST(j.timestamp AS TIMESTAMPTZ), CASE WHEN r_kind = 'session' THEN TRY_CAST(j.startTime AS TIMESTAMPTZ) END) AS event_ts,
    CASE j.type WHEN 'user' THEN 'user' WHEN 'gemini' THEN 'assistant' WHEN 'info' THEN 'system' END AS role,
    array_to_string(list_distinct(list_filter([
        CASE WHEN content_text <> '' THEN 'text' END,
        CASE WHEN len(j.thoughts) > 0 THEN 'thinking' END,
        CASE WHEN len(j.toolCalls) > 0 THEN 'tool_use' END], lambda k: k IS NOT NULL)), ',') AS content_kind,
    coalesce(length(content_text), 0) AS text_length,
    in_subagent_folder OR coalesce(header_kind = 'subagent', FALSE) AS is_sidechain,
    FALSE AS is_meta,
    FALSE AS is_compact_summary,
    j.model AS model,
    CASE WHEN r_kind = 'message' THEN j.id END AS message_id,
    CASE WHEN r_kind = 'message' AND j.tokens.input IS NOT NULL THEN [{
        'call_id': j.id, 'model': j.model,
        'input_tokens': j.tokens.input - coalesce(j.tokens.cached, 0) + coalesce(j.tokens.tool, 0),
        'output_tokens': coalesce(j.tokens.output, 0) + coalesce(j.tokens.thoughts, 0),
        'cache_creation_input_tokens': CAST(0 AS BIGINT),
        'cache_read_input_tokens': coalesce(j.tokens.cached, 0),
        'reasoning_output_tokens': coalesce(j.tokens.thoughts, 0)}] END AS api_calls,
    -- each tool call holds its result: a 'call' block, and a 'result' block once it has a status
    list_concat(
        list_transform(j.toolCalls, lambda t: {
            'kind': 'call', 'call_id': t.id, 'tool_name': t.name, 'input_size': length(CAST(t.args AS VARCHAR)),
            'target_path': coalesce(json_extract_string(t.args, '$.file_path'), json_extract_string(t.args, '$.absolute_path'),
                                    json_extract_string(t.args, '$.path'), json_extract_string(t.args, '$.dir_path')),
            'subagent_type': CAST(NULL AS VARCHAR), 'skill_name': CAST(NULL AS VARCHAR), 'is_error': CAST(NULL AS BOOLEAN),
            'result_size': CAST(NULL AS BIGINT), 'command': left(json_extract_string(t.args, '$.command'), 16000),
            'status': CAST(NULL AS VARCHAR), 'exit_code': CAST(NULL AS INTEGER), 'duration_ms': CAST(NULL AS BIGINT),
            'status_reason': CAST(NULL AS VARCHAR)}),
        list_transform(list_filter(tool_calls, lambda t: t.status IN ('success', 'error', 'cancelled')), lambda t: {
            'kind': 'result', 'call_id': t.id, 'tool_name': t.name, 'input_size': CAST(NULL AS BIGINT),
            'target_path': CAST(NULL AS VARCHAR), 'subagent_type': CAST(NULL AS VARCHAR), 'skill_name': CAST(NULL AS VARCHAR),
            'is_error': t.status <> 'success', 'result_size': length(CAST(t.result AS VARCHAR)), 'command': CAST(NULL AS VARCHAR),
            -- the call's status field: success, error, or cancelled (the user declined or stopped it); a shell
            -- command that ran is 'success' whatever its exit: its output's 'Exit Code: N' line tells
            'status': CASE WHEN t.status = 'success' AND t.exit_code <> 0 THEN 'failed'
                           WHEN t.status = 'success' THEN 'ok' WHEN t.status = 'error' THEN 'failed' ELSE 'rejected' END,
            'exit_code': t.exit_code, 'duration_ms': CAST(NULL AS BIGINT),
            'status_reason': CASE WHEN t.exit_code IS NOT NULL AND t.status = 'success' THEN 'exit code' ELSE 'status field' END})
    ) AS tool_blocks,
    left(CASE WHEN r_kind = 'session' THEN j.summary
              ELSE concat_ws(chr(10), nullif(left(content_text, 16000), ''),
                             nullif(array_to_string(list_transform(j.thoughts, lambda t: concat_ws(': ', t.subject, t.description)), chr(10)), ''))
         END, 16000) AS message_text,
    left(array_to_string(list_transform(j.toolCalls, lambda t: json_text_unescaped(left(CAST(t.args AS VARCHAR), 32000))), chr(10)), 16000)
        AS tool_input,
    left(array_to_string(list_transform(j.toolCalls, lambda t: json_text_unescaped(left(CAST(t.result AS VARCHAR), 32000))), chr(10)), 16000)
        AS tool_result
FROM shaped
