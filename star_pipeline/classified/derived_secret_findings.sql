-- Texts for derived_secret_findings: message text, tool inputs and tool results
-- (as normalized_messages keeps them: the first 16,000 characters of each) of every
-- normalized message not scanned by this version yet ({scope}, on the messages `m`), one row per
-- non-empty field.
SELECT source, path, file_version, byte_offset, field, text
FROM (
    SELECT m.source, m.path, m.file_version, m.byte_offset, m.message_text, m.tool_input, m.tool_result
    FROM normalized.normalized_messages m
    WHERE {scope}
)
UNPIVOT (text FOR field IN (message_text, tool_input, tool_result))
WHERE text IS NOT NULL AND text <> ''
