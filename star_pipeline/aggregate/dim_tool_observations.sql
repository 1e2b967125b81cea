-- Observations for dim_tool (SCD2): each tool name with the source that uses it, first seen at its first call.
SELECT tool_name, source, min(called_at) AS observed_at
FROM normalized.normalized_tool_calls
WHERE tool_name IS NOT NULL
GROUP BY tool_name, source
QUALIFY row_number() OVER (PARTITION BY tool_name ORDER BY min(called_at), source) = 1
