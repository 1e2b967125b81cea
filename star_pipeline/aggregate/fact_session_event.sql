-- fact_session_event: one row per hook event (grain: spool path + byte offset).
--
-- Columns:
--   project_key: dim_project's hash_key of the session's project
--   tool_key: dim_tool's hash_key of the event's tool (NULL: no tool)
--   agent_type_key: dim_agent_type's hash_key of the event's subagent type (NULL: none)
--   date_key: the UTC date received, YYYYMMDD (dim_date)
--   time_key: the UTC minute received, HHMM (dim_time)
--   session_id: the agent's session
--   event_name: the hook event (PreToolUse, PostToolUse, SessionStart ...)
--   tool_name: the tool of a tool event
--   tool_use_id: the tool call's id
--   duration_ms: the tool call's duration, where the agent reports it
--   received_at: when the hook received the event
--   agent_id: the subagent of a Subagent event
--   agent_type: the subagent's type
--   session_source: how a session started (startup, resume, clear, compact)
--   end_reason: why a session ended
--   is_interrupt: a tool failure the user caused by interrupting
--   path: the spool file the event was read from
--   byte_offset: where its line starts; with path the key
--   inserted_at: when this row was written
--   record_source: the table the rows come from (normalized.normalized_hook_events)
-- Preview: event_name, tool_name, session_id, received_at, duration_ms, date_key
SELECT
    dimension_key([coalesce(sp.project_id, '(unknown)')]) AS project_key,
    CASE WHEN e.tool_name IS NOT NULL THEN dimension_key([e.tool_name]) END AS tool_key,
    CASE WHEN e.agent_type IS NOT NULL THEN dimension_key([e.agent_type]) END AS agent_type_key,
    CAST(strftime(e.received_at AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER) AS date_key,
    CAST(strftime(e.received_at AT TIME ZONE 'UTC', '%H%M') AS INTEGER) AS time_key,
    e.session_id, e.event_name, e.tool_name, e.tool_use_id, e.duration_ms, e.received_at,
    e.agent_id, e.agent_type, e.session_source, e.end_reason, e.is_interrupt,
    e.path, e.byte_offset,
    now() AS inserted_at,
    'normalized.normalized_hook_events' AS record_source,
    '{pipeline_version}' AS pipeline_version
FROM normalized.normalized_hook_events e
LEFT JOIN aggregate.session_projects sp ON sp.source = 'claude_code' AND sp.session_id = e.session_id
