-- session_projects: the project of every session id. The project is the session's
-- working directory, with Claude Code worktrees (<repo>/.claude/worktrees/<name>)
-- folded into their repository; sessions with no known cwd belong to the explicit
-- project '(unknown)', so every token is counted somewhere.
WITH cwds AS (
    SELECT source, session_id,
        arg_min(project_cwd, CASE WHEN file_kind = 'main' THEN 0 ELSE 1 END || coalesce(CAST(first_event_ts AS VARCHAR), '')) AS cwd,
        arg_min(git_repository_url, CASE WHEN file_kind = 'main' THEN 0 ELSE 1 END) FILTER (WHERE git_repository_url IS NOT NULL) AS repository_url,
        arg_max(git_branch, last_event_ts) FILTER (WHERE git_branch IS NOT NULL) AS git_branch
    FROM normalized.normalized_sessions
    GROUP BY ALL
)
SELECT source, session_id,
    CASE WHEN cwd IS NULL OR cwd = '' THEN '(unknown)'
         ELSE regexp_replace(cwd, '/\.claude/worktrees/[^/]+(/.*)?$', '') END AS project_id,
    cwd, repository_url, git_branch, '{pipeline_version}' AS pipeline_version
FROM cwds
