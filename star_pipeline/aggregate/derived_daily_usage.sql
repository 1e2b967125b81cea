-- derived_daily_usage: UTC date x source x model (fast calls as <model>-fast).
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
