-- derived_daily_usage: UTC date x source x model (fast calls as <model>-fast).
--
-- Columns:
--   usage_date: the UTC day of the calls
--   source: the agent (claude_code, codex, ...)
--   model: the model as reports name it (<model>-fast for fast-mode calls)
--   api_calls: API calls that day
--   input_tokens: input tokens, cache reads and writes excluded
--   output_tokens: output tokens, reasoning included
--   cache_creation_input_tokens: tokens written to the prompt cache
--   cache_read_input_tokens: tokens read from the prompt cache
--   reasoning_output_tokens: the reasoning part of output_tokens
--   total_tokens: input + output + cache writes + cache reads
--   cost_usd: the cost in USD of the calls with a known price (NULL when none had one)
--   has_unpriced_calls: some call had no known price (its cost is NULL)
--   model_is_fallback: some call's model was assumed, the agent never named it
-- Preview: usage_date, source, model, api_calls, total_tokens, cost_usd, has_unpriced_calls
SELECT
    CAST(event_ts AT TIME ZONE 'UTC' AS DATE) AS usage_date, source, report_model AS model,
    count(*) AS api_calls,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cache_creation_input_tokens) AS cache_creation_input_tokens,
    sum(cache_read_input_tokens) AS cache_read_input_tokens,
    sum(reasoning_output_tokens) AS reasoning_output_tokens,
    sum(total_tokens) AS total_tokens,
    sum(cost_usd) AS cost_usd,
    bool_or(NOT price_found) AS has_unpriced_calls,
    bool_or(model_is_fallback) AS model_is_fallback,
    '{pipeline_version}' AS pipeline_version
FROM aggregate.fact_token_usage
GROUP BY ALL
