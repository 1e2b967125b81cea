-- derived_model_usage: one row per source and model (fast calls as <model>-fast).
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
