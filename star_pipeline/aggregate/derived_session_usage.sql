-- derived_session_usage: one row per session (source, session_id), all of its API
-- calls included: subagent and compaction calls count in the parent session's
-- totals and are also kept apart in their own columns. session_path is the
-- session's main transcript file (reports derive ccusage's project and session labels from it).
SELECT
    f.source, f.session_id, f.project_id,
    min(f.event_ts) AS first_activity, max(f.event_ts) AS last_activity,
    count(*) AS api_calls,
    sum(f.input_tokens) AS input_tokens, sum(f.output_tokens) AS output_tokens,
    sum(f.cache_creation_input_tokens) AS cache_creation_input_tokens,
    sum(f.cache_read_input_tokens) AS cache_read_input_tokens,
    sum(f.reasoning_output_tokens) AS reasoning_output_tokens,
    sum(f.total_tokens) AS total_tokens,
    sum(f.cost_usd) AS cost_usd,
    sum(f.total_tokens) FILTER (WHERE f.agent_id IS NULL AND NOT f.is_sidechain) AS main_total_tokens,
    sum(f.total_tokens) FILTER (WHERE (f.agent_id IS NOT NULL OR f.is_sidechain) AND coalesce(f.agent_id, '') NOT LIKE 'acompact%') AS subagent_total_tokens,
    sum(f.total_tokens) FILTER (WHERE f.agent_id LIKE 'acompact%') AS compaction_total_tokens,
    sum(f.cost_usd) FILTER (WHERE (f.agent_id IS NOT NULL OR f.is_sidechain)) AS subagent_and_compaction_cost_usd,
    list_sort(list_distinct(list(f.report_model))) AS models,
    any_value(p.main_path) AS session_path,
    '{pipeline_version}' AS pipeline_version
FROM aggregate.fact_token_usage f
LEFT JOIN (
    -- the session's main transcript file (any file of the session when it has no main file)
    SELECT source, session_id, arg_min(first_path, CASE WHEN file_kind = 'main' THEN 0 ELSE 1 END) AS main_path
    FROM normalized.normalized_sessions GROUP BY ALL
) p USING (source, session_id)
GROUP BY f.source, f.session_id, f.project_id
