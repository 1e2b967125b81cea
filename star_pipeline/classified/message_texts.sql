-- The text of normalized messages, read from their raw lines (the normalized
-- layer keeps no free text, so that secrets stay in raw): message text
-- (text and thinking blocks, Codex content/message), tool inputs and tool
-- results, each as one string (JSON parts with their escapes undone, so lines are
-- lines). Used by the message-kind and secret classifiers;
-- {messages} is a SELECT of normalized_messages rows (source, path, file_version, byte_offset).
WITH wanted AS ({messages}),
claude AS (
    SELECT w.source, w.path, w.file_version, w.byte_offset,
        json_transform(transcript_json(r.line_bytes), '{"message": {"content": "JSON"}, "toolUseResult": "JSON"}') AS j
    FROM wanted w
    JOIN raw.claude_code_lines r USING (path, file_version, byte_offset)
    WHERE w.source = 'claude_code'
),
claude_blocks AS (
    SELECT source, path, file_version, byte_offset, j,
        CASE WHEN json_type(j.message.content) = 'ARRAY' THEN json_transform(j.message.content,
            '[{"type": "VARCHAR", "text": "VARCHAR", "thinking": "VARCHAR", "input": "JSON", "content": "JSON"}]') END AS blocks
    FROM claude
),
codex AS (
    SELECT w.source, w.path, w.file_version, w.byte_offset,
        json_transform(transcript_json(r.line_bytes), '{"payload": "JSON", "content": "JSON", "arguments": "VARCHAR",
            "output": "JSON", "message": "VARCHAR"}') AS j
    FROM wanted w
    JOIN raw.codex_lines r USING (path, file_version, byte_offset)
    WHERE w.source = 'codex'
),
codex_items AS (
    SELECT source, path, file_version, byte_offset,
        CASE WHEN json_type(j.payload) = 'OBJECT'
             THEN json_transform(j.payload, '{"content": "JSON", "arguments": "VARCHAR", "input": "VARCHAR",
                                              "output": "JSON", "message": "VARCHAR"}')
             ELSE {'content': j.content, 'arguments': j.arguments, 'input': NULL, 'output': j.output, 'message': j.message}
        END AS p
    FROM codex
)
SELECT source, path, file_version, byte_offset,
    CASE WHEN json_type(j.message.content) = 'VARCHAR' THEN j.message.content ->> '$'
         ELSE array_to_string(list_transform(list_filter(blocks, lambda b: b.type IN ('text', 'thinking')),
                                             lambda b: coalesce(b.text, b.thinking)), chr(10)) END AS message_text,
    array_to_string(list_transform(list_filter(blocks, lambda b: b.type = 'tool_use'),
                                   lambda b: json_text_unescaped(CAST(b.input AS VARCHAR))), chr(10)) AS tool_input,
    concat_ws(chr(10),
        array_to_string(list_transform(list_filter(blocks, lambda b: b.type = 'tool_result'),
                                       lambda b: CASE WHEN json_type(b.content) = 'VARCHAR' THEN b.content ->> '$'
                                                      ELSE json_text_unescaped(CAST(b.content AS VARCHAR)) END), chr(10)),
        json_text_unescaped(CAST(j.toolUseResult AS VARCHAR))) AS tool_result
FROM claude_blocks
UNION ALL
SELECT source, path, file_version, byte_offset,
    coalesce(
        CASE WHEN json_type(p.content) = 'ARRAY' THEN array_to_string(list_transform(
            json_transform(p.content, '[{"text": "VARCHAR"}]'), lambda b: b.text), chr(10)) END,
        p.message) AS message_text,
    json_text_unescaped(coalesce(p.arguments, p.input)) AS tool_input,
    CASE WHEN json_type(p.output) = 'VARCHAR' THEN p.output ->> '$' ELSE json_text_unescaped(CAST(p.output AS VARCHAR)) END AS tool_result
FROM codex_items
