-- Observations for dim_tool (SCD2): each tool name with the source that uses it, first seen at its first
-- call (transcripts) or hook event (hooks can name a tool before its transcript line is ingested).
--
-- Columns (of aggregate.dim_tool, besides the SCD2 columns storage/scd2.py adds):
--   tool_name: the tool
--   source: the agent that used it first
-- Preview: tool_name, source, effective_from, is_current
WITH seen AS (
    SELECT tool_name, source, called_at AS seen_at FROM normalized.normalized_tool_calls WHERE tool_name IS NOT NULL
    UNION ALL
    SELECT tool_name, 'claude_code', received_at FROM normalized.normalized_hook_events WHERE tool_name IS NOT NULL
)
SELECT tool_name, arg_min(source, coalesce(seen_at, TIMESTAMPTZ '9999-12-31 00:00:00+00')) AS source,
       coalesce(min(seen_at), TIMESTAMPTZ '1970-01-01 00:00:00+00') AS observed_at
FROM seen
GROUP BY tool_name
