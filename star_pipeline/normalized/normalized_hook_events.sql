-- normalized_hook_events: one row per hook event an agent reported, whatever spooled it.
--
-- This file is the contract: every column and its type, below. Each source with hook events
-- parses its own lines in star_pipeline/sources/<source>/hook_events.sql; {source_hook_events}
-- is their union by name.
--
-- Columns:
--   source: what spooled the event (hook_spool: `star-pipeline hook`)
--   path: the spool file the event was read from
--   file_version: the version of that file in raw
--   line_number: the event's line in that file version, from 1
--   byte_offset: where the line starts; with source, path and file_version the key
--   event_name: the hook event (PreToolUse, PostToolUse, SessionStart, SubagentStop ...)
--   session_id: the agent's session the event belongs to
--   tool_name: the tool of a tool event
--   tool_use_id: the tool call's id (the transcript's call_id)
--   duration_ms: the tool call's duration, where the agent reports it
--   received_at: when the hook received the event (the only event time hooks have)
--   cwd: the agent's working directory
--   transcript_path: the session's transcript file, as the agent names it
--   agent_id: the subagent of a Subagent event
--   agent_type: the subagent's type (Explore, Plan, general-purpose ...)
--   session_source: how a session started (SessionStart's source: startup, resume, clear, compact)
--   end_reason: why a session ended (SessionEnd's reason)
--   permission_mode: the agent's permission mode at the event
--   is_interrupt: a tool failure (PostToolUseFailure) the user caused by interrupting
--   error: a tool failure's error text (first 16,000 characters)
--   payload_size: characters of the hook's JSON payload
--   machine_id: the machine whose copy of the file was read (one per path: raw/line_parts.py)
--   normalize_run_id: the Dagster run that normalized the line
-- Preview: event_name, tool_name, session_id, received_at, duration_ms, line_number
WITH contract AS (
    SELECT
        CAST(NULL AS VARCHAR) AS source,
        CAST(NULL AS VARCHAR) AS path,
        CAST(NULL AS INTEGER) AS file_version,
        CAST(NULL AS BIGINT) AS line_number,
        CAST(NULL AS BIGINT) AS byte_offset,
        CAST(NULL AS VARCHAR) AS event_name,
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
