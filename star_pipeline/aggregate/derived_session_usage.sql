-- derived_session_usage: one row per session (source, session_id), all of its API
-- calls included: subagent and compaction calls count in the parent session's
-- totals and are also kept apart in their own columns. session_path is the
-- session's main transcript file (reports derive ccusage's project and session labels from it).
--
-- Columns:
--   source: the agent
--   session_id: the session; with source the key
--   project_id: the session's project (session_projects)
--   first_activity: its first API call's time
--   last_activity: its last API call's time
--   api_calls: its API calls, its subagents' and compactions' included
--   input_tokens: input tokens, cache reads and writes excluded
--   output_tokens: output tokens, reasoning included
--   cache_creation_input_tokens: tokens written to the prompt cache
--   cache_read_input_tokens: tokens read from the prompt cache
--   reasoning_output_tokens: the reasoning part of output_tokens
--   total_tokens: input + output + cache writes + cache reads
--   cost_usd: the cost in USD of the calls with a known price (NULL when none had one)
--   main_total_tokens: total_tokens of the main conversation's calls
--   subagent_total_tokens: total_tokens of its subagents' and sidechains' calls
--   compaction_total_tokens: total_tokens of its compaction agents' calls
--   subagent_and_compaction_cost_usd: the cost of its subagents', sidechains' and compactions' calls
--   models: the models it called, as reports name them, sorted
--   session_path: the session's main transcript file
-- Preview: session_id, source, project_id, api_calls, total_tokens, cost_usd, last_activity
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
