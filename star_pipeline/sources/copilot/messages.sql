-- GitHub Copilot CLI events into the normalized_messages contract (star_pipeline/normalized/normalized_messages.sql).
-- {lines} is the raw pieces to read, whole: session-state/<uuid>/events.jsonl (and the Dec 2025 flat
-- session-state/<uuid>.jsonl), one event {type, data, id, timestamp, parentId} a line; below them, the
-- Oct 2025 history files, the session folder's workspace.yaml, vscode.metadata.json and session.db.
-- API calls: `session.shutdown` totals of one process run per model (modelMetrics[model].usage:
-- inputTokens include cache reads and writes, reasoningTokens are inside outputTokens), call_id =
-- <event id>:<model>; and each `session.compaction_complete` (compactionTokensUsed, outside the
-- shutdown's totals; it names no model: usage.sql books it to the session's model).
WITH copilot AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset,
        json_transform(transcript_json(r.line_bytes), '{"type": "VARCHAR", "id": "VARCHAR", "timestamp": "VARCHAR",
            "parentId": "VARCHAR",
            "data": {"sessionId": "VARCHAR", "copilotVersion": "VARCHAR", "selectedModel": "VARCHAR",
                     "newModel": "VARCHAR", "model": "VARCHAR", "currentModel": "VARCHAR", "requestId": "VARCHAR",
                     "content": "VARCHAR", "toolCallId": "VARCHAR", "success": "BOOLEAN", "result": "JSON",
                     "error": {"message": "VARCHAR", "code": "VARCHAR"},
                     "context": {"cwd": "VARCHAR", "branch": "VARCHAR", "repository": "VARCHAR"},
                     "toolRequests": [{"toolCallId": "VARCHAR", "name": "VARCHAR", "arguments": "JSON"}],
                     "modelMetrics": "MAP(VARCHAR, STRUCT(usage STRUCT(inputTokens BIGINT, outputTokens BIGINT, cacheReadTokens BIGINT, cacheWriteTokens BIGINT, reasoningTokens BIGINT)))",
                     "compactionTokensUsed": {"input": "BIGINT", "output": "BIGINT", "cachedInput": "BIGINT"}}}') AS j
    FROM {lines} r
    WHERE r.path LIKE '%.jsonl' AND transcript_json(r.line_bytes) IS NOT NULL
),
copilot_outcomes AS (
    SELECT *, CASE WHEN j.type = 'tool.execution_complete' THEN TRY_CAST(nullif(regexp_extract(
        right(json_extract_string(j.data.result, '$.content'), 200), '<exited with exit code (-?[0-9]+)>', 1), '') AS INTEGER) END
        AS shell_exit_code
    FROM copilot
)
SELECT
    'copilot' AS source,
    path, file_version, line_number, byte_offset,
    coalesce(j.data.sessionId,
             nullif(regexp_extract(path, '([0-9a-fA-F-]{36})(/events)?\.jsonl$', 1), '')) AS session_id,
    'main' AS file_kind,
    coalesce(j.type, '(no type)') AS record_type,
    j.id AS uuid,
    j.parentId AS parent_uuid,
    TRY_CAST(j.timestamp AS TIMESTAMPTZ) AS event_ts,
    CASE WHEN j.type LIKE 'user.%' THEN 'user' WHEN j.type LIKE 'assistant.%' THEN 'assistant' END AS role,
    length(j.data.content) AS text_length,
    FALSE AS is_sidechain,
    FALSE AS is_meta,
    j.type = 'session.compaction_complete' AS is_compact_summary,
    j.data.context.cwd AS cwd,
    j.data.context.branch AS git_branch,
    j.data.context.repository AS git_repository_url,
    j.data.copilotVersion AS tool_version,
    coalesce(j.data.model, j.data.newModel, j.data.selectedModel, j.data.currentModel) AS model,
    j.data.requestId AS request_id,
    CASE
        WHEN j.type = 'session.shutdown' THEN list_transform(
            list_filter(map_entries(j.data.modelMetrics), lambda e: e.value.usage.inputTokens IS NOT NULL),
            lambda e: {
                'call_id': j.id || ':' || e.key, 'model': e.key,
                'input_tokens': e.value.usage.inputTokens - coalesce(e.value.usage.cacheReadTokens, 0)
                                - coalesce(e.value.usage.cacheWriteTokens, 0),
                'output_tokens': coalesce(e.value.usage.outputTokens, 0),
                'cache_creation_input_tokens': coalesce(e.value.usage.cacheWriteTokens, 0),
                'cache_read_input_tokens': coalesce(e.value.usage.cacheReadTokens, 0),
                'reasoning_output_tokens': coalesce(e.value.usage.reasoningTokens, 0)})
        WHEN j.type = 'session.compaction_complete' AND j.data.compactionTokensUsed.input IS NOT NULL THEN [{
            'call_id': coalesce(j.data.requestId, j.id), 'model': CAST(NULL AS VARCHAR),
            'input_tokens': j.data.compactionTokensUsed.input - coalesce(j.data.compactionTokensUsed.cachedInput, 0),
            'output_tokens': coalesce(j.data.compactionTokensUsed.output, 0),
            'cache_creation_input_tokens': CAST(0 AS BIGINT),
            'cache_read_input_tokens': coalesce(j.data.compactionTokensUsed.cachedInput, 0),
            'reasoning_output_tokens': CAST(0 AS BIGINT)}]
    END AS api_calls,
    CASE
        WHEN j.type = 'assistant.message' THEN list_transform(j.data.toolRequests, lambda t: {
            'kind': 'call', 'call_id': t.toolCallId, 'tool_name': t.name, 'input_size': length(CAST(t.arguments AS VARCHAR)),
            'target_path': coalesce(json_extract_string(t.arguments, '$.path'), json_extract_string(t.arguments, '$.file_path')),
            'subagent_type': CAST(NULL AS VARCHAR), 'skill_name': CAST(NULL AS VARCHAR), 'is_error': FALSE,
            'result_size': CAST(NULL AS BIGINT), 'command': left(json_extract_string(t.arguments, '$.command'), 16000),
            'status': CAST(NULL AS VARCHAR), 'exit_code': CAST(NULL AS INTEGER), 'duration_ms': CAST(NULL AS BIGINT), 'status_reason': CAST(NULL AS VARCHAR)})
        WHEN j.type = 'tool.execution_complete' THEN [{
            'kind': 'result', 'call_id': j.data.toolCallId, 'tool_name': CAST(NULL AS VARCHAR), 'input_size': CAST(NULL AS BIGINT),
            'target_path': CAST(NULL AS VARCHAR), 'subagent_type': CAST(NULL AS VARCHAR), 'skill_name': CAST(NULL AS VARCHAR),
            'is_error': NOT coalesce(j.data.success, TRUE), 'result_size': length(CAST(j.data.result AS VARCHAR)),
            'command': CAST(NULL AS VARCHAR),
            -- success is the flag; error.code 'rejected' or 'denied' a call the user or a rule declined; a shell
            -- command that ran is a success whatever its exit: its result ends '<exited with exit code N>'
            'status': CASE WHEN j.data.success IS NULL THEN NULL
                           WHEN NOT j.data.success THEN CASE WHEN j.data.error.code IN ('rejected', 'denied') THEN 'rejected' ELSE 'failed' END
                           WHEN shell_exit_code <> 0 THEN 'failed' ELSE 'ok' END,
            'exit_code': shell_exit_code, 'duration_ms': CAST(NULL AS BIGINT),
            'status_reason': CASE WHEN j.data.success IS NULL THEN NULL
                                  WHEN j.data.success AND shell_exit_code IS NOT NULL THEN 'exit code' ELSE 'flag' END}]
    END AS tool_blocks,
    CASE WHEN j.type IN ('user.message', 'assistant.message') THEN left(j.data.content, 16000) END AS message_text,
    CASE WHEN j.type = 'assistant.message' THEN left(array_to_string(list_transform(j.data.toolRequests,
        lambda t: json_text_unescaped(left(CAST(t.arguments AS VARCHAR), 32000))), chr(10)), 16000) END AS tool_input,
    CASE WHEN j.type = 'tool.execution_complete'
         THEN left(json_text_unescaped(left(CAST(j.data.result AS VARCHAR), 32000)), 16000) END AS tool_result
