-- normalized_tool_calls: every tool call paired with its result by call id
-- (Claude tool_use/tool_result; Codex function_call and custom_tool_call with
-- their outputs; every source's tool blocks). Claude Code's progress lines embed
-- copies and do not count; a call copied into a resumed session counts once, in the session
-- whose file started first, then ended first (copies share timestamps, so event time cannot tell).
-- A call with no result yet is 'pending'.
-- An incremental run recomputes only the calls its new messages name (storage/watermarks.py).
--
-- Columns:
--   source: the agent that made the call
--   session_id: the session it was made in
--   agent_id: the subagent that made it (NULL in a main session)
--   file_kind: the kind of file the call is in (main, subagent, compaction, inline_sidechain)
--   call_id: the call's id (Claude tool_use id, Codex call_id); with source the key
--   tool_name: the tool called (Read, Edit, Bash, shell, apply_patch ...)
--   target_path: the file or folder the call works on (a file path input; Bash: the cwd)
--   input_size: characters of the call's JSON input
--   subagent_type: the subagent type a Task/Agent call starts
--   skill_name: the skill a Skill call runs
--   command: a shell call's command (Claude Bash, Codex shell), for the tool practices
--   called_at: when the call was made
--   result_at: when its result came back
--   duration_ms: result_at - called_at, in milliseconds
--   is_error: the result says the call failed
--   result_size: characters of the result
--   status: ok, error, or pending (no result yet)
--   path: the transcript file of the call
--   file_version: that file's version in raw
--   byte_offset: where the call's line starts
--   message_id: the API response that made the call (Claude), so facts need not look up the line
--   result_path: the transcript file of the result
--   result_file_version: that file's version in raw
--   result_byte_offset: where the result's line starts
-- Preview: tool_name, status, duration_ms, call_id, called_at, subagent_type, input_size, result_size
WITH all_blocks AS (
    SELECT m.source, m.session_id, m.agent_id, m.file_kind, m.event_ts, m.path, m.file_version, m.byte_offset,
           m.message_id, unnest(m.tool_blocks) AS b
    FROM normalized.normalized_messages m
    WHERE m.record_type <> 'progress' AND len(m.tool_blocks) > 0
),
blocks_in_scope AS (
    -- {call_scope}: TRUE, or on an incremental run the call ids that appear in files with new messages
    SELECT * FROM all_blocks WHERE {call_scope}
),
file_starts AS (
    SELECT source, path, file_version, min(event_ts) AS file_first_ts, max(event_ts) AS file_last_ts
    FROM normalized.normalized_messages
    WHERE {call_files}
    GROUP BY ALL
),
blocks AS (
    SELECT m.*, f.file_first_ts, f.file_last_ts
    FROM blocks_in_scope m
    JOIN file_starts f USING (source, path, file_version)
),
calls AS (
    SELECT * FROM blocks WHERE b.kind = 'call' AND b.call_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY source, b.call_id ORDER BY file_first_ts, file_last_ts, event_ts, path, file_version, byte_offset) = 1
),
results AS (
    SELECT * FROM blocks WHERE b.kind = 'result' AND b.call_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY source, b.call_id ORDER BY file_first_ts, file_last_ts, event_ts, path, file_version, byte_offset) = 1
)
SELECT
    c.source,
    c.session_id,
    c.agent_id,
    c.file_kind,
    c.b.call_id AS call_id,
    c.b.tool_name AS tool_name,
    c.b.target_path AS target_path,
    c.b.input_size AS input_size,
    c.b.subagent_type AS subagent_type,
    c.b.skill_name AS skill_name,
    c.b.command AS command,
    c.event_ts AS called_at,
    r.event_ts AS result_at,
    CASE WHEN r.event_ts IS NOT NULL AND c.event_ts IS NOT NULL
         THEN epoch_ms(r.event_ts) - epoch_ms(c.event_ts) END AS duration_ms,
    r.b.is_error AS is_error,
    r.b.result_size AS result_size,
    CASE WHEN r.b.call_id IS NULL THEN 'pending' WHEN r.b.is_error THEN 'error' ELSE 'ok' END AS status,
    c.path, c.file_version, c.byte_offset,
    c.message_id,
    r.path AS result_path, r.file_version AS result_file_version, r.byte_offset AS result_byte_offset
FROM calls c
LEFT JOIN results r ON r.source = c.source AND r.b.call_id = c.b.call_id
