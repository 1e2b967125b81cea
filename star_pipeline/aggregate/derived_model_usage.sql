-- derived_model_usage: one row per source and model (fast calls as <model>-fast).
--
-- Columns:
--   source: the agent (claude_code, codex, ...)
--   model: the model as reports name it (<model>-fast for fast-mode calls)
--   first_used: its first call's time
--   last_used: its last call's time
--   api_calls: its API calls
--   input_tokens: input tokens, cache reads and writes excluded
--   output_tokens: output tokens, reasoning included
--   cache_creation_input_tokens: tokens written to the prompt cache
--   cache_read_input_tokens: tokens read from the prompt cache
--   reasoning_output_tokens: the reasoning part of output_tokens
--   total_tokens: input + output + cache writes + cache reads
--   cost_usd: the cost in USD of the calls with a known price (NULL when none had one)
--   unpriced_calls: calls without a known price
-- Preview: model, source, api_calls, total_tokens, cost_usd, unpriced_calls, last_used
SELECT
    source, report_model AS model, min(event_ts) AS first_used, max(event_ts) AS last_used,
    count(*) AS api_calls,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cache_creation_input_tokens) AS cache_creation_input_tokens,
    sum(cache_read_input_tokens) AS cache_read_input_tokens,
    sum(reasoning_output_tokens) AS reasoning_output_tokens,
    sum(total_tokens) AS total_tokens,
    sum(cost_usd) AS cost_usd,
    count(*) FILTER (WHERE NOT price_found) AS unpriced_calls,
    '{pipeline_version}' AS pipeline_version
FROM aggregate.fact_token_usage
GROUP BY ALL
