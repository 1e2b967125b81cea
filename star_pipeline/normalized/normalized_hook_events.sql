-- normalized_hook_events: one row per hook event an agent reported, whatever spooled it.
--
-- This file is the contract: every column and its type, below. Each source with hook events
-- parses its own lines in star_pipeline/sources/<source>/hook_events.sql; {source_hook_events}
-- is their union by name.
WITH contract AS (
    SELECT
        CAST(NULL AS VARCHAR) AS source,
        CAST(NULL AS VARCHAR) AS path,
        CAST(NULL AS INTEGER) AS file_version,
        CAST(NULL AS BIGINT) AS line_number,
        CAST(NULL AS BIGINT) AS byte_offset,
        CAST(NULL AS VARCHAR) AS event_name,  -- PreToolUse, PostToolUse, SessionStart ...
        CAST(NULL AS VARCHAR) AS session_id,
        CAST(NULL AS VARCHAR) AS tool_name,
        CAST(NULL AS VARCHAR) AS tool_use_id,
        CAST(NULL AS BIGINT) AS duration_ms,
        CAST(NULL AS TIMESTAMPTZ) AS received_at,
        CAST(NULL AS VARCHAR) AS cwd,
        CAST(NULL AS VARCHAR) AS transcript_path,
        CAST(NULL AS VARCHAR) AS agent_id,
        CAST(NULL AS VARCHAR) AS agent_type,
        CAST(NULL AS VARCHAR) AS session_source,
        CAST(NULL AS VARCHAR) AS end_reason,
        CAST(NULL AS VARCHAR) AS permission_mode,
        CAST(NULL AS BOOLEAN) AS is_interrupt,
        CAST(NULL AS VARCHAR) AS error,
        CAST(NULL AS BIGINT) AS payload_size
    WHERE FALSE
)
SELECT * FROM contract
{source_hook_events}
