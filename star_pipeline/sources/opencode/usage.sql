-- OpenCode API calls into the normalized_usage contract (star_pipeline/normalized/normalized_usage.sql).
--
-- One call per assistant message with tokens (one model step), counted once: its last stored copy,
-- a database row before a pre-1.2 JSON file of the same message. The same numbers repeat in the
-- message's step-finish part, in OpenCode's event log and in the session's running sums: none of
-- those is counted. {api_call_usage} makes them usage rows. An incremental run recomputes the
-- sessions of files with new pieces: {scope} is TRUE on a full build.
WITH latest AS (
    SELECT m.* FROM normalized.normalized_messages m
    WHERE m.source = 'opencode' AND m.record_type = 'message' AND {scope}
    QUALIFY row_number() OVER (PARTITION BY coalesce(m.uuid, m.path || '@' || m.byte_offset) ORDER BY m.path LIKE '%.db' DESC, m.file_version DESC, m.path DESC) = 1
),
counted AS (
    SELECT session_id, agent_id, is_sidechain, path, file_version, byte_offset, event_ts,
           CAST(NULL AS VARCHAR) AS default_model, unnest(api_calls) AS c
    FROM latest WHERE len(api_calls) > 0
)
{api_call_usage}