FROM copilot_outcomes
UNION ALL BY NAME
-- history-session-state/session_<uuid>_<ms>.json (Oct 2025), a document rewritten whole, kept as pieces: the
-- document {sessionId, startTime, selectedModel} (position 0), each chatMessages element (OpenAI chat
-- format: role, content, tool_calls, tool_call_id) and each timeline element {id, timestamp, type, text}.
-- No usage.
SELECT
    'copilot' AS source,
    path, file_version, line_number, byte_offset,
    regexp_extract(path, 'session_([0-9a-fA-F-]{36})_[0-9]+\.json$', 1) AS session_id,
    'main' AS file_kind,
    CASE WHEN line_number = 0 THEN 'history.session' WHEN h.role IS NOT NULL THEN 'history.message'
         ELSE 'history.timeline' END AS record_type,
    coalesce(h.role, h.type) AS subtype,
    h.id AS uuid,
    TRY_CAST(coalesce(h.timestamp, h.startTime) AS TIMESTAMPTZ) AS event_ts,
    h.role AS role,
    FALSE AS is_sidechain, FALSE AS is_meta, FALSE AS is_compact_summary,
    h.selectedModel AS model,
    list_concat(
        list_transform(h.tool_calls, lambda t: {
            'kind': 'call', 'call_id': t.id, 'tool_name': t.function.name, 'input_size': length(t.function.arguments),
            'target_path': json_extract_string(t.function.arguments, '$.path'), 'subagent_type': CAST(NULL AS VARCHAR),
            'skill_name': CAST(NULL AS VARCHAR), 'is_error': FALSE, 'result_size': CAST(NULL AS BIGINT),
            'command': left(json_extract_string(t.function.arguments, '$.command'), 16000)}),
        CASE WHEN h.role = 'tool' THEN [{
            'kind': 'result', 'call_id': h.tool_call_id, 'tool_name': CAST(NULL AS VARCHAR), 'input_size': CAST(NULL AS BIGINT),
            'target_path': CAST(NULL AS VARCHAR), 'subagent_type': CAST(NULL AS VARCHAR), 'skill_name': CAST(NULL AS VARCHAR),
            'is_error': FALSE, 'result_size': length(h.content), 'command': CAST(NULL AS VARCHAR)}] END) AS tool_blocks,
    left(CASE WHEN h.role IN ('user', 'assistant') THEN h.content WHEN h.role IS NULL THEN h.text END, 16000) AS message_text,
    left(array_to_string(list_transform(h.tool_calls, lambda t: left(t.function.arguments, 16000)), chr(10)), 16000) AS tool_input,
    CASE WHEN h.role = 'tool' THEN left(h.content, 16000) END AS tool_result
