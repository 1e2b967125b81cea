-- Qwen Code API calls into the normalized_usage contract (star_pipeline/normalized/normalized_usage.sql).
--
-- Every call is logged by a `system` ui_telemetry line (qwen-code.api_response, one per response_id),
-- and most again by their assistant line: a file with telemetry counts its telemetry lines, each
-- response_id once (calls made inside a tool, such as web_fetch summarising a page, have only
-- those); a file without (older versions) counts its assistant lines. The messages already carry
-- the counts in the warehouse's semantics (messages.sql: cached and thoughts taken out of the
-- inclusive counts). An incremental run recomputes the sessions of files with new messages: {scope}
-- is TRUE on a full build.
WITH calls AS (
    SELECT m.session_id, m.agent_id, m.is_sidechain, m.path, m.file_version, m.byte_offset, m.event_ts, m.record_type,
           unnest(m.api_calls) AS c
    FROM normalized.normalized_messages m
    WHERE m.source = 'qwen' AND len(m.api_calls) > 0 AND {scope}
),
telemetry_files AS (
    SELECT DISTINCT path, file_version FROM calls WHERE record_type = 'system'
),
counted AS (
    SELECT *, 'coder-model' AS default_model FROM calls WHERE record_type = 'system'
    QUALIFY row_number() OVER (PARTITION BY c.call_id ORDER BY event_ts, path, file_version, byte_offset) = 1
    UNION ALL
    SELECT *, 'coder-model' FROM calls
    WHERE record_type = 'assistant' AND (path, file_version) NOT IN (SELECT path, file_version FROM telemetry_files)
)
{api_call_usage}
