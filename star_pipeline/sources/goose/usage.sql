-- Goose API calls into the normalized_usage contract (star_pipeline/normalized/normalized_usage.sql).
--
-- Goose records no call: each sessions row holds the session's running total (accumulated_*, else the
-- latest exchange's columns). A session counts once, as one usage row from the last stored copy of
-- its row, at its created_at; NULL tokens count nothing. The model is the row's model_config_json
-- where the schema has it, else none (reported as unpriced). {api_call_usage} makes it a usage row. An
-- incremental run recomputes the sessions of files with new pieces: {scope} is TRUE on a full build.
WITH latest AS (
    SELECT m.* FROM normalized.normalized_messages m
    WHERE m.source = 'goose' AND m.record_type = 'sessions' AND {scope}
    QUALIFY row_number() OVER (PARTITION BY m.session_id ORDER BY m.file_version DESC, m.path DESC) = 1
),
counted AS (
    SELECT session_id, agent_id, is_sidechain, path, file_version, byte_offset, event_ts,
           'goose-unknown-model' AS default_model, unnest(api_calls) AS c
    FROM latest WHERE len(api_calls) > 0
)
{api_call_usage}
