-- normalized_messages: one row per transcript line that parsed as a JSON object: raw
-- reference, session and agent, tree links, time, role, content shape, usage fields,
-- the tool calls/results the line carries, and its text (message_text, tool_input,
-- tool_result: the text every classifier and search read, so no later step parses the
-- line again). Lines that do not parse go to normalized_parse_errors.
--
-- This file is the contract: every column and its type, below. Each source with
-- messages parses its own lines in star_pipeline/sources/<source>/messages.sql and
-- selects the columns it has; {source_messages} is their union by name (a column a
-- source does not have is NULL in its rows). Each line is parsed ONCE, with
-- json_transform, into a typed struct; unknown line types are kept with their type name.
-- Text fields keep their first 16,000 characters (at most 64 KB, under the size DuckDB
-- would pin in memory until commit); the whole line stays in raw.
WITH contract AS (
    SELECT
        CAST(NULL AS VARCHAR) AS source,
        CAST(NULL AS VARCHAR) AS path,
        CAST(NULL AS INTEGER) AS file_version,
        CAST(NULL AS BIGINT) AS line_number,
        CAST(NULL AS BIGINT) AS byte_offset,
        CAST(NULL AS VARCHAR) AS session_id,
        CAST(NULL AS VARCHAR) AS agent_id,
        CAST(NULL AS VARCHAR) AS file_kind,
        CAST(NULL AS VARCHAR) AS record_type,
        CAST(NULL AS VARCHAR) AS subtype,
        CAST(NULL AS VARCHAR) AS uuid,
        CAST(NULL AS VARCHAR) AS parent_uuid,
        CAST(NULL AS VARCHAR) AS logical_parent_uuid,
        CAST(NULL AS VARCHAR) AS leaf_uuid,
        CAST(NULL AS TIMESTAMPTZ) AS event_ts,
        CAST(NULL AS VARCHAR) AS role,
        CAST(NULL AS VARCHAR) AS content_kind,
        CAST(NULL AS HUGEINT) AS text_length,
        CAST(NULL AS BOOLEAN) AS is_sidechain,
        CAST(NULL AS BOOLEAN) AS is_meta,
        CAST(NULL AS BOOLEAN) AS is_compact_summary,
        CAST(NULL AS VARCHAR) AS cwd,
        CAST(NULL AS VARCHAR) AS git_branch,
        CAST(NULL AS VARCHAR) AS git_repository_url,
        CAST(NULL AS VARCHAR) AS tool_version,
        CAST(NULL AS VARCHAR) AS entrypoint,
        CAST(NULL AS VARCHAR) AS model,
        CAST(NULL AS VARCHAR) AS message_id,
        CAST(NULL AS VARCHAR) AS request_id,
        -- the subagent a tool result says its call started, and that subagent's type (Claude Code's Task
        -- and Agent results: toolUseResult.agentId, agentType): what ties a subagent's calls to its type
        CAST(NULL AS VARCHAR) AS spawned_agent_id,
        CAST(NULL AS VARCHAR) AS spawned_agent_type,
        CAST(NULL AS BIGINT) AS input_tokens,
        CAST(NULL AS BIGINT) AS output_tokens,
        CAST(NULL AS BIGINT) AS cache_creation_input_tokens,
        CAST(NULL AS BIGINT) AS cache_creation_1h_input_tokens,
        CAST(NULL AS BIGINT) AS cache_read_input_tokens,
        CAST(NULL AS VARCHAR) AS speed,
        CAST(NULL AS VARCHAR) AS service_tier,
        CAST(NULL AS BIGINT) AS total_input_tokens,
        CAST(NULL AS BIGINT) AS total_cached_input_tokens,
        CAST(NULL AS BIGINT) AS total_output_tokens,
        CAST(NULL AS BIGINT) AS total_reasoning_output_tokens,
        CAST(NULL AS BIGINT) AS last_input_tokens,
        CAST(NULL AS BIGINT) AS last_cached_input_tokens,
        CAST(NULL AS BIGINT) AS last_output_tokens,
        CAST(NULL AS BIGINT) AS last_reasoning_output_tokens,
        -- a tool call or result the line carries: call or result, ids, tool, sizes, target, shell command
        CAST(NULL AS STRUCT(kind VARCHAR, call_id VARCHAR, tool_name VARCHAR, input_size BIGINT, target_path VARCHAR,
                            subagent_type VARCHAR, skill_name VARCHAR, is_error BOOLEAN, result_size BIGINT,
                            command VARCHAR)[]) AS tool_blocks,
        -- the API calls the line reports, already in the warehouse's token semantics (input without cache reads
        -- or writes, output with reasoning, reasoning also apart), for sources whose usage.sql counts these;
        -- call_id is the agent's id for the call (a response id, a message id) where it has one
        CAST(NULL AS STRUCT(call_id VARCHAR, model VARCHAR, input_tokens BIGINT, output_tokens BIGINT,
                            cache_creation_input_tokens BIGINT, cache_read_input_tokens BIGINT,
                            reasoning_output_tokens BIGINT)[]) AS api_calls,
        CAST(NULL AS VARCHAR) AS message_text,  -- prompts, assistant text and thinking
        CAST(NULL AS VARCHAR) AS tool_input,  -- tool-call inputs, JSON escapes undone
        CAST(NULL AS VARCHAR) AS tool_result  -- tool results
    WHERE FALSE
)
SELECT *,
    -- the session a line belongs to: the session id, plus ':<agent id>' for agent files,
    -- plus ':sidechain' for a 1.0.x main file's inline sidechain turns
    session_id
        || CASE WHEN file_kind IN ('subagent', 'compaction') THEN ':' || coalesce(agent_id, '?') ELSE '' END
        || CASE WHEN file_kind = 'inline_sidechain' THEN ':sidechain' ELSE '' END AS session_key
FROM (
    SELECT * FROM contract
    {source_messages}
)
