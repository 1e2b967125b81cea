-- OpenCode into the normalized_messages contract (star_pipeline/normalized/normalized_messages.sql).
-- Two shapes (../shared/FORMATS-agents.md section 3):
--   opencode.db: the raw layer keeps a piece per row (raw/databases.py),
--     {"key": {...}, "row": {<columns>}, "table": "session|message|part|project|todo|session_message"},
--     stored again when the row changes, and {"deleted":true} where a row went; a message's and a
--     part's JSON is the row's `data` column (a string), its id the row's;
--   storage/{session,message,part}/**/*.json (OpenCode before 1.2): one object per file, the same
--     JSON with its id, sessionID and messageID inside, kept whole as a document.
-- A message: {role, parentID, modelID, providerID, agent, path{cwd}, cost, time{created, completed},
-- finish, tokens{input, output, reasoning, cache{read, write}}} (input excludes cache; reasoning is
-- outside output: our output adds it); its cost (USD) is the call's recorded cost, but where it is 0 (OpenCode's
-- "no price known", as for free models) the call is priced from its tokens, as ccusage's OpenCode reader does.
-- A part: text, reasoning, tool {tool, callID, state{status, input, output, error}}, step-start, step-finish
-- (which repeats the message's tokens and cost: not counted).
-- A child session (parent_id set) belongs to its parent: file_kind 'subagent', its id the agent_id.
WITH pieces AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset, document_json(r.line_bytes) AS doc,
        r.path LIKE '%.db' AS in_database
    FROM {lines} r
    WHERE document_json(r.line_bytes) IS NOT NULL
),
records AS (
    SELECT *,
        CASE WHEN NOT in_database THEN regexp_extract(path, '/storage/(session|message|part)/[^/]+/[^/]+$', 1)
             WHEN json_extract_string(doc, '$.deleted') = 'true' THEN 'deleted'
             ELSE json_extract_string(doc, '$.table') END AS kind,
        CASE WHEN in_database AND json_extract_string(doc, '$.table') IN ('message', 'part', 'session_message')
             THEN json(json_extract_string(doc, '$.row.data')) ELSE doc END AS body
    FROM pieces
),
parsed AS (
    SELECT *,
        coalesce(CASE WHEN in_database THEN json_extract_string(doc, '$.key.id') END, json_extract_string(body, '$.id')) AS record_id,
        coalesce(CASE WHEN in_database THEN coalesce(json_extract_string(doc, '$.row.session_id'), CASE WHEN kind = 'session' THEN json_extract_string(doc, '$.key.id') END) END,
                 json_extract_string(body, '$.sessionID'), CASE WHEN kind = 'session' THEN json_extract_string(body, '$.id') END) AS own_session,
        coalesce(CASE WHEN in_database THEN json_extract_string(doc, '$.row.message_id') END, json_extract_string(body, '$.messageID')) AS part_message,
        json_transform(body, '{"role": "VARCHAR", "parentID": "VARCHAR", "modelID": "VARCHAR", "agent": "VARCHAR",
            "path": {"cwd": "VARCHAR"}, "time": {"created": "BIGINT", "start": "BIGINT"}, "finish": "VARCHAR", "cost": "DOUBLE",
            "tokens": {"input": "BIGINT", "output": "BIGINT", "reasoning": "BIGINT", "cache": {"read": "BIGINT", "write": "BIGINT"}},
            "type": "VARCHAR", "text": "VARCHAR", "tool": "VARCHAR", "callID": "VARCHAR",
            "state": {"status": "VARCHAR", "input": "JSON", "output": "VARCHAR", "error": "VARCHAR", "time": {"start": "BIGINT", "end": "BIGINT"},
                      "metadata": {"exit": "INTEGER"}},
            "title": "VARCHAR", "directory": "VARCHAR"}') AS j,
        CASE WHEN in_database THEN json_transform(json_extract(doc, '$.row'), '{"parent_id": "VARCHAR", "directory": "VARCHAR",
            "title": "VARCHAR", "time_created": "BIGINT", "version": "VARCHAR"}') END AS db_row,
        -- a bash part's metadata.exit, present and null: the shell tool killed the command (its timeout)
        coalesce(json_type(body, '$.state.metadata.exit') = 'NULL', FALSE) AS exit_killed
    FROM records
),
-- the parent of each child session: the session rows stored for these files, and the legacy session files
session_rows AS (
    SELECT document_json(s.line_bytes) AS doc, s.path LIKE '%.db' AS in_database
    FROM raw.opencode_lines s
    WHERE s.part_number = 1 AND (
        (s.path IN (SELECT path FROM {lines}) AND s.line_bytes >= '{"key":{"id":"ses_'::BLOB AND s.line_bytes < '{"key":{"id":"ses`'::BLOB)
        OR s.path LIKE '%/storage/session/%')  -- a legacy session's file is not its messages'
),
parents AS (
    SELECT child, any_value(parent) AS parent
    FROM (SELECT CASE WHEN in_database THEN json_extract_string(doc, '$.key.id') ELSE json_extract_string(doc, '$.id') END AS child,
                 CASE WHEN in_database THEN json_extract_string(doc, '$.row.parent_id') ELSE json_extract_string(doc, '$.parentID') END AS parent
          FROM session_rows)
    WHERE parent IS NOT NULL
    GROUP BY child
),
linked AS (
    SELECT p.*, x.parent AS parent_session FROM parsed p LEFT JOIN parents x ON x.child = p.own_session
)
SELECT
    'opencode' AS source,
    path, file_version, line_number, byte_offset,
    coalesce(parent_session, own_session) AS session_id,
    CASE WHEN parent_session IS NOT NULL THEN own_session END AS agent_id,
    CASE WHEN parent_session IS NOT NULL THEN 'subagent' ELSE 'main' END AS file_kind,
    coalesce(kind, 'unknown') AS record_type,
    coalesce(j.role, j.type) AS subtype,
    record_id AS uuid,
    CASE WHEN kind = 'part' THEN part_message ELSE j.parentID END AS parent_uuid,
    to_timestamp(coalesce(j.time.created, j.state.time.start, j.time.start, db_row.time_created) / 1000) AS event_ts,
    j.role AS role,
    CASE WHEN kind = 'part' THEN j.type END AS content_kind,
    coalesce(length(j.text), 0) AS text_length,
    parent_session IS NOT NULL AS is_sidechain,
    FALSE AS is_meta,
    FALSE AS is_compact_summary,
    coalesce(j.path.cwd, j.directory, db_row.directory) AS cwd,
    db_row.version AS tool_version,
    j.modelID AS model,
    CASE WHEN kind = 'message' THEN record_id WHEN kind = 'part' THEN part_message END AS message_id,
    CASE WHEN kind = 'message' AND j.tokens.input IS NOT NULL THEN [{
        'call_id': record_id, 'model': j.modelID,
        'input_tokens': j.tokens.input,
        'output_tokens': coalesce(j.tokens.output, 0) + coalesce(j.tokens.reasoning, 0),
        'cache_creation_input_tokens': coalesce(j.tokens.cache.write, 0),
        'cache_read_input_tokens': coalesce(j.tokens.cache.read, 0),
        'reasoning_output_tokens': coalesce(j.tokens.reasoning, 0), 'recorded_cost_usd': nullif(j.cost, 0)}] END AS api_calls,
    -- a tool part holds call and result: a 'call' block, and a 'result' block once it has finished; keyed by
    -- the part's id (callIDs such as 'functions.read:3' repeat across messages and sessions)
    CASE WHEN kind = 'part' AND j.type = 'tool' THEN list_concat([{
        'kind': 'call', 'call_id': record_id, 'tool_name': j.tool, 'input_size': length(CAST(j.state.input AS VARCHAR)),
        'target_path': coalesce(json_extract_string(j.state.input, '$.filePath'), json_extract_string(j.state.input, '$.path')),
        'subagent_type': json_extract_string(j.state.input, '$.subagent_type'), 'skill_name': CAST(NULL AS VARCHAR),
        'is_error': CAST(NULL AS BOOLEAN), 'result_size': CAST(NULL AS BIGINT),
        'command': left(json_extract_string(j.state.input, '$.command'), 16000),
        'status': CAST(NULL AS VARCHAR), 'exit_code': CAST(NULL AS INTEGER), 'duration_ms': CAST(NULL AS BIGINT),
        'status_reason': CAST(NULL AS VARCHAR)}],
        CASE WHEN j.state.status IN ('completed', 'error') THEN [{
        'kind': 'result', 'call_id': record_id, 'tool_name': j.tool, 'input_size': CAST(NULL AS BIGINT),
        'target_path': CAST(NULL AS VARCHAR), 'subagent_type': CAST(NULL AS VARCHAR), 'skill_name': CAST(NULL AS VARCHAR),
        'is_error': j.state.status = 'error', 'result_size': length(coalesce(j.state.output, j.state.error)),
        'command': CAST(NULL AS VARCHAR),
        -- state.status completed or error; a bash command's metadata.exit; an error's words tell a permission
        -- the user refused ('... rejected permission ...') and a stopped call ('Tool execution aborted')
        'status': CASE
            WHEN j.state.status = 'error' AND j.state.error ILIKE '%rejected permission%' THEN 'rejected'
            WHEN j.state.status = 'error' AND j.state.error ILIKE '%aborted%' THEN 'interrupted'
            WHEN j.state.status = 'error' OR j.state.metadata.exit <> 0 OR exit_killed THEN 'failed'
            ELSE 'ok' END,
        'exit_code': j.state.metadata.exit,
        'duration_ms': j.state.time."end" - j.state.time.start,
        'status_reason': CASE
            WHEN j.state.status = 'error' AND j.state.error ILIKE '%rejected permission%' THEN 'rejected permission'
            WHEN j.state.status = 'error' AND j.state.error ILIKE '%aborted%' THEN 'aborted'
            WHEN j.state.status = 'error' THEN 'status field'
            WHEN j.state.metadata.exit IS NOT NULL THEN 'exit code'
            WHEN exit_killed THEN 'killed (no exit code)'
            ELSE 'status field' END}] ELSE [] END) END AS tool_blocks,
    left(CASE WHEN kind = 'session' THEN coalesce(j.title, db_row.title)
              WHEN kind = 'part' AND j.type IN ('text', 'reasoning') THEN j.text END, 16000) AS message_text,
    CASE WHEN kind = 'part' AND j.type = 'tool' THEN left(json_text_unescaped(left(CAST(j.state.input AS VARCHAR), 32000)), 16000) END
        AS tool_input,
    CASE WHEN kind = 'part' AND j.type = 'tool' THEN left(coalesce(j.state.output, j.state.error), 16000) END AS tool_result
FROM linked
