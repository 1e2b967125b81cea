-- pi and OpenClaw API calls into the normalized_usage contract (star_pipeline/normalized/normalized_usage.sql).
--
-- One call per assistant message entry with usage, once per entry id in its session (aborted and error
-- replies carry all-zero usage and count as zero-token calls), dated at the entry; the cost is the reply's
-- usage.cost.total as pi recorded it. {api_call_usage} makes them usage rows. An incremental run
-- recomputes the sessions of files with new lines: {scope} is TRUE on a full build.
WITH calls AS (
    SELECT m.session_id, m.agent_id, m.is_sidechain, m.path, m.file_version, m.byte_offset, m.event_ts,
           unnest(m.api_calls) AS c
    FROM normalized.normalized_messages m
    WHERE m.source = 'pi' AND len(m.api_calls) > 0 AND {scope}
),
counted AS (
    SELECT *, 'unknown' AS default_model FROM calls
    QUALIFY row_number() OVER (PARTITION BY session_id, c.call_id ORDER BY event_ts, path, file_version, byte_offset) = 1
)
{api_call_usage}
