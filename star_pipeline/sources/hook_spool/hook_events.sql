-- normalized_hook_events: one row per spooled hook payload (a JSON object under
-- "payload"); received_at is the only event time hooks have. Other spool lines
-- go to normalized_parse_errors. {lines} are the spool lines not normalized yet, whole.
WITH spool AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset,
        json_transform(transcript_json(r.line_bytes), '{"received_at": "VARCHAR", "payload": {
            "hook_event_name": "VARCHAR", "session_id": "VARCHAR", "tool_name": "VARCHAR",
            "tool_use_id": "VARCHAR", "duration_ms": "BIGINT", "cwd": "VARCHAR", "transcript_path": "VARCHAR",
            "agent_id": "VARCHAR", "agent_type": "VARCHAR", "source": "VARCHAR", "reason": "VARCHAR",
            "permission_mode": "VARCHAR", "is_interrupt": "BOOLEAN", "error": "VARCHAR"}}') AS j,
        length(CAST(json_extract(transcript_json(r.line_bytes), '$.payload') AS VARCHAR)) AS payload_size
    FROM {lines} r
    WHERE try(json_type(transcript_json(r.line_bytes), '$.payload')) = 'OBJECT'
)
SELECT
    'hook_spool' AS source,
    path, file_version, line_number, byte_offset,
    j.payload.hook_event_name AS event_name,
    j.payload.session_id AS session_id,
    j.payload.tool_name AS tool_name,
    j.payload.tool_use_id AS tool_use_id,
    j.payload.duration_ms AS duration_ms,
    TRY_CAST(j.received_at AS TIMESTAMPTZ) AS received_at,
    j.payload.cwd AS cwd,
    j.payload.transcript_path AS transcript_path,
    j.payload.agent_id AS agent_id,
    j.payload.agent_type AS agent_type,
    j.payload.source AS session_source,
    j.payload.reason AS end_reason,
    j.payload.permission_mode AS permission_mode,
    j.payload.is_interrupt AS is_interrupt,
    left(j.payload.error, 16000) AS error,  -- at most 64 KB: a longer value would stay pinned in memory until commit
    payload_size
FROM spool
