-- Observations for dim_project (SCD2): a project's repository URL and git branch as
-- each session saw them at its first event; dim_project keeps their history.
SELECT sp.project_id, sp.cwd AS project_path, sp.repository_url, sp.git_branch, s.first_event_ts AS observed_at
FROM aggregate.session_projects sp
JOIN (SELECT source, session_id, min(first_event_ts) AS first_event_ts FROM normalized.normalized_sessions GROUP BY ALL) s
  USING (source, session_id)
WHERE s.first_event_ts IS NOT NULL
UNION ALL
-- projects whose sessions have no timestamps still get a row
SELECT project_id, any_value(cwd), any_value(repository_url), any_value(git_branch), TIMESTAMPTZ '1970-01-01 00:00:00+00'
FROM aggregate.session_projects sp
WHERE NOT EXISTS (SELECT 1 FROM normalized.normalized_sessions s
                  WHERE s.source = sp.source AND s.session_id = sp.session_id AND s.first_event_ts IS NOT NULL)
GROUP BY project_id
UNION ALL
-- the explicit unknown project, which facts point at when a session has no known cwd (or no transcript yet)
SELECT '(unknown)', NULL, NULL, NULL, TIMESTAMPTZ '1970-01-01 00:00:00+00'
WHERE NOT EXISTS (SELECT 1 FROM aggregate.session_projects WHERE project_id = '(unknown)')
