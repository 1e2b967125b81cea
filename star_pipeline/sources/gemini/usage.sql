-- Gemini CLI API calls into the normalized_usage contract (star_pipeline/normalized/normalized_usage.sql).
--
-- One call per reply with tokens, counted once: a reply is stored again each time Gemini rewrites
-- the chat (.json) or appends it again with the same id (.jsonl), and its last copy is the
-- complete one (a reply cancelled before its tokens has none, and no call). A session split over two
-- files holds different replies in each: the key is the session and the reply's id, not the file.
-- {api_call_usage} makes them usage rows. An incremental run recomputes the sessions of files with
-- new pieces: {scope} is TRUE on a full build.
WITH latest AS (
    SELECT m.* FROM normalized.normalized_messages m
    WHERE m.source = 'gemini' AND m.record_type = 'message' AND {scope}
    QUALIFY row_number() OVER (PARTITION BY m.session_id, m.agent_id, coalesce(m.uuid, m.path || '@' || m.byte_offset)
                               ORDER BY m.file_version DESC, m.line_number DESC, m.path DESC) = 1
),
counted AS (
    SELECT session_id, agent_id, is_sidechain, path, file_version, byte_offset, event_ts,
           CAST(NULL AS VARCHAR) AS default_model, unnest(api_calls) AS c
    FROM latest WHERE len(api_calls) > 0
)
{api_call_usage}
