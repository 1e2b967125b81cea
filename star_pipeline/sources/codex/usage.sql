-- Codex API calls into the normalized_usage contract (star_pipeline/normalized/normalized_usage.sql).
--
-- Per file, token_count events whose cumulative totals equal the previous event's are
-- re-emits and skipped; the others count their last_token_usage (never differences of
-- cumulative totals, which can reset). input excludes cached (cached -> cache_read);
-- reasoning is a subset of output, reported apart. The model comes from the last
-- turn_context; rollouts that never name one get 'gpt-5' with model_is_fallback (ccusage's
-- convention). A rollout present twice (e.g. moved to archived_sessions) counts once: the
-- file with the most lines for that session id.
-- An incremental run recomputes the sessions of files with new messages: {scope} is TRUE
-- on a full build.
WITH codex_files AS (
    -- one file per session id (a rollout can exist twice, e.g. after archiving)
    SELECT session_id, path, file_version
    FROM (SELECT session_id, path, file_version, count(*) AS n
          FROM normalized.normalized_messages WHERE source = 'codex' AND {scope} GROUP BY ALL)
    QUALIFY row_number() OVER (PARTITION BY session_id ORDER BY n DESC, path, file_version) = 1
),
codex_events AS (
    SELECT m.*,
        last_value(m.model IGNORE NULLS) OVER (PARTITION BY m.path, m.file_version ORDER BY m.byte_offset
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS turn_model
    FROM normalized.normalized_messages m
    JOIN codex_files f USING (session_id, path, file_version)
    WHERE m.source = 'codex'
),
codex_counts AS (
    SELECT *,
        lag([total_input_tokens, total_cached_input_tokens, total_output_tokens, total_reasoning_output_tokens])
            OVER (PARTITION BY path, file_version ORDER BY byte_offset) AS previous_totals
    FROM codex_events
    WHERE record_type = 'event_msg' AND subtype = 'token_count' AND last_input_tokens IS NOT NULL
),
codex_usage AS (
    SELECT
        'codex' AS source,
        session_id,
        CAST(NULL AS VARCHAR) AS agent_id,
        CAST(NULL AS VARCHAR) AS message_id,
        CAST(NULL AS VARCHAR) AS request_id,
        coalesce(turn_model, 'gpt-5') AS model,
        turn_model IS NULL AS model_is_fallback,
        event_ts,
        last_input_tokens - coalesce(last_cached_input_tokens, 0) AS input_tokens,
        coalesce(last_output_tokens, 0) AS output_tokens,
        CAST(0 AS BIGINT) AS cache_creation_input_tokens,
        CAST(0 AS BIGINT) AS cache_creation_1h_input_tokens,
        coalesce(last_cached_input_tokens, 0) AS cache_read_input_tokens,
        coalesce(last_reasoning_output_tokens, 0) AS reasoning_output_tokens,
        FALSE AS is_sidechain,
        'standard' AS speed,
        CAST(NULL AS VARCHAR) AS service_tier,
        path, file_version, byte_offset,
        'codex:' || session_id || ':' || byte_offset AS usage_key
    FROM codex_counts
    WHERE previous_totals IS NULL
       OR previous_totals IS DISTINCT FROM [total_input_tokens, total_cached_input_tokens, total_output_tokens, total_reasoning_output_tokens]
)
SELECT * FROM codex_usage
