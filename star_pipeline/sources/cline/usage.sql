-- Cline, Roo Code and Kilo Code API calls into the normalized_usage contract
-- (star_pipeline/normalized/normalized_usage.sql); ../shared/FORMATS-agents2.md section 1.
--
-- One call per api_req_started and deleted_api_reqs message (a failed request, cancelReason
-- streaming_failed, keeps its row with zero counts; api_req_retried and error_retry rows carry none), as
-- the task's latest ui_messages.json holds it: the task is rewritten whole, a request's row is updated in
-- place when its stream ends, and messages deleted from the task (a checkpoint restore) leave a
-- deleted_api_reqs row with their sums, so only the messages the latest version still holds count (its
-- frame says how many: positions beyond are gone). The model is the row's modelInfo.modelId, else the
-- last model task_metadata.json names, else 'unknown'; the cost is the row's `cost` as Cline recorded it.
-- {api_call_usage} makes them usage rows. An incremental run recomputes the tasks of files with new
-- pieces: {scope} is TRUE on a full build.
WITH task_messages AS (
    SELECT m.* FROM normalized.normalized_messages m
    WHERE m.source = {source} AND m.path LIKE '%/ui_messages.json' AND {scope}
),
latest_frames AS (
    SELECT path, TRY_CAST(leaf_uuid AS BIGINT) AS message_count FROM task_messages
    WHERE record_type = 'task'
    QUALIFY row_number() OVER (PARTITION BY path ORDER BY file_version DESC) = 1
),
held AS (
    SELECT t.* FROM task_messages t JOIN latest_frames f ON f.path = t.path AND t.line_number BETWEEN 1 AND f.message_count
    QUALIFY row_number() OVER (PARTITION BY t.path, t.line_number ORDER BY t.file_version DESC) = 1
),
metadata_models AS (
    SELECT m.session_id, m.model FROM normalized.normalized_messages m
    WHERE m.source = {source} AND m.record_type = 'task_metadata' AND m.model IS NOT NULL AND {scope}
    QUALIFY row_number() OVER (PARTITION BY m.session_id ORDER BY m.file_version DESC, m.path DESC) = 1
),
calls AS (
    SELECT h.session_id, h.agent_id, h.is_sidechain, h.path, h.file_version, h.byte_offset, h.event_ts,
           coalesce(mm.model, 'unknown') AS default_model, unnest(h.api_calls) AS c
    FROM held h LEFT JOIN metadata_models mm ON mm.session_id = h.session_id
    WHERE len(h.api_calls) > 0
),
counted AS (  -- the same task found twice (in two editors' folders): each call once
    SELECT * FROM calls
    QUALIFY row_number() OVER (PARTITION BY session_id, c.call_id ORDER BY event_ts, path) = 1
)
{api_call_usage}
