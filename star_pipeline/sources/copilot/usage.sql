-- GitHub Copilot CLI API calls into the normalized_usage contract (star_pipeline/normalized/normalized_usage.sql).
--
-- Copilot writes a process run's usage once, at `session.shutdown`, per model: one record per
-- (shutdown, model), dated at the shutdown (a killed run wrote none). Compactions are outside those
-- totals: one record per `session.compaction_complete`, at its own time, booked to the session's
-- model (the compaction names none, and counts as a fallback model then). {api_call_usage} makes
-- them usage rows. An incremental run recomputes the sessions of files with new
-- messages: {scope} is TRUE on a full build.
WITH session_models AS (
    SELECT session_id, arg_max(model, event_ts) AS session_model
    FROM normalized.normalized_messages m
    WHERE m.source = 'copilot' AND m.model IS NOT NULL AND {scope}
    GROUP BY session_id
),
calls AS (
    SELECT m.session_id, m.agent_id, m.is_sidechain, m.path, m.file_version, m.byte_offset, m.event_ts,
           unnest(m.api_calls) AS c
    FROM normalized.normalized_messages m
    WHERE m.source = 'copilot' AND len(m.api_calls) > 0 AND {scope}
),
counted AS (
    SELECT calls.*, coalesce(s.session_model, 'unknown') AS default_model
    FROM calls LEFT JOIN session_models s USING (session_id)
    QUALIFY row_number() OVER (PARTITION BY session_id, c.call_id ORDER BY event_ts, path, file_version, byte_offset) = 1
)
{api_call_usage}
