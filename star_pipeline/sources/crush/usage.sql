-- Crush API calls into the normalized_usage contract (star_pipeline/normalized/normalized_usage.sql).
--
-- Crush keeps no per-call usage: after each call it OVERWRITES its session row's prompt_tokens (input +
-- cache write) and completion_tokens (output + cache read) with that call's, and adds the call's cost to
-- the row's running `cost`. So a session counts once, as the row stores it: one usage row from the last
-- stored copy of the session's row, input = prompt_tokens, output = completion_tokens (no cache split:
-- Crush keeps none), at updated_at, model = the session's last assistant message's model, and
-- recorded_cost_usd = the row's cost (the session's whole cost as Crush computed it). The tokens are
-- what the file says, the last call's, not what the session spent; a session with no tokens and no cost
-- (no call answered) is no row. The cost is read from the session's stored piece in raw (a session row is
-- far below the 64 KB a piece is cut at, line_parts.py). An incremental run recomputes the sessions of
-- files with new pieces: {scope} is TRUE on a full build.
WITH latest AS (
    SELECT m.* FROM normalized.normalized_messages m
    WHERE m.source = 'crush' AND m.record_type = 'sessions' AND {scope}
    QUALIFY row_number() OVER (PARTITION BY m.session_id ORDER BY m.file_version DESC, m.path DESC) = 1
),
messages AS (
    SELECT m.session_id, m.model, m.event_ts FROM normalized.normalized_messages m
    WHERE m.source = 'crush' AND m.record_type = 'messages' AND m.role = 'assistant' AND {scope}
    QUALIFY row_number() OVER (PARTITION BY m.uuid, m.path ORDER BY m.file_version DESC) = 1
),
last_model AS (
    SELECT session_id, arg_max(model, event_ts) FILTER (WHERE model IS NOT NULL) AS model
    FROM messages GROUP BY session_id
),
counted AS (
    SELECT l.*, unnest(l.api_calls) AS c, lm.model AS session_model,
        TRY_CAST(json_extract_string(decode(x.line_bytes), '$.row.cost') AS DOUBLE) AS cost
    FROM latest l
    LEFT JOIN last_model lm USING (session_id)
    LEFT JOIN raw.crush_lines x ON x.path = l.path AND x.file_version = l.file_version AND x.line_number = l.line_number
        AND x.machine_id IS NOT DISTINCT FROM l.machine_id AND x.part_number = 1 AND x.part_count = 1
    WHERE len(l.api_calls) > 0
)
SELECT 'crush' AS source, session_id, CAST(NULL AS VARCHAR) AS agent_id, 'session' AS request_id,
    coalesce(session_model, 'crush-unknown-model') AS model, session_model IS NULL AS model_is_fallback, event_ts,
    c.input_tokens, c.output_tokens, c.cache_creation_input_tokens, CAST(0 AS BIGINT) AS cache_creation_1h_input_tokens,
    c.cache_read_input_tokens, c.reasoning_output_tokens, FALSE AS is_sidechain,
    'standard' AS speed, path, file_version, byte_offset,
    'crush:' || session_id || ':session' AS usage_key,
    cost AS recorded_cost_usd
FROM counted
WHERE c.input_tokens > 0 OR c.output_tokens > 0 OR coalesce(cost, 0) > 0
