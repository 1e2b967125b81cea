-- derived_tool_stats: per tool and project: calls, errors, error rate, p50/p95 duration.
--
-- Columns:
--   source: the agent
--   tool_name: the tool
--   project_id: the calls' project (session_projects; '(unknown)' without one)
--   calls: the tool's calls in the project
--   errors: those whose result was an error
--   pending: those without a result yet
--   error_rate: errors / calls
--   p50_duration_ms: the median call duration, in milliseconds
--   p95_duration_ms: the 95th percentile call duration, in milliseconds
-- Preview: tool_name, project_id, calls, errors, error_rate, p50_duration_ms, p95_duration_ms, source
SELECT
    c.source, c.tool_name, coalesce(sp.project_id, '(unknown)') AS project_id,
    count(*) AS calls,
    count(*) FILTER (WHERE c.status = 'error') AS errors,
    count(*) FILTER (WHERE c.status = 'pending') AS pending,
    count(*) FILTER (WHERE c.status = 'error') / count(*) AS error_rate,
    quantile_cont(c.duration_ms, 0.5) AS p50_duration_ms,
    quantile_cont(c.duration_ms, 0.95) AS p95_duration_ms,
    '{pipeline_version}' AS pipeline_version
FROM normalized.normalized_tool_calls c
LEFT JOIN aggregate.session_projects sp ON sp.source = c.source AND sp.session_id = c.session_id
GROUP BY ALL
