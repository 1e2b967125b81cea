-- Cline, Roo Code and Kilo Code tasks into the normalized_messages contract
-- (star_pipeline/normalized/normalized_messages.sql); ../shared/FORMATS-agents2.md section 1. The three
-- extensions share this file: the source's name is filled in where the code names it.
-- A task is a folder tasks/<taskId>/ (the taskId, Date.now() at creation, is the session):
--   ui_messages.json: one JSON array of messages {ts (epoch ms), type: say|ask, say|ask, text?, partial?,
--     modelInfo?{providerId, modelId, mode}} rewritten whole; the raw layer keeps it as pieces
--     (raw/documents.py): its frame at position 0 (the array, each message a NUL: record_type 'task', whose
--     leaf_uuid is the number of messages that version holds, so usage.sql can tell which stored messages the
--     latest version still holds) and each message at its position (record_type say or ask, uuid its ts);
--   task_metadata.json: {files_in_context, model_usage[{ts, model_id, model_provider_id, mode}]}, kept whole
--     (record_type 'task_metadata', model the last model_usage's model_id).
-- An api_req_started message's text is a JSON string {request, tokensIn, tokensOut, cacheWrites, cacheReads,
-- cost, cancelReason?, streamingFailedMessage?} (tokensIn excludes the cache), a deleted_api_reqs message's the
-- same sums for the requests deleted from the task: each is one call in api_calls (call_id its ts, the cost in
-- USD as Cline recorded it). The request text (the prompt sent, with tool results and the environment,
-- where the working directory is named) is the message's tool_result.
-- A tool call is a tool or command message (say when auto-approved, ask when it waited for approval; call_id its
-- ts). ui_messages.json records no outcome tied to a call: not the approval's answer, not an exit code (a
-- command_output message holds output only), not a tool's error (its words reach only the next request's text);
-- api_req_failed is the API request's failure, not a tool's. So a call whose message is complete (not partial)
-- has an unknown outcome, told on its own message; a partial one (still streaming when the file was written) has
-- no result yet.
WITH pieces AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset, r.line_bytes, try(decode(r.line_bytes)) AS text,
        r.path LIKE '%/ui_messages.json' AS in_messages
    FROM {lines} r
),
parsed AS (
    SELECT *,
        regexp_extract(path, '/tasks/([^/]+)/[^/]+$', 1) AS task_id,
        CASE WHEN in_messages AND line_number = 0 THEN 'task'
             WHEN NOT in_messages THEN 'task_metadata'
             ELSE 'message' END AS r_kind,
        CASE WHEN NOT (in_messages AND line_number = 0) THEN json_transform(document_json(line_bytes), '{"ts": "BIGINT",
            "type": "VARCHAR", "say": "VARCHAR", "ask": "VARCHAR", "text": "VARCHAR", "partial": "BOOLEAN",
            "modelInfo": {"providerId": "VARCHAR", "modelId": "VARCHAR", "mode": "VARCHAR"},
            "model_usage": [{"ts": "BIGINT", "model_id": "VARCHAR"}]}') END AS j
    FROM pieces
    WHERE CASE WHEN in_messages AND line_number = 0
               THEN try(json_type(replace(text, chr(0), 'null'))) = 'ARRAY'
               ELSE document_json(line_bytes) IS NOT NULL END
),
shaped AS (
    SELECT *,
        coalesce(j.say, j.ask) AS kind,
        CASE WHEN coalesce(j.say, j.ask) IN ('api_req_started', 'deleted_api_reqs') THEN json_transform(try(json(j.text)),
            '{"request": "VARCHAR", "tokensIn": "BIGINT", "tokensOut": "BIGINT", "cacheWrites": "BIGINT",
              "cacheReads": "BIGINT", "cost": "DOUBLE", "cancelReason": "VARCHAR"}') END AS req,
        CASE WHEN coalesce(j.say, j.ask) = 'tool' THEN json_transform(try(json(j.text)),
            '{"tool": "VARCHAR", "path": "VARCHAR", "content": "VARCHAR"}') END AS tool
    FROM parsed
)
SELECT
    {source} AS source,
    path, file_version, line_number, byte_offset,
    task_id AS session_id,
    'main' AS file_kind,
    CASE WHEN r_kind = 'message' THEN coalesce(j.type, '(no type)') ELSE r_kind END AS record_type,
    kind AS subtype,
    CASE WHEN r_kind = 'message' THEN CAST(j.ts AS VARCHAR) END AS uuid,
    CASE WHEN r_kind = 'task' THEN CAST(length(text) - length(replace(text, chr(0), '')) AS VARCHAR) END AS leaf_uuid,
    timezone('UTC', epoch_ms(CASE WHEN r_kind = 'message' THEN j.ts ELSE TRY_CAST(task_id AS BIGINT) END)) AS event_ts,
    CASE WHEN r_kind <> 'message' THEN NULL
         WHEN kind IN ('task', 'user_feedback', 'user_feedback_diff') OR (line_number = 1 AND kind = 'text') THEN 'user'
         WHEN kind IN ('text', 'reasoning', 'completion_result', 'tool', 'command', 'followup', 'plan_mode_respond',
                       'use_mcp_server', 'browser_action', 'browser_action_launch') THEN 'assistant'
         ELSE 'system' END AS role,
    CASE WHEN kind = 'reasoning' THEN 'thinking'
         WHEN kind IN ('tool', 'command', 'use_mcp_server', 'browser_action_launch') THEN 'tool_use'
         WHEN kind = 'command_output' THEN 'tool_result'
         WHEN j.text <> '' AND req IS NULL THEN 'text' END AS content_kind,
    CASE WHEN req IS NULL THEN coalesce(length(j.text), 0) ELSE 0 END AS text_length,
    FALSE AS is_sidechain,
    FALSE AS is_meta,
    FALSE AS is_compact_summary,
    nullif(regexp_extract(req.request, '# Current Working Directory \(([^)\n]+)\)', 1), '') AS cwd,
    coalesce(j.modelInfo.modelId, j.model_usage[-1].model_id) AS model,
    CASE WHEN req IS NOT NULL THEN [{
        'call_id': CAST(j.ts AS VARCHAR), 'model': j.modelInfo.modelId,
        'input_tokens': coalesce(req.tokensIn, 0), 'output_tokens': coalesce(req.tokensOut, 0),
        'cache_creation_input_tokens': coalesce(req.cacheWrites, 0), 'cache_read_input_tokens': coalesce(req.cacheReads, 0),
        'reasoning_output_tokens': CAST(0 AS BIGINT), 'recorded_cost_usd': req.cost}] END AS api_calls,
    CASE WHEN kind IN ('tool', 'command') THEN list_filter([{
        'kind': 'call', 'call_id': CAST(j.ts AS VARCHAR), 'tool_name': CASE WHEN kind = 'command' THEN 'execute_command' ELSE tool.tool END,
        'input_size': length(j.text), 'target_path': tool.path, 'subagent_type': CAST(NULL AS VARCHAR),
        'skill_name': CAST(NULL AS VARCHAR), 'is_error': CAST(NULL AS BOOLEAN), 'result_size': CAST(NULL AS BIGINT),
        'command': CASE WHEN kind = 'command' THEN left(j.text, 16000) END, 'status': CAST(NULL AS VARCHAR),
        'exit_code': CAST(NULL AS INTEGER), 'duration_ms': CAST(NULL AS BIGINT), 'status_reason': CAST(NULL AS VARCHAR)}, {
        -- the call's result: its outcome unknown (see above)
        'kind': 'result', 'call_id': CAST(j.ts AS VARCHAR), 'tool_name': CASE WHEN kind = 'command' THEN 'execute_command' ELSE tool.tool END,
        'input_size': CAST(NULL AS BIGINT), 'target_path': CAST(NULL AS VARCHAR), 'subagent_type': CAST(NULL AS VARCHAR),
        'skill_name': CAST(NULL AS VARCHAR), 'is_error': CAST(NULL AS BOOLEAN), 'result_size': CAST(NULL AS BIGINT),
        'command': CAST(NULL AS VARCHAR), 'status': CAST(NULL AS VARCHAR), 'exit_code': CAST(NULL AS INTEGER),
        'duration_ms': CAST(NULL AS BIGINT), 'status_reason': CAST(NULL AS VARCHAR)}],
        lambda b: b.kind = 'call' OR NOT coalesce(j.partial, FALSE)) END AS tool_blocks,
    CASE WHEN req IS NULL AND kind NOT IN ('tool', 'command', 'command_output') THEN left(j.text, 16000) END AS message_text,
    CASE WHEN kind IN ('tool', 'command') THEN left(j.text, 16000) END AS tool_input,
    CASE WHEN kind = 'command_output' THEN left(j.text, 16000) ELSE left(req.request, 16000) END AS tool_result
FROM shaped
