-- Aider API calls into the normalized_usage contract (star_pipeline/normalized/normalized_usage.sql).
--
-- One call per `> Tokens:` line (messages.sql made it one api_calls entry: counts as printed, rounded by
-- Aider for display), of the file's latest version only (a file rewritten and read again holds the same
-- lines again), at its run's start, with the model of its run in use then (the run header's, or the last
-- `/model` switch's). recorded_cost_usd is the line's `$x message` part (rounded for display by Aider too;
-- NULL where the line has no Cost part: a model Aider knows no price for). Weak-model calls (commit
-- messages, summaries) print no Tokens line and are not counted. An incremental run recomputes the runs
-- of files with new lines: {scope} is TRUE on a full build.
WITH lines AS (
    SELECT m.* FROM normalized.normalized_messages m
    WHERE m.source = 'aider' AND m.record_type = 'tokens' AND {scope}
    QUALIFY m.file_version = max(m.file_version) OVER (PARTITION BY m.path)
),
counted AS (
    SELECT *, unnest(api_calls) AS c,
        TRY_CAST(regexp_extract(message_text, 'Cost: \$([0-9.]+) message', 1) AS DOUBLE) AS cost
    FROM lines WHERE len(api_calls) > 0
)
SELECT 'aider' AS source, session_id, CAST(NULL AS VARCHAR) AS agent_id, path || '@' || byte_offset AS request_id,
    coalesce(c.model, 'aider-unknown-model') AS model, c.model IS NULL AS model_is_fallback, event_ts,
    c.input_tokens, c.output_tokens, c.cache_creation_input_tokens, CAST(0 AS BIGINT) AS cache_creation_1h_input_tokens,
    c.cache_read_input_tokens, c.reasoning_output_tokens, FALSE AS is_sidechain,
    'standard' AS speed, path, file_version, byte_offset,
    'aider:' || path || '@' || byte_offset AS usage_key,
    cost AS recorded_cost_usd
FROM counted
