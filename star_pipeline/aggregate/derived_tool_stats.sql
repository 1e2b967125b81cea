-- derived_tool_stats: per agent, tool and project: calls by outcome, the failure rate, and the duration's
-- median, 90th and 95th percentiles (normalized_tool_calls' status and duration_ms: what the files record).
--
-- Columns:
--   source: the agent
--   tool_name: the tool
--   project_id: the calls' project (session_projects; '(unknown)' without one)
--   calls: the tool's calls in the project
--   ok: those that succeeded
--   failed: those that failed (a non-zero exit code, an error flag or status, failure wording)
--   rejected: those the user (or a permission rule) declined
--   interrupted: those stopped before they finished
--   unknown: those with a result whose format records no outcome
--   pending: those without a result yet
--   failure_rate: failed / the calls whose outcome is known (ok, failed, rejected, interrupted); NULL when none is
--   p50_duration_ms: the median call duration, in milliseconds
--   p90_duration_ms: the 90th percentile call duration, in milliseconds
--   p95_duration_ms: the 95th percentile call duration, in milliseconds
-- Preview: tool_name, source, calls, failed, unknown, failure_rate, p50_duration_ms, p90_duration_ms
SELECT
    c.source, c.tool_name, coalesce(sp.project_id, '(unknown)') AS project_id,
    count(*) AS calls,
    count(*) FILTER (WHERE c.status = 'ok') AS ok,
    count(*) FILTER (WHERE c.status = 'failed') AS failed,
    count(*) FILTER (WHERE c.status = 'rejected') AS rejected,
    count(*) FILTER (WHERE c.status = 'interrupted') AS interrupted,
    count(*) FILTER (WHERE c.status = 'unknown') AS unknown,
    count(*) FILTER (WHERE c.status = 'pending') AS pending,
    count(*) FILTER (WHERE c.status = 'failed')
        / nullif(count(*) FILTER (WHERE c.status IN ('ok', 'failed', 'rejected', 'interrupted')), 0) AS failure_rate,
    quantile_cont(c.duration_ms, 0.5) AS p50_duration_ms,
    quantile_cont(c.duration_ms, 0.9) AS p90_duration_ms,
    quantile_cont(c.duration_ms, 0.95) AS p95_duration_ms,
    '{pipeline_version}' AS pipeline_version
FROM normalized.normalized_tool_calls c
LEFT JOIN aggregate.session_projects sp ON sp.source = c.source AND sp.session_id = c.session_id
GROUP BY ALL
