-- Items for derived_message_kinds: one per normalized message, with its text
-- (first 4000 characters) from the raw line. {new_items} restricts to messages
-- this version has not classified yet.
WITH items AS (
    SELECT m.source, m.path, m.file_version, m.byte_offset, m.record_type, m.subtype, m.role, m.content_kind,
           m.is_meta, m.is_compact_summary, m.is_sidechain, m.file_kind
    FROM normalized.normalized_messages m
    WHERE {new_items}
),
texts AS (
    {message_texts}
)
SELECT i.*, left(t.message_text, 4000) AS text
FROM items i
LEFT JOIN texts t USING (source, path, file_version, byte_offset)
