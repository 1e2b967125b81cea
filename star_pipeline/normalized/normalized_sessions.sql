-- normalized_sessions: one row per session: a main transcript, a subagent or
-- compaction file (2.0 flat agent-*.jsonl, 2.1 subagents/), or the inline
-- sidechain turns of a 1.0.x main file. session_key is the session id, plus
-- ':<agent id>' for agent files, plus ':sidechain' for inline sidechains; the
-- parent of every non-main row is the main session it belongs to. An incremental
-- run recomputes the sessions of files with new messages ({session_scope}).
--
-- Columns:
--   source: the agent of the session
--   session_key: the session (see above); with source the key
--   session_id: the agent's session id (an agent file's main session)
--   agent_id: the subagent or compaction agent of an agent file
--   file_kind: main, subagent, compaction or inline_sidechain
--   parent_session_id: the main session a non-main session belongs to
--   project_cwd: the working directory of the session's first record that has one
--   git_branch: the last git branch the session recorded
--   git_repository_url: the last repository URL the session recorded
--   entrypoint: how the agent was started, as its first record says
--   tool_version: the agent's version, as its last record says
--   first_event_ts: the session's first record's time
--   last_event_ts: the session's last record's time
--   record_count: the session's records (normalized messages)
--   first_path: the first (by name) of the session's files
--   file_count: the files the session's records are in
--   machine_id: the machine whose lines made the session (that of its first file; a path captured on
--     several machines is read from one: raw/line_parts.py)
-- Preview: session_key, file_kind, source, first_event_ts, record_count, tool_version, project_cwd
WITH messages AS (
    SELECT * FROM normalized.normalized_messages WHERE session_id IS NOT NULL AND {session_scope}
)
SELECT
    source,
    session_key,
    session_id,
    CASE WHEN file_kind IN ('subagent', 'compaction') THEN any_value(agent_id) END AS agent_id,
    file_kind,
    CASE WHEN file_kind <> 'main' THEN session_id END AS parent_session_id,
    arg_min(cwd, coalesce(event_ts, TIMESTAMPTZ '9999-12-31') ) FILTER (WHERE cwd IS NOT NULL) AS project_cwd,
    arg_max(git_branch, coalesce(event_ts, TIMESTAMPTZ '0001-01-01')) FILTER (WHERE nullif(git_branch, '') IS NOT NULL) AS git_branch,
    arg_max(git_repository_url, coalesce(event_ts, TIMESTAMPTZ '0001-01-01')) FILTER (WHERE git_repository_url IS NOT NULL) AS git_repository_url,
    arg_min(entrypoint, coalesce(event_ts, TIMESTAMPTZ '9999-12-31')) FILTER (WHERE entrypoint IS NOT NULL) AS entrypoint,
    arg_max(tool_version, coalesce(event_ts, TIMESTAMPTZ '0001-01-01')) FILTER (WHERE tool_version IS NOT NULL) AS tool_version,
    min(event_ts) AS first_event_ts,
    max(event_ts) AS last_event_ts,
    count(*) AS record_count,
    min(path) AS first_path,
    count(DISTINCT path) AS file_count,
    arg_min(machine_id, path) AS machine_id
FROM messages
GROUP BY source, session_key, session_id, file_kind
