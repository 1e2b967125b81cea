-- Items for derived_tool_practices: one per normalized tool call, with its shell
-- command (normalized_tool_calls.command: Claude Bash input.command; Codex shell
-- arguments.command, the script of a `bash -lc <script>` call). {scope} (on the calls `c`) is TRUE
-- when a version classifies every call; an incremental run restricts it to the calls
-- named in files with new messages (classified/assets.py, tool_practices_query).
SELECT c.source, c.call_id, c.tool_name, c.subagent_type, c.skill_name, c.target_path, c.command
FROM normalized.normalized_tool_calls c
WHERE {scope}
