-- derived_file_activity: files read and edited, per project and session.
--
-- Columns:
--   source: the agent
--   project_id: the session's project (session_projects; '(unknown)' without one)
--   session_id: the session
--   target_path: the file read or edited
--   reads: Read and NotebookRead calls on it
--   edits: Edit, MultiEdit, Write, NotebookEdit and apply_patch calls on it
--   first_touched: the first of those calls' times
--   last_touched: the last of those calls' times
-- Preview: target_path, reads, edits, project_id, session_id, last_touched
SELECT
    c.source, coalesce(sp.project_id, '(unknown)') AS project_id, c.session_id, c.target_path,
    count(*) FILTER (WHERE c.tool_name IN ('Read', 'NotebookRead')) AS reads,
    count(*) FILTER (WHERE c.tool_name IN ('Edit', 'MultiEdit', 'Write', 'NotebookEdit', 'apply_patch')) AS edits,
    min(c.called_at) AS first_touched, max(c.called_at) AS last_touched,
    '{pipeline_version}' AS pipeline_version
FROM normalized.normalized_tool_calls c
LEFT JOIN aggregate.session_projects sp ON sp.source = c.source AND sp.session_id = c.session_id
WHERE c.target_path IS NOT NULL
  AND c.tool_name IN ('Read', 'NotebookRead', 'Edit', 'MultiEdit', 'Write', 'NotebookEdit', 'apply_patch')
GROUP BY ALL
