-- Amp API calls into the normalized_usage contract (star_pipeline/normalized/normalized_usage.sql).
--
-- Each message and ledger event counts as its last stored copy (a thread is rewritten whole). One a
-- later version no longer holds (the user edited an earlier message) stays counted: its call was made.
-- A thread with a usage ledger counts one call per ledger event (inference and title generation),
-- its cache tokens taken from the message the event accounts for (events repeat the message's
-- counts without cache); a thread without one counts each assistant message's usage (inputTokens
-- exclude cache; totalInputTokens, their sum with it, is never added). Never both. {api_call_usage}
-- makes them usage rows. An incremental run recomputes the threads of files with new pieces: {scope}
-- is TRUE on a full build.
WITH latest AS (
    SELECT m.* FROM normalized.normalized_messages m
    WHERE m.source = 'amp' AND {scope}
    QUALIFY row_number() OVER (PARTITION BY m.session_id, m.record_type, m.uuid ORDER BY m.file_version DESC, m.byte_offset DESC) = 1
),
ledger_threads AS (
    SELECT DISTINCT session_id FROM latest WHERE record_type = 'ledger_event'
),
message_calls AS (
    SELECT l.*, unnest(l.api_calls) AS c FROM latest l WHERE l.record_type = 'message' AND len(l.api_calls) > 0
),
counted AS (
    SELECT e.session_id, e.agent_id, e.is_sidechain, e.path, e.file_version, e.byte_offset, e.event_ts, CAST(NULL AS VARCHAR) AS default_model,
        {'call_id': e.c.call_id, 'model': e.c.model, 'input_tokens': e.c.input_tokens, 'output_tokens': e.c.output_tokens,
         'cache_creation_input_tokens': CASE WHEN e.subtype = 'inference' THEN coalesce(m.c.cache_creation_input_tokens, 0) ELSE 0 END,
         'cache_read_input_tokens': CASE WHEN e.subtype = 'inference' THEN coalesce(m.c.cache_read_input_tokens, 0) ELSE 0 END,
         'reasoning_output_tokens': e.c.reasoning_output_tokens, 'recorded_cost_usd': e.c.recorded_cost_usd} AS c
    FROM (SELECT l.*, unnest(l.api_calls) AS c FROM latest l WHERE l.record_type = 'ledger_event') e
    LEFT JOIN message_calls m ON m.session_id = e.session_id AND m.uuid = e.parent_uuid
    UNION ALL BY NAME
    SELECT session_id, agent_id, is_sidechain, path, file_version, byte_offset, event_ts, CAST(NULL AS VARCHAR) AS default_model, c
    FROM message_calls WHERE session_id NOT IN (SELECT session_id FROM ledger_threads)
)
{api_call_usage}
