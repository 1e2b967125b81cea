-- derived_tool_stats: per tool and project: calls, errors, error rate, p50/p95 duration.
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
