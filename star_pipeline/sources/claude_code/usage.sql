-- Claude Code API calls into the normalized_usage contract (star_pipeline/normalized/normalized_usage.sql).
--
-- Only top-level `assistant` lines count (progress lines embed copies). One response is
-- split over several lines sharing message.id + requestId: keep the line with the largest
-- input+output+cache_creation+cache_read (early lines carry placeholder output counts), the
-- parent copy over a sidechain copy on a tie; requestId missing -> message.id alone.
-- Deduplicated globally: the same call copied into a resumed/forked session counts once,
-- attributed to the session whose file started first (copies keep the original timestamps,
-- so on a tie the file that ended first: the original, which the resumed one continued).
-- `<synthetic>` messages are not API calls.
-- An incremental run recomputes the calls named in files with new messages: {scope} (on
-- the messages `m`) and {files} (the files their lines are in) are TRUE on a full build.
WITH claude_calls AS (
    SELECT * FROM normalized.normalized_messages m
    WHERE m.source = 'claude_code' AND m.record_type = 'assistant'
      AND (m.input_tokens IS NOT NULL OR m.output_tokens IS NOT NULL
           OR m.cache_creation_input_tokens IS NOT NULL OR m.cache_read_input_tokens IS NOT NULL)
      AND m.model IS DISTINCT FROM '<synthetic>'
      AND {scope}
),
file_starts AS (
    SELECT path, file_version, min(event_ts) AS file_first_ts, max(event_ts) AS file_last_ts
    FROM normalized.normalized_messages
    WHERE source = 'claude_code' AND {files}
    GROUP BY ALL
),
claude AS (
    SELECT m.*, f.file_first_ts, f.file_last_ts,
        coalesce(input_tokens, 0) + coalesce(output_tokens, 0)
            + coalesce(cache_creation_input_tokens, 0) + coalesce(cache_read_input_tokens, 0) AS call_total
    FROM claude_calls m
    JOIN file_starts f USING (path, file_version)
),
claude_grouped AS (
    SELECT *,
        coalesce(message_id, path || '#' || file_version || '@' || byte_offset) AS call_id,
        CASE WHEN message_id IS NOT NULL THEN request_id END AS call_request_id
    FROM claude
),
claude_best AS (
    SELECT * FROM claude_grouped
    QUALIFY row_number() OVER (PARTITION BY call_id, call_request_id
        ORDER BY call_total DESC, is_sidechain, file_first_ts, file_last_ts, path, file_version, byte_offset) = 1
),
claude_owner AS (
    SELECT call_id, call_request_id, session_id AS owner_session_id, agent_id AS owner_agent_id
    FROM claude_grouped
    QUALIFY row_number() OVER (PARTITION BY call_id, call_request_id
        ORDER BY file_first_ts, file_last_ts, is_sidechain, path, file_version, byte_offset) = 1
),
claude_usage AS (
    SELECT
        'claude_code' AS source,
        o.owner_session_id AS session_id,
        o.owner_agent_id AS agent_id,
        b.message_id,
        b.request_id,
        b.model,
        FALSE AS model_is_fallback,
        b.event_ts,
        coalesce(b.input_tokens, 0) AS input_tokens,
        coalesce(b.output_tokens, 0) AS output_tokens,
        coalesce(b.cache_creation_input_tokens, 0) AS cache_creation_input_tokens,
        coalesce(b.cache_creation_1h_input_tokens, 0) AS cache_creation_1h_input_tokens,
        coalesce(b.cache_read_input_tokens, 0) AS cache_read_input_tokens,
        CAST(0 AS BIGINT) AS reasoning_output_tokens,
        b.is_sidechain,
        coalesce(b.speed, 'standard') AS speed,
        b.service_tier,
        b.path, b.file_version, b.byte_offset,
        'claude_code:' || b.call_id || ':' || coalesce(b.call_request_id, '-') AS usage_key
    FROM claude_best b
    JOIN claude_owner o ON o.call_id = b.call_id AND o.call_request_id IS NOT DISTINCT FROM b.call_request_id
)
SELECT * FROM claude_usage
