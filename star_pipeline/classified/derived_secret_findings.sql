-- Texts for derived_secret_findings: message text, tool inputs and tool results
-- (as normalized_messages keeps them: the first 16,000 characters of each) of every
-- normalized message not scanned by this version yet ({scope}, on the messages `m`), one row per
-- non-empty field.
--
-- Columns (of classified.derived_secret_findings, which classified/assets.py writes from these texts):
--   source: the agent that wrote the message
--   path: the transcript file of the message
--   file_version: that file's version in raw
--   byte_offset: where the message's line starts; with source, path and file_version its key (normalized_messages)
--   field: the text the secret is in: message_text, tool_input or tool_result
--   kind: the pattern that matched (aws_access_key_id, github_token, private_key_block ...)
--   occurrence: the match's number among this kind's matches in the field, in text order, from 1
--   item_table: the table the message is in (normalized_messages)
--   char_offset: where the secret starts in the field, in characters from 0
--   secret_length: the secret's length in characters
--   fingerprint: a salted hash of the secret (meta_fingerprint_salt): the same secret has the same
--     fingerprint in this warehouse, and the secret cannot be read back from it
--   classifier_version: the classifier version that wrote the row ('secret_findings-<8 hex of its YAML>'; the partition)
-- Preview: kind, field, occurrence, char_offset, secret_length, classifier_version, byte_offset, path
SELECT source, path, file_version, byte_offset, field, text
FROM (
    SELECT m.source, m.path, m.file_version, m.byte_offset, m.message_text, m.tool_input, m.tool_result
    FROM normalized.normalized_messages m
    WHERE {scope}
)
UNPIVOT (text FOR field IN (message_text, tool_input, tool_result))
WHERE text IS NOT NULL AND text <> ''
