-- Items for derived_message_kinds: one per normalized message, with the first 4000
-- characters of its text (normalized_messages.message_text). {scope} (on the
-- messages `m`) restricts them to those this version has not classified yet.
SELECT m.source, m.path, m.file_version, m.byte_offset, m.record_type, m.subtype, m.role, m.content_kind,
       m.is_meta, m.is_compact_summary, m.is_sidechain, m.file_kind, left(m.message_text, 4000) AS text
FROM normalized.normalized_messages m
WHERE {scope}
