-- Items for derived_message_kinds: one per normalized message, with the first 4000
-- characters of its text (normalized_messages.message_text). {scope} (on the
-- messages `m`) restricts them to those this version has not classified yet.
--
-- Columns (of classified.derived_message_kinds, which classified/assets.py writes from these items):
--   source: the agent that wrote the message
--   path: the transcript file of the message
--   file_version: that file's version in raw
--   byte_offset: where the message's line starts; with source, path and file_version its key (normalized_messages)
--   classifier_version: the classifier version that wrote the row ('message_kinds-<8 hex of its YAML>'; the partition)
--   kind: the message's kind: the first matching rule's label (human_prompt, tool_result, slash_command,
--     assistant_text, assistant_tool_use, compaction_summary ...), else the YAML's default
--   matched_rule: the 1-based number of that rule in message_kinds.yaml (NULL: the default applied)
-- Preview: kind, matched_rule, classifier_version, source, byte_offset, file_version, path
SELECT m.source, m.path, m.file_version, m.byte_offset, m.record_type, m.subtype, m.role, m.content_kind,
       m.is_meta, m.is_compact_summary, m.is_sidechain, m.file_kind, left(m.message_text, 4000) AS text
FROM normalized.normalized_messages m
WHERE {scope}
