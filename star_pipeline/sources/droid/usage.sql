-- Factory Droid API calls into the normalized_usage contract (star_pipeline/normalized/normalized_usage.sql).
--
-- Droid records no call: its settings file holds the session's running total, rewritten in place. The
-- session counts once, as one usage row from the last stored version of <id>.settings.json, at
-- providerLockTimestamp (the only time it gives: a session crossing midnight lands on one day).
-- Earlier versions are smaller totals of the same session and never add. {api_call_usage} makes it a
-- usage row. An incremental run recomputes the sessions of files with new pieces: {scope} is TRUE on a
-- full build.
WITH latest AS (
    SELECT m.* FROM normalized.normalized_messages m
    WHERE m.source = 'droid' AND m.record_type = 'settings' AND {scope}
    QUALIFY row_number() OVER (PARTITION BY m.session_id ORDER BY m.file_version DESC, m.path DESC) = 1
),
counted AS (
    SELECT session_id, agent_id, is_sidechain, path, file_version, byte_offset, event_ts,
           CAST(NULL AS VARCHAR) AS default_model, unnest(api_calls) AS c
    FROM latest WHERE len(api_calls) > 0
)
{api_call_usage}
