-- Items for derived_tool_practices: one per normalized tool call, with the shell
-- command (Claude Bash input.command; Codex shell arguments.command, the script of a
-- `bash -lc <script>` call) read from the
-- call's raw line. {call_scope} is TRUE when a version classifies every call; an
-- incremental run restricts it to the calls named in files with new messages
-- (classified/assets.py, tool_practices_query).
WITH calls AS (
    SELECT c.source, c.call_id, c.tool_name, c.subagent_type, c.skill_name, c.target_path,
           c.path, c.file_version, c.byte_offset
    FROM normalized.normalized_tool_calls c
    WHERE {call_scope}
),
claude_inputs AS (
    SELECT c.source, c.call_id,
        list_filter(
            json_transform(json_extract(transcript_json(r.line_bytes), '$.message.content'),
                           '[{"type": "VARCHAR", "id": "VARCHAR", "input": {"command": "VARCHAR"}}]'),
            lambda b: b.id = c.call_id)[1].input.command AS command
    FROM calls c
    JOIN raw.claude_code_lines r USING (path, file_version, byte_offset)
    WHERE c.source = 'claude_code' AND c.tool_name = 'Bash'
),
codex_inputs AS (
    SELECT c.source, c.call_id,
        CASE
            -- ["bash", "-lc", "<script>"]: the script is the command
            WHEN json_type(args, '$.command') = 'ARRAY' AND json_array_length(args, '$.command') = 3
                 AND regexp_matches(json_extract_string(args, '$.command[0]'), '(^|/)(ba|z|da)?sh$')
                 AND regexp_matches(json_extract_string(args, '$.command[1]'), '^-[a-z]*c$')
                THEN json_extract_string(args, '$.command[2]')
            WHEN json_type(args, '$.command') = 'ARRAY'
                THEN array_to_string(json_extract_string(args, '$.command[*]'), ' ')
            ELSE json_extract_string(args, '$.command') END AS command
    FROM (
        SELECT c.*, CASE WHEN json_valid(a) THEN a END AS args
        FROM (
            SELECT c.*, coalesce(
                json_extract_string(transcript_json(r.line_bytes), '$.payload.arguments'),
                json_extract_string(transcript_json(r.line_bytes), '$.arguments')) AS a
            FROM calls c
            JOIN raw.codex_lines r USING (path, file_version, byte_offset)
            WHERE c.source = 'codex'
        ) c
    ) c
)
SELECT c.source, c.call_id, c.tool_name, c.subagent_type, c.skill_name, c.target_path,
       coalesce(ci.command, xi.command) AS command
FROM calls c
LEFT JOIN claude_inputs ci USING (source, call_id)
LEFT JOIN codex_inputs xi USING (source, call_id)
