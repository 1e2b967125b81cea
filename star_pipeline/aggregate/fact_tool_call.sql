-- fact_tool_call: one row per tool call (grain: source, call_id), with the tokens of
-- the API response that made the call where known (Claude: same message.id).
SELECT
    dimension_key([c.tool_name]) AS tool_key,
    dimension_key([coalesce(sp.project_id, '(unknown)')]) AS project_key,
    CASE WHEN c.subagent_type IS NOT NULL THEN dimension_key([c.subagent_type]) END AS agent_type_key,
    CAST(strftime(c.called_at AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER) AS date_key,
    CAST(strftime(c.called_at AT TIME ZONE 'UTC', '%H%M') AS INTEGER) AS time_key,
    c.source, c.session_id, c.agent_id, c.call_id, c.tool_name, c.called_at, c.duration_ms, c.status,
    c.target_path, c.input_size, c.result_size, c.subagent_type, c.skill_name,
    u.output_tokens AS response_output_tokens,
    u.total_tokens AS response_total_tokens,
    {'input_size': c.input_size, 'result_size': c.result_size, 'file_kind': c.file_kind,
     'skill_name': c.skill_name} AS metadata,
    now() AS inserted_at,
    'normalized.normalized_tool_calls' AS record_source,
    '{pipeline_version}' AS pipeline_version
FROM normalized.normalized_tool_calls c
LEFT JOIN aggregate.session_projects sp ON sp.source = c.source AND sp.session_id = c.session_id
LEFT JOIN (
    SELECT source, message_id, any_value(output_tokens) AS output_tokens, any_value(total_tokens) AS total_tokens
    FROM aggregate.fact_token_usage WHERE message_id IS NOT NULL GROUP BY ALL
) u ON u.source = c.source AND u.message_id = c.message_id
