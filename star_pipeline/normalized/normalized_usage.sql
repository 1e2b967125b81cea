-- normalized_usage: one row per API call, tokens never overlapping, whatever the agent:
-- input_tokens exclude cache reads and writes, cache_creation_input_tokens are cache
-- writes (cache_creation_1h_input_tokens the part written for an hour),
-- cache_read_input_tokens cache reads, output_tokens include reasoning, which
-- reasoning_output_tokens reports apart; each call counted once (usage_key).
--
-- This file is the contract: every column and its type, below. Each source's rules
-- (which lines are calls, how copies are deduplicated) are in
-- star_pipeline/sources/<source>/usage.sql; {source_usage} is their union by name.
-- An incremental run recomputes only the calls named in files with new messages
-- (storage/watermarks.py; each source's scope is its `usage_scope`).
--
-- Columns:
--   source: the agent that made the call (claude_code, codex, ...)
--   session_id: the session the call was made in
--   agent_id: the subagent or compaction agent that made it (NULL in a main session)
--   message_id: the API message's id, where the agent records one
--   request_id: the API request's id, where the agent records one
--   model: the model called
--   model_is_fallback: the agent never named its model: a default was assumed
--   event_ts: when the call was made
--   input_tokens: input tokens, cache reads and writes excluded
--   output_tokens: output tokens, reasoning included
--   cache_creation_input_tokens: tokens written to the prompt cache
--   cache_creation_1h_input_tokens: the part of those written for one hour (priced apart)
--   cache_read_input_tokens: tokens read from the prompt cache
--   reasoning_output_tokens: the reasoning part of output_tokens
--   is_sidechain: made in a sidechain (subagent) conversation
--   speed: 'standard' or 'fast' (priced fast_multiplier times)
--   service_tier: the API's service tier for the call
--   path: the transcript file of the line the call's counts were taken from
--   file_version: that file's version in raw
--   byte_offset: where that line starts
--   usage_key: '<source>:...': unique per call
--   recorded_cost_usd: the cost in USD the agent's file records for this call (NULL where it records none)
-- Preview: usage_key, model, event_ts, input_tokens, output_tokens, cache_read_input_tokens, source
WITH contract AS (
    SELECT
        CAST(NULL AS VARCHAR) AS source,
        CAST(NULL AS VARCHAR) AS session_id,
        CAST(NULL AS VARCHAR) AS agent_id,
        CAST(NULL AS VARCHAR) AS message_id,
        CAST(NULL AS VARCHAR) AS request_id,
        CAST(NULL AS VARCHAR) AS model,
        CAST(NULL AS BOOLEAN) AS model_is_fallback,
        CAST(NULL AS TIMESTAMPTZ) AS event_ts,
        CAST(NULL AS BIGINT) AS input_tokens,
        CAST(NULL AS BIGINT) AS output_tokens,
        CAST(NULL AS BIGINT) AS cache_creation_input_tokens,
        CAST(NULL AS BIGINT) AS cache_creation_1h_input_tokens,
        CAST(NULL AS BIGINT) AS cache_read_input_tokens,
        CAST(NULL AS BIGINT) AS reasoning_output_tokens,
        CAST(NULL AS BOOLEAN) AS is_sidechain,
        CAST(NULL AS VARCHAR) AS speed,
        CAST(NULL AS VARCHAR) AS service_tier,
        CAST(NULL AS VARCHAR) AS path,
        CAST(NULL AS INTEGER) AS file_version,
        CAST(NULL AS BIGINT) AS byte_offset,
        CAST(NULL AS VARCHAR) AS usage_key,
        CAST(NULL AS DOUBLE) AS recorded_cost_usd
    WHERE FALSE
)
SELECT * FROM contract
{source_usage}
