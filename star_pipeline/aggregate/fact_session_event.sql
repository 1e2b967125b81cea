-- fact_session_event: one row per hook event (grain: spool path + byte offset).
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