FROM (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset,
        json_transform(document_json(r.line_bytes), '{"sessionId": "VARCHAR", "startTime": "VARCHAR", "selectedModel": "VARCHAR",
            "role": "VARCHAR", "content": "VARCHAR", "tool_call_id": "VARCHAR",
            "tool_calls": [{"id": "VARCHAR", "function": {"name": "VARCHAR", "arguments": "VARCHAR"}}],
            "id": "VARCHAR", "timestamp": "VARCHAR", "type": "VARCHAR", "text": "VARCHAR"}') AS h
    FROM {lines} r
    WHERE r.path LIKE '%/history-session-state/%' AND document_json(r.line_bytes) IS NOT NULL
)
UNION ALL BY NAME
-- session-state/<uuid>/workspace.yaml (YAML, kept whole as a document: id, cwd, git_root, repository,
-- branch, name, created_at ...), vscode.metadata.json ({workspaceFolder{folderPath}, customTitle}) and
-- session.db (SQLite, a piece per row of todos, todo_deps and inbox_entries; raw/databases.py).
SELECT
    'copilot' AS source,
    path, file_version, line_number, byte_offset,
    regexp_extract(path, '/([0-9a-fA-F-]{36})/[^/]+$', 1) AS session_id,
    'main' AS file_kind,
    CASE WHEN path LIKE '%/workspace.yaml' THEN 'workspace'
         WHEN path LIKE '%/vscode.metadata.json' THEN 'vscode.metadata'
         WHEN json_extract_string(document_json(line_bytes), '$.deleted') = 'true' THEN 'session_db.deleted'
         ELSE 'session_db.' || coalesce(json_extract_string(document_json(line_bytes), '$.table'), '?') END AS record_type,
    TRY_CAST(nullif(regexp_extract(text, '(?m)^created_at: *(\S+)', 1), '') AS TIMESTAMPTZ) AS event_ts,
    FALSE AS is_sidechain, FALSE AS is_meta, FALSE AS is_compact_summary,
    coalesce(nullif(regexp_extract(text, '(?m)^cwd: *(.+?) *$', 1), ''),
             json_extract_string(document_json(line_bytes), '$.workspaceFolder.folderPath')) AS cwd,
    nullif(regexp_extract(text, '(?m)^branch: *(.+?) *$', 1), '') AS git_branch,
    nullif(regexp_extract(text, '(?m)^repository: *(.+?) *$', 1), '') AS git_repository_url,
    left(coalesce(nullif(regexp_extract(text, '(?m)^name: *(.+?) *$', 1), ''),
                  json_extract_string(document_json(line_bytes), '$.customTitle'),
                  json_extract_string(document_json(line_bytes), '$.row.title')), 16000) AS message_text
FROM (SELECT r.*, CASE WHEN r.path LIKE '%/workspace.yaml' THEN try(decode(r.line_bytes)) END AS text FROM {lines} r)
WHERE path LIKE '%/workspace.yaml' OR path LIKE '%/vscode.metadata.json' OR path LIKE '%/session.db'
