-- search_documents: the searchable text of every message (star-pipeline search), one row per message
-- with text: its prompt or reply text, its tool inputs and the head of its tool results, as
-- normalized_messages keeps them, with every secret any version of derived_secret_findings flagged
-- replaced by [secret:<kind>] (the secret never leaves the warehouse, not even into the search
-- copy). A message stored more than once (a resumed session's copies, a rewritten document's
-- versions) is searched once, as last stored; progress lines (copies of sub-agent messages) not at all.
-- A private key's finding marks its BEGIN line only: its block is masked to its END line (or the
-- end of the text when that is missing), by mask_key_blocks (migration 010).
-- {secret_findings}: classified.derived_secret_findings, or no rows before the classifier first ran.
-- {message_scope}: the messages to compute (TRUE on a full build; an incremental one computes the
-- messages of the files with new messages and every stored copy of theirs: search_documents.py).
-- {search_text}: the search text of a row (SEARCH_TEXT), whose md5 is text_hash.
--
-- Columns:
--   source: the agent that wrote the message
--   path: the transcript file of the message
--   file_version: that file's version in raw
--   byte_offset: where the message's line starts; with source, path and file_version its key (normalized_messages)
--   session_id: the session it is in
--   agent_id: the subagent that wrote it (NULL in a main session)
--   event_ts: when it was written
--   role: user, assistant, system or tool
--   record_type: the line's type as the agent names it
--   message_text: its prompt or reply text, secrets masked
--   tool_input: its tool calls' inputs, secrets masked
--   tool_result: the first 2,000 characters of its tool results, secrets masked
--   text_hash: md5 of its search text (its three texts joined by line breaks): the key of its vector and words
-- Preview: record_type, role, event_ts, session_id, source, byte_offset
WITH messages AS (
    SELECT m.source, m.path, m.file_version, m.byte_offset, m.session_id, m.agent_id, m.event_ts, m.role,
           m.record_type, m.message_text, m.tool_input, left(m.tool_result, 2000) AS tool_result
    FROM normalized.normalized_messages m
    WHERE m.record_type <> 'progress' AND ({message_scope})
      AND (nullif(m.message_text, '') IS NOT NULL OR nullif(m.tool_input, '') IS NOT NULL OR nullif(m.tool_result, '') IS NOT NULL)
    QUALIFY m.uuid IS NULL
         OR row_number() OVER (PARTITION BY m.source, m.uuid ORDER BY m.file_version DESC, m.byte_offset DESC, m.path DESC) = 1
),
spans AS (
    -- each field's flagged spans (any classifier version), in text order, each with the furthest end so far,
    -- so that overlapping spans never let a piece of a secret through between them
    SELECT source, path, file_version, byte_offset, field,
        list(struct_pack(o := char_offset, e := char_offset + secret_length, k := kind) ORDER BY char_offset, secret_length DESC) AS s
    FROM (SELECT DISTINCT source, path, file_version, byte_offset, field, char_offset, secret_length, kind
          FROM {secret_findings})
    GROUP BY ALL
),
masked AS (
    SELECT m.*, f.field, f.s FROM messages m
    LEFT JOIN spans f USING (source, path, file_version, byte_offset)
),
documents AS (
    SELECT source, path, file_version, byte_offset, any_value(session_id) AS session_id, any_value(agent_id) AS agent_id,
        any_value(event_ts) AS event_ts, any_value(role) AS role, any_value(record_type) AS record_type,
        mask_key_blocks(mask_spans(any_value(message_text), any_value(s) FILTER (WHERE field = 'message_text'))) AS message_text,
        mask_key_blocks(mask_spans(any_value(tool_input), any_value(s) FILTER (WHERE field = 'tool_input'))) AS tool_input,
        mask_key_blocks(mask_spans(any_value(tool_result), any_value(s) FILTER (WHERE field = 'tool_result'))) AS tool_result
    FROM masked
    GROUP BY source, path, file_version, byte_offset
)
SELECT *, md5({search_text}) AS text_hash, '{pipeline_version}' AS pipeline_version
FROM documents
