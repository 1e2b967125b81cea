-- Items for derived_tool_practices: one per normalized tool call, with its shell
-- command (normalized_tool_calls.command: Claude Bash input.command; Codex shell
-- arguments.command, the script of a `bash -lc <script>` call) and its outcome (status: ok, failed, rejected,
-- interrupted, unknown, pending; exit_code), as the agent's files record them. {scope} (on the calls `c`) is TRUE
-- when a version classifies every call; an incremental run restricts it to the calls
-- named in files with new messages (classified/assets.py, tool_practices_query).
--
-- Columns (of classified.derived_tool_practices, which classified/assets.py writes from these items):
--   source: the agent that made the call
--   call_id: the tool call; with source its key (normalized_tool_calls)
--   classifier_version: the classifier version that wrote the row ('tool_practices-<8 hex of its YAML>'; the partition)
--   family: the call's practice family: the first matching rule's label (discovery, planning, code_review,
--     commit_workflow, test_run, build, file_read, file_edit, search, web, delegation ...), else the
--     YAML's default
--   matched_rule: the 1-based number of that rule in tool_practices.yaml (NULL: the default applied)
-- Preview: family, matched_rule, call_id, classifier_version, source
SELECT c.source, c.call_id, c.tool_name, c.subagent_type, c.skill_name, c.target_path, c.command, c.status, c.exit_code
FROM normalized.normalized_tool_calls c
WHERE {scope}
