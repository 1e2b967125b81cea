-- derived_projects: one row per project (worktrees folded into their repository;
-- sessions without a cwd under '(unknown)'), every session counted, with usage.
--
-- Columns:
--   project_id: the project: its folder (worktrees folded in), or '(unknown)'
--   project_key: dimension_key of project_id (dim_project's hash_key)
--   sessions: its sessions, with or without API calls
--   first_activity: its first API call's time
--   last_activity: its last API call's time
--   api_calls: its API calls
--   input_tokens: input tokens, cache reads and writes excluded
--   output_tokens: output tokens, reasoning included
--   cache_creation_input_tokens: tokens written to the prompt cache
--   cache_read_input_tokens: tokens read from the prompt cache
--   total_tokens: input + output + cache writes + cache reads
--   cost_usd: the cost in USD of the calls with a known price (NULL when none had one)
-- Preview: project_id, sessions, api_calls, total_tokens, cost_usd, last_activity
SELECT
    sp.project_id,
    dimension_key([sp.project_id]) AS project_key,
    count(DISTINCT sp.source || ':' || sp.session_id) AS sessions,
    min(u.first_activity) AS first_activity, max(u.last_activity) AS last_activity,
    coalesce(sum(u.api_calls), 0) AS api_calls,
    coalesce(sum(u.input_tokens), 0) AS input_tokens,
    coalesce(sum(u.output_tokens), 0) AS output_tokens,
    coalesce(sum(u.cache_creation_input_tokens), 0) AS cache_creation_input_tokens,
    coalesce(sum(u.cache_read_input_tokens), 0) AS cache_read_input_tokens,
    coalesce(sum(u.total_tokens), 0) AS total_tokens,
    sum(u.cost_usd) AS cost_usd,
    '{pipeline_version}' AS pipeline_version
FROM aggregate.session_projects sp
LEFT JOIN aggregate.derived_session_usage u USING (source, session_id)
GROUP BY sp.project_id
UNION ALL
-- calls whose session id has no session row (cannot happen today; kept so sums always hold)
SELECT '(unknown)', dimension_key(['(unknown)']), 0, min(first_activity), max(last_activity), sum(api_calls),
    sum(input_tokens), sum(output_tokens), sum(cache_creation_input_tokens), sum(cache_read_input_tokens),
    sum(total_tokens), sum(cost_usd), '{pipeline_version}'
FROM aggregate.derived_session_usage u
WHERE NOT EXISTS (SELECT 1 FROM aggregate.session_projects sp WHERE sp.source = u.source AND sp.session_id = u.session_id)
HAVING count(*) > 0
