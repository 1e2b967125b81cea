-- fact_tool_call: one row per tool call (grain: source, call_id), with the tokens of
-- the API response that made the call where known (Claude: same message.id).
--
-- Columns:
--   tool_key: dim_tool's hash_key of the tool
--   project_key: dim_project's hash_key of the session's project
--   agent_type_key: dim_agent_type's hash_key of the subagent type a Task/Agent call starts (NULL: none)
--   date_key: the call's UTC date, YYYYMMDD (dim_date)
--   time_key: the call's UTC minute, HHMM (dim_time)
--   source: the agent that made the call
--   session_id: the session it was made in
--   agent_id: the subagent that made it (NULL in a main session)
--   call_id: the call's id; with source the key
--   tool_name: the tool called
--   called_at: when the call was made
--   duration_ms: how long it took, in milliseconds (normalized_tool_calls: the agent's own measure, else its lines' times)
--   duration_source: recorded (the agent's measure) or timestamps (its lines'); NULL: no duration
--   status: ok, failed, rejected (by the user), interrupted, unknown (the format records no outcome) or pending
--   exit_code: the exit code its result records (shell calls)
--   status_reason: how the status was told (exit code, flag, status field, or the wording)
--   target_path: the file or folder the call works on
--   input_size: characters of the call's JSON input
--   result_size: characters of its result
--   subagent_type: the subagent type a Task/Agent call starts
--   skill_name: the skill a Skill call runs
--   response_output_tokens: output tokens of the API response that made the call
--   response_total_tokens: total tokens of that response
--   metadata: input_size, result_size, file_kind and skill_name as one struct
--   inserted_at: when this row was written
--   record_source: the table the rows come from (normalized.normalized_tool_calls)
-- Preview: tool_name, status, duration_ms, called_at, subagent_type, session_id, call_id
SELECT
    dimension_key([c.tool_name]) AS tool_key,
    dimension_key([coalesce(sp.project_id, '(unknown)')]) AS project_key,
    CASE WHEN c.subagent_type IS NOT NULL THEN dimension_key([c.subagent_type]) END AS agent_type_key,
    CAST(strftime(c.called_at AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER) AS date_key,
    CAST(strftime(c.called_at AT TIME ZONE 'UTC', '%H%M') AS INTEGER) AS time_key,
    c.source, c.session_id, c.agent_id, c.call_id, c.tool_name, c.called_at, c.duration_ms, c.duration_source, c.status,
    c.exit_code, c.status_reason,
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
