-- Texts for derived_secret_findings: message text, tool inputs and tool results
-- of every normalized message not scanned by this version yet ({new_items}),
-- one row per non-empty field.
WITH texts AS (
    {message_texts}
)
SELECT source, path, file_version, byte_offset, field, text
FROM texts
UNPIVOT (text FOR field IN (message_text, tool_input, tool_result))
WHERE text IS NOT NULL AND text <> ''
