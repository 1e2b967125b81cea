-- normalized_usage: one row per API call, tokens never overlapping.
--
-- Claude Code: only top-level `assistant` lines count (progress lines embed copies).
-- One response is split over several lines sharing message.id + requestId: keep
-- the line with the largest input+output+cache_creation+cache_read (early lines
-- carry placeholder output counts), the parent copy over a sidechain copy on a
-- tie; requestId missing -> message.id alone. Deduplicated globally: the same
-- call copied into a resumed/forked session counts once, attributed to the
-- session whose file started first (copies keep the original timestamps, so on a
-- tie the file that ended first: the original, which the resumed one continued). `<synthetic>` messages are not API calls.
--
-- Codex: per file, token_count events whose cumulative totals equal the previous
-- event's are re-emits and skipped; the others count their last_token_usage
-- (never differences of cumulative totals, which can reset). input excludes
-- cached (cached -> cache_read); reasoning is a subset of output, reported
-- apart. The model comes from the last turn_context; rollouts that never name
-- one get 'gpt-5' with model_is_fallback (ccusage's convention). A rollout
-- present twice (e.g. moved to archived_sessions) counts once: the file with
-- the most lines for that session id.
--
-- An incremental run recomputes only the calls (Claude) and sessions (Codex) that
-- appear in files with new messages: {claude_scope} and {codex_scope} are TRUE on a
-- full build (see per_file_rebuild.py).
WITH claude_calls AS (
    SELECT * FROM normalized.normalized_messages m
    WHERE m.source = 'claude_code' AND m.record_type = 'assistant'
      AND (m.input_tokens IS NOT NULL OR m.output_tokens IS NOT NULL
           OR m.cache_creation_input_tokens IS NOT NULL OR m.cache_read_input_tokens IS NOT NULL)
      AND m.model IS DISTINCT FROM '<synthetic>'
      AND {claude_scope}
),
file_starts AS (
    SELECT path, file_version, min(event_ts) AS file_first_ts, max(event_ts) AS file_last_ts
    FROM normalized.normalized_messages
    WHERE source = 'claude_code' AND {claude_files}
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
),
codex_files AS (
    -- one file per session id (a rollout can exist twice, e.g. after archiving)
    SELECT session_id, path, file_version
    FROM (SELECT session_id, path, file_version, count(*) AS n
          FROM normalized.normalized_messages WHERE source = 'codex' AND {codex_scope} GROUP BY ALL)
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
SELECT * FROM claude_usage
UNION ALL
SELECT * FROM codex_usage
