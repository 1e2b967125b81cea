-- Crush into the normalized_messages contract (star_pipeline/normalized/normalized_messages.sql).
-- crush.db is kept as a piece per row (raw/databases.py): {"key": {...}, "row": {<columns>}, "table":
-- "sessions|messages"}, stored again when the row changes, {"deleted":true} where a row went.
-- A sessions row: id, parent_session_id (a sub-agent's session), title, message_count, prompt_tokens and
-- completion_tokens of the session's LAST call only (overwritten after each call: prompt = input + cache
-- write, completion = output + cache read), cost (a running sum, USD), created_at and updated_at (epoch
-- seconds; milliseconds in Crush's schema comments, read either way). A messages row: session_id, role
-- (user|assistant|tool), parts (a JSON array of {type: text|reasoning|tool_call|tool_result|finish|...,
-- data}), model, provider, created_at. There is no per-call usage: the session row's stored tokens are one
-- api_calls entry (usage.sql books it; ../shared/FORMATS-agents2.md section 2). No cwd column: the project
-- is the folder holding .crush/.
-- A tool call's outcome is its tool_result part's is_error: true failed ('flag'), but Crush's own results for a
-- call the user denied ("Permission denied", "User denied permission": rejected, the reply's finish reason
-- permission_denied) or cancelled ("Tool execution canceled by user": interrupted, finish reason canceled); false
-- ok, but a command whose metadata.output ends with Crush's line "Exit code N" (bash: is_error stays false) is
-- failed with that exit code. A bash result's metadata start_time and end_time (ms) are its duration.
WITH pieces AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset, document_json(r.line_bytes) AS doc
    FROM {lines} r
    WHERE document_json(r.line_bytes) IS NOT NULL
),
parsed AS (
    SELECT *,
        CASE WHEN json_extract_string(doc, '$.deleted') = 'true' THEN 'deleted' ELSE json_extract_string(doc, '$.table') END AS kind,
        json_transform(json_extract(doc, '$.row'), '{"id": "VARCHAR", "session_id": "VARCHAR", "parent_session_id": "VARCHAR",
            "title": "VARCHAR", "role": "VARCHAR", "parts": "VARCHAR", "model": "VARCHAR", "provider": "VARCHAR",
            "prompt_tokens": "BIGINT", "completion_tokens": "BIGINT", "created_at": "BIGINT", "updated_at": "BIGINT"}') AS j
    FROM pieces
),
shaped AS (
    SELECT *,
        CASE WHEN kind = 'messages' AND json_valid(j.parts) THEN json_transform(j.parts, '[{"type": "VARCHAR",
            "data": {"text": "VARCHAR", "thinking": "VARCHAR", "id": "VARCHAR", "name": "VARCHAR", "input": "VARCHAR",
                     "tool_call_id": "VARCHAR", "content": "VARCHAR", "is_error": "BOOLEAN", "reason": "VARCHAR",
                     "metadata": "VARCHAR"}}]') END AS items,
        -- epoch seconds as written; a value past 1e11 is milliseconds
        CASE WHEN kind = 'sessions' THEN j.updated_at ELSE j.created_at END AS epoch
    FROM parsed
),
with_outcomes AS (
    -- each tool_result part with the exit code its output closes with and the duration its metadata gives
    SELECT * REPLACE (list_transform(items, lambda i: struct_insert(i,
        exit_code := TRY_CAST(nullif(regexp_extract(json_extract_string(try(json(i.data.metadata)), '$.output'),
                                                    '(?:^|\n)Exit code (-?[0-9]+)\s*$', 1), '') AS INTEGER),
        duration_ms := TRY_CAST(json_extract(try(json(i.data.metadata)), '$.end_time') AS BIGINT)
                       - TRY_CAST(json_extract(try(json(i.data.metadata)), '$.start_time') AS BIGINT),
        denied := i.data.is_error AND trim(i.data.content) IN ('Permission denied', 'User denied permission'),
        canceled := i.data.is_error AND trim(i.data.content) = 'Tool execution canceled by user')) AS items)
    FROM shaped
)
SELECT
    'crush' AS source,
    path, file_version, line_number, byte_offset,
    CASE WHEN kind = 'sessions' THEN j.id ELSE j.session_id END AS session_id,
    'main' AS file_kind,
    coalesce(kind, 'unknown') AS record_type,
    j.role AS subtype,
    CAST(coalesce(json_extract_string(doc, '$.key.id'), '') AS VARCHAR) AS uuid,
    CASE WHEN kind = 'sessions' THEN j.parent_session_id END AS parent_uuid,
    CASE WHEN epoch > 100000000000 THEN make_timestamptz(epoch * 1000) WHEN epoch IS NOT NULL THEN to_timestamp(epoch) END AS event_ts,
    j.role AS role,
    array_to_string(list_sort(list_distinct(list_transform(items, lambda i: coalesce(i.type, '?')))), ',') AS content_kind,
    coalesce(list_sum(list_transform(items, lambda i: coalesce(length(i.data.text), 0) + coalesce(length(i.data.thinking), 0))), 0)
        AS text_length,
    FALSE AS is_sidechain,
    FALSE AS is_meta,
    FALSE AS is_compact_summary,
    -- the project: the folder holding .crush/ (a data folder of another name: its parent)
    regexp_replace(path, '/[^/]+/[^/]+$', '') AS cwd,
    nullif(j.model, '') AS model,
    -- the session's stored tokens, without a model: usage.sql takes the session's last assistant message's
    CASE WHEN kind = 'sessions' THEN [{
        'call_id': 'session', 'model': CAST(NULL AS VARCHAR),
        'input_tokens': coalesce(j.prompt_tokens, 0), 'output_tokens': coalesce(j.completion_tokens, 0),
        'cache_creation_input_tokens': CAST(0 AS BIGINT), 'cache_read_input_tokens': CAST(0 AS BIGINT),
        'reasoning_output_tokens': CAST(0 AS BIGINT)}] END AS api_calls,
    list_transform(list_filter(items, lambda i: i.type IN ('tool_call', 'tool_result')), lambda i: {
        'kind': CASE i.type WHEN 'tool_call' THEN 'call' ELSE 'result' END,
        'call_id': coalesce(i.data.id, i.data.tool_call_id), 'tool_name': nullif(i.data.name, ''),
        'input_size': length(i.data.input),
        'target_path': coalesce(json_extract_string(i.data.input, '$.file_path'), json_extract_string(i.data.input, '$.path')),
        'subagent_type': CAST(NULL AS VARCHAR), 'skill_name': CAST(NULL AS VARCHAR),
        'is_error': coalesce(i.data.is_error, FALSE),
        'result_size': CASE WHEN i.type = 'tool_result' THEN length(i.data.content) END,
        'command': left(json_extract_string(i.data.input, '$.command'), 16000),
        'status': CASE WHEN i.type <> 'tool_result' OR i.data.is_error IS NULL THEN NULL
                       WHEN i.denied THEN 'rejected' WHEN i.canceled THEN 'interrupted'
                       WHEN i.data.is_error OR i.exit_code <> 0 THEN 'failed' ELSE 'ok' END,
        'exit_code': CASE WHEN i.type = 'tool_result' AND NOT i.data.is_error THEN i.exit_code END,
        'duration_ms': CASE WHEN i.type = 'tool_result' THEN i.duration_ms END,
        'status_reason': CASE WHEN i.type <> 'tool_result' OR i.data.is_error IS NULL THEN NULL
                              WHEN i.denied THEN 'permission denied' WHEN i.canceled THEN 'canceled by user'
                              WHEN NOT i.data.is_error AND i.exit_code IS NOT NULL THEN 'exit code'
                              ELSE 'flag' END}) AS tool_blocks,
    left(CASE WHEN kind = 'sessions' THEN j.title
              ELSE array_to_string(list_transform(list_filter(items, lambda i: i.type IN ('text', 'reasoning')),
                                                  lambda i: left(coalesce(i.data.text, i.data.thinking), 16000)), chr(10))
         END, 16000) AS message_text,
    left(array_to_string(list_transform(list_filter(items, lambda i: i.type = 'tool_call'), lambda i: left(i.data.input, 16000)), chr(10)), 16000)
        AS tool_input,
    left(array_to_string(list_transform(list_filter(items, lambda i: i.type = 'tool_result'), lambda i: left(i.data.content, 16000)), chr(10)), 16000)
        AS tool_result
FROM with_outcomes
