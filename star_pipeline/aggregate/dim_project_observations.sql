-- Observations for dim_project (SCD2): a project's repository URL and git branch as
-- each session saw them at its first event; dim_project keeps their history.
--
-- Columns (of aggregate.dim_project, besides the SCD2 columns storage/scd2.py adds):
--   project_id: the project: its folder (worktrees folded in), or '(unknown)'
--   project_path: the working directory of a session of the project, as it saw it
--   repository_url: the repository's remote URL, as a session of the project saw it
--   git_branch: the git branch, as a session of the project saw it
-- Preview: project_id, git_branch, effective_from, effective_to, is_current
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
