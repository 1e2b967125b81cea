-- Observations for dim_agent_type (SCD2): subagent types from Task/Agent calls and SubagentStart/Stop hooks.
--
-- Columns (of aggregate.dim_agent_type, besides the SCD2 columns storage/scd2.py adds):
--   agent_type: the subagent type (Explore, Plan, general-purpose ...)
--   first_seen_in: where it was seen first: tool_call (a Task/Agent call) or hook (a Subagent hook event)
-- Preview: agent_type, first_seen_in, effective_from, is_current
WITH types AS (
    SELECT subagent_type AS agent_type, 'tool_call' AS seen_in, called_at AS seen_at
    FROM normalized.normalized_tool_calls WHERE subagent_type IS NOT NULL
    UNION ALL
    SELECT agent_type, 'hook', received_at FROM normalized.normalized_hook_events WHERE agent_type IS NOT NULL
)
SELECT agent_type, arg_min(seen_in, seen_at) AS first_seen_in, coalesce(min(seen_at), TIMESTAMPTZ '1970-01-01 00:00:00+00') AS observed_at
FROM types GROUP BY agent_type
