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
--   duration_ms: how long the call took, in milliseconds: the duration the agent recorded with the result
--     (Codex's metadata or 'Wall time', OpenCode's state times ...), else result_at - called_at where call and
--     result are separate lines whose times tell it (not Codex, whose lines are written when a response
--     ends, nor a call and result written as one record)
--   duration_source: where duration_ms comes from: recorded (the agent's measure) or timestamps (its lines')
--   is_error: status = 'failed' (NULL when the outcome is unknown or pending)
--   result_size: characters of the result
--   status: the call's outcome as its file records it: ok; failed (a non-zero exit code, an error flag or status,
--     or failure wording); rejected (the user or a permission rule declined it); interrupted (stopped before
--     it finished: the user interrupted the turn, or the agent cancelled it); unknown (a result came back but
--     the format records no outcome: never read as ok); pending (no result yet)
--   exit_code: the exit code the result records (shell calls), else NULL
--   status_reason: how the status was told: 'exit code', 'flag' (the result's error flag), 'status field' (the
--     agent's own status word), or the wording it was read from ('failed in sandbox', 'rejected by user' ...)
--   path: the transcript file of the call
--   file_version: that file's version in raw
--   byte_offset: where the call's line starts
--   message_id: the API response that made the call (Claude), so facts need not look up the line
--   result_path: the transcript file of the result
--   result_file_version: that file's version in raw
--   result_byte_offset: where the result's line starts
-- Preview: tool_name, status, exit_code, duration_ms, call_id, called_at, status_reason, result_size
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
    coalesce(r.b.duration_ms, CASE WHEN timed_by_lines THEN epoch_ms(r.event_ts) - epoch_ms(c.event_ts) END) AS duration_ms,
    CASE WHEN r.b.duration_ms IS NOT NULL THEN 'recorded' WHEN timed_by_lines THEN 'timestamps' END AS duration_source,
    CASE WHEN status NOT IN ('unknown', 'pending') THEN status = 'failed' END AS is_error,
    r.b.result_size AS result_size,
    status,
    r.b.exit_code AS exit_code,
    CASE WHEN status NOT IN ('pending', 'unknown') THEN r.b.status_reason END AS status_reason,
    c.path, c.file_version, c.byte_offset,
    c.message_id,
    r.path AS result_path, r.file_version AS result_file_version, r.byte_offset AS result_byte_offset
FROM calls c
LEFT JOIN results r ON r.source = c.source AND r.b.call_id = c.b.call_id,
LATERAL (SELECT
    CASE WHEN r.b.call_id IS NULL THEN 'pending' ELSE coalesce(r.b.status, 'unknown') END AS status,
    r.event_ts IS NOT NULL AND c.event_ts IS NOT NULL AND c.source <> 'codex'
        AND (r.path, r.file_version, r.byte_offset) IS DISTINCT FROM (c.path, c.file_version, c.byte_offset) AS timed_by_lines)
