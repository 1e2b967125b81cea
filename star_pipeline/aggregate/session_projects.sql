-- session_projects: the project of every session id. The project is the session's
-- working directory, with worktrees folded into their repository: Claude Code's
-- (<repo>/.claude/worktrees/<name>), <repo>/.worktrees/<name>, and a repository's sibling
-- folder of worktrees (<repo>-worktrees/<name> or <repo>.worktrees/<name> beside <repo>);
-- storage/brief_files.py folds a cwd the same way. Sessions with no known cwd belong to the
-- explicit project '(unknown)', so every token is counted somewhere.
--
-- Columns:
--   source: the agent
--   session_id: the session; with source the key
--   project_id: the project: the cwd with worktrees folded into their repository, or '(unknown)'
--   cwd: the session's working directory (its main file's, else its earliest file's)
--   repository_url: the repository's remote URL, where the agent records it
--   git_branch: the last git branch the session recorded
--   machine_id: the machine whose lines made the session (its main file's, else its earliest file's;
--     '(unknown)' when none is recorded)
-- Preview: project_id, session_id, source, git_branch
WITH cwds AS (
    SELECT source, session_id,
        arg_min(project_cwd, CASE WHEN file_kind = 'main' THEN 0 ELSE 1 END || coalesce(CAST(first_event_ts AS VARCHAR), '')) AS cwd,
        arg_min(git_repository_url, CASE WHEN file_kind = 'main' THEN 0 ELSE 1 END) FILTER (WHERE git_repository_url IS NOT NULL) AS repository_url,
        arg_max(git_branch, last_event_ts) FILTER (WHERE git_branch IS NOT NULL) AS git_branch,
        arg_min(machine_id, CASE WHEN file_kind = 'main' THEN 0 ELSE 1 END || coalesce(CAST(first_event_ts AS VARCHAR), '')) AS machine_id
    FROM normalized.normalized_sessions
    GROUP BY ALL
)
SELECT source, session_id,
    CASE WHEN cwd IS NULL OR cwd = '' THEN '(unknown)'
         ELSE regexp_replace(regexp_replace(cwd, '/\.(claude/)?worktrees/[^/]+(/.*)?$', ''),
                             '/([^/]+)[-.]worktrees/[^/]+(/.*)?$', '/\1') END AS project_id,
    cwd, repository_url, git_branch, coalesce(machine_id, '(unknown)') AS machine_id, '{pipeline_version}' AS pipeline_version
FROM cwds
