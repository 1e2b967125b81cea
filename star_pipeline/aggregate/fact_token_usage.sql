-- fact_token_usage: one row per API call (grain: usage_key), with its cost.
-- cost_usd is the cost the agent's file records for the call where it records one
-- (Cline, Roo Code, Kilo Code, pi, OpenCode: recorded_cost_usd), else the computed cost, as
-- ccusage's --mode auto does with costUSD; both stay (computed_cost_usd, cost_source).
-- The computed cost is priced per call at the price in force at the call's time (dim_model's
-- validity): 5-minute and 1-hour cache writes priced apart; a call whose input
-- (input + cache writes + cache reads) exceeds the model's long-context threshold
-- is priced entirely at the long-context prices (the provider's rule); fast mode
-- costs {fast_multiplier} times standard. A model without a price gets computed cost NULL.
-- {usage_scope} is TRUE on a full build; an incremental run restricts it to the
-- calls whose usage row or project changed (aggregate/assets.py, fact_token_usage).
--
-- Columns:
--   usage_key: the call (normalized_usage's key)
--   project_key: dim_project's hash_key of the session's project
--   model_key: dim_model's hash_key of the model
--   machine_key: dim_machine's hash_key of the machine whose lines made the session
--   date_key: the call's UTC date, YYYYMMDD (dim_date)
--   time_key: the call's UTC minute, HHMM (dim_time)
--   source: the agent that made the call
--   session_id: the session it was made in
--   agent_id: the subagent or compaction agent that made it (NULL in a main session)
--   message_id: the API message's id, where the agent records one
--   request_id: the API request's id, where the agent records one
--   project_id: the session's project (session_projects; '(unknown)' without one)
--   machine_id: the machine whose lines made the session (session_projects; '(unknown)' without one)
--   model: the model called
--   report_model: the model as reports name it: <model>-fast for fast-mode calls
--   model_is_fallback: the agent never named its model: a default was assumed
--   speed: standard or fast
--   is_sidechain: made in a sidechain (subagent) conversation
--   event_ts: when the call was made
--   input_tokens: input tokens, cache reads and writes excluded
--   output_tokens: output tokens, reasoning included
--   cache_creation_input_tokens: tokens written to the prompt cache
--   cache_creation_1h_input_tokens: the part of those written for one hour (priced apart)
--   cache_read_input_tokens: tokens read from the prompt cache
--   reasoning_output_tokens: the reasoning part of output_tokens
--   total_tokens: input + output + cache writes + cache reads
--   is_long_context: the prompt (input + cache writes + reads) exceeded the model's long-context threshold:
--     the whole call is priced at the long-context rates
--   price_found: dim_model had a price for the model at the call's time
--   cost_usd: the call's cost in USD: recorded_cost_usd where the file records one, else computed_cost_usd
--     (NULL when it records none and the model has no price)
--   computed_cost_usd: the cost priced from the tokens at dim_model's prices (NULL without a price)
--   recorded_cost_usd: the cost the agent's file records for the call (NULL where it records none)
--   cost_source: which cost cost_usd is: 'recorded', 'computed' or NULL (neither)
--   path: the transcript file of the line the counts were taken from
--   file_version: that file's version in raw
--   byte_offset: where that line starts
--   inserted_at: when this row was written (kept while the call is unchanged)
--   record_source: the table the rows come from (normalized.normalized_usage)
-- Preview: report_model, event_ts, total_tokens, cost_usd, project_id, source, session_id, usage_key
WITH usage AS (
    SELECT u.*,
        u.input_tokens + u.output_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens AS total_tokens,
        u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens AS prompt_tokens
    FROM normalized.normalized_usage u
    WHERE {usage_scope}
),
session_projects AS (
    SELECT source, session_id, project_id, machine_id FROM aggregate.session_projects
),
priced AS (
    SELECT u.*, m.hash_key AS model_key, m.input_price, m.output_price, m.cache_read_price, m.cache_write_price,
        m.cache_write_1h_price, m.long_context_threshold, m.long_input_price, m.long_output_price,
        m.long_cache_read_price, m.long_cache_write_price, m.long_cache_write_1h_price,
        m.input_price IS NOT NULL AS price_found,
        m.long_context_threshold IS NOT NULL AND u.prompt_tokens > m.long_context_threshold AS is_long_context
    FROM usage u
    LEFT JOIN aggregate.dim_model m
      ON m.model = u.model AND u.event_ts >= m.effective_from AND (m.effective_to IS NULL OR u.event_ts < m.effective_to)
),
costed AS (
    SELECT p.*,
        CASE WHEN p.price_found THEN (
              p.input_tokens * CASE WHEN p.is_long_context THEN coalesce(p.long_input_price, p.input_price) ELSE p.input_price END
            + p.output_tokens * CASE WHEN p.is_long_context THEN coalesce(p.long_output_price, p.output_price) ELSE p.output_price END
            + p.cache_read_input_tokens * coalesce(CASE WHEN p.is_long_context THEN coalesce(p.long_cache_read_price, p.cache_read_price) ELSE p.cache_read_price END, 0)
            + (p.cache_creation_input_tokens - p.cache_creation_1h_input_tokens)
                * coalesce(CASE WHEN p.is_long_context THEN coalesce(p.long_cache_write_price, p.cache_write_price) ELSE p.cache_write_price END, 0)
            + p.cache_creation_1h_input_tokens
                * coalesce(CASE WHEN p.is_long_context THEN coalesce(p.long_cache_write_1h_price, p.cache_write_1h_price) ELSE p.cache_write_1h_price END, 0)
            ) / 1000000.0 * CASE WHEN p.speed = 'fast' THEN {fast_multiplier} ELSE 1 END
        END AS computed_cost_usd
    FROM priced p
)
SELECT
    p.usage_key,
    dimension_key([coalesce(sp.project_id, '(unknown)')]) AS project_key,
    dimension_key([p.model]) AS model_key,
    dimension_key([coalesce(sp.machine_id, '(unknown)')]) AS machine_key,
    CAST(strftime(p.event_ts AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER) AS date_key,
    CAST(strftime(p.event_ts AT TIME ZONE 'UTC', '%H%M') AS INTEGER) AS time_key,
    p.source,
    p.session_id,
    p.agent_id,
    p.message_id,
    p.request_id,
    coalesce(sp.project_id, '(unknown)') AS project_id,
    coalesce(sp.machine_id, '(unknown)') AS machine_id,
    p.model,
    CASE WHEN p.speed = 'fast' THEN p.model || '-fast' ELSE p.model END AS report_model,
    p.model_is_fallback,
    p.speed,
    p.is_sidechain,
    p.event_ts,
    p.input_tokens,
    p.output_tokens,
    p.cache_creation_input_tokens,
    p.cache_creation_1h_input_tokens,
    p.cache_read_input_tokens,
    p.reasoning_output_tokens,
    p.total_tokens,
    p.is_long_context,
    p.price_found,
    coalesce(p.recorded_cost_usd, p.computed_cost_usd) AS cost_usd,
    p.computed_cost_usd,
    p.recorded_cost_usd,
    CASE WHEN p.recorded_cost_usd IS NOT NULL THEN 'recorded' WHEN p.computed_cost_usd IS NOT NULL THEN 'computed' END AS cost_source,
    p.path, p.file_version, p.byte_offset,
    now() AS inserted_at,
    'normalized.normalized_usage' AS record_source,
    '{pipeline_version}' AS pipeline_version
FROM costed p
LEFT JOIN session_projects sp ON sp.source = p.source AND sp.session_id = p.session_id
