-- Kimi CLI API calls into the normalized_usage contract (star_pipeline/normalized/normalized_usage.sql).
--
-- Every StatusUpdate with token_usage in wire.jsonl, top-level or nested in a SubagentEvent (a
-- sub-agent's calls belong to its session), once per message_id. The files name no model: calls
-- get 'kimi-for-coding' (the model Kimi CLI's default configuration names) with model_is_fallback.
-- {api_call_usage} makes them usage rows. An incremental run recomputes the sessions of files with
-- new messages: {scope} is TRUE on a full build.
WITH calls AS (
    SELECT m.session_id, m.agent_id, m.is_sidechain, m.path, m.file_version, m.byte_offset, m.event_ts,
           unnest(m.api_calls) AS c
    FROM normalized.normalized_messages m
    WHERE m.source = 'kimi' AND len(m.api_calls) > 0 AND {scope}
),
counted AS (
    SELECT *, 'kimi-for-coding' AS default_model FROM calls
    QUALIFY row_number() OVER (PARTITION BY session_id, coalesce(c.call_id, path || '@' || byte_offset) ORDER BY event_ts, path, file_version, byte_offset) = 1
)
{api_call_usage}
