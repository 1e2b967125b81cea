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
--
-- Columns:
--   source: the agent that wrote the line (claude_code, codex, qwen, ...)
--   path: the transcript file the line was read from
--   file_version: the version of that file in raw (1, then +1 each time its read part changed on disk)
--   line_number: the line's number in that file version, from 1
--   byte_offset: where the line starts in that file version; with source, path and file_version the key
--   session_id: the session the agent wrote the line in
--   agent_id: the subagent or compaction agent that wrote it (NULL in a main transcript)
--   file_kind: main, subagent, compaction or inline_sidechain (a 1.0.x main file's sidechain turns)
--   record_type: the line's type as the agent names it (user, assistant, system, summary, response_item,
--     event_msg ...; '(no type)' when it has none)
--   subtype: the finer type within record_type (a system line's subtype, a Codex item's type ...)
--   uuid: the record's id in the conversation tree
--   parent_uuid: the id of the record it answers or follows
--   logical_parent_uuid: across a compaction, the record before it
--   leaf_uuid: a summary line's last record of the conversation it summarizes
--   event_ts: when the agent wrote the record
--   role: user, assistant, system or tool, where the record has one
--   content_kind: the kinds of its content blocks, sorted and comma-separated (text, tool_use,
--     tool_result, thinking ...)
--   text_length: characters of text and thinking in the record, before any cut
--   is_sidechain: written in a sidechain (subagent) conversation
--   is_meta: a record the agent injected, not typed by the user (Claude's isMeta)
--   is_compact_summary: the summary a compaction wrote to continue from
--   cwd: the working directory the agent ran in
--   git_branch: the git branch of that directory
--   git_repository_url: the repository's remote URL, where the agent records it
--   tool_version: the agent's version (Claude Code's version, Codex's cli_version ...)
--   entrypoint: how the agent was started (cli, sdk, an IDE; Codex's originator)
--   model: the model that answered (assistant records) or was chosen for the turn
--   message_id: the API message's id (Claude: message.id; shared by the lines of one split response)
--   request_id: the API request's id (Claude: requestId)
--   spawned_agent_id: the subagent a tool result says its call started (Claude's Task/Agent
--     toolUseResult.agentId)
--   spawned_agent_type: that subagent's type, where the result names it (toolUseResult.agentType)
--   input_tokens: input tokens the line reports, cache reads and writes excluded
--   output_tokens: output tokens the line reports
--   cache_creation_input_tokens: tokens written to the prompt cache
--   cache_creation_1h_input_tokens: the part of those written for one hour
--   cache_read_input_tokens: tokens read from the prompt cache
--   speed: standard or fast (Claude's fast mode)
--   service_tier: the API's service tier for the call
--   total_input_tokens: Codex token_count: the session's input tokens so far, cached input included
--   total_cached_input_tokens: Codex token_count: the session's cached input tokens so far
--   total_output_tokens: Codex token_count: the session's output tokens so far, reasoning included
--   total_reasoning_output_tokens: Codex token_count: the session's reasoning tokens so far
--   last_input_tokens: Codex token_count: the last API call's input tokens, cached input included
--   last_cached_input_tokens: Codex token_count: the last API call's cached input tokens
--   last_output_tokens: Codex token_count: the last API call's output tokens, reasoning included
--   last_reasoning_output_tokens: Codex token_count: the last API call's reasoning tokens
--   tool_blocks: the tool calls and results the line carries: call or result, call id, tool, input size,
--     target path, subagent type, skill, error flag, result size, shell command; and of a result its outcome
--     as the file records it: status (ok, failed, rejected: by the user, interrupted; NULL where the file
--     records none), exit code, duration in ms (what the agent measured, not the lines' timestamps) and
--     status_reason (how the status was told: 'exit code', 'flag', 'status field', or the wording it was read from)
--   api_calls: the API calls the line reports, in the warehouse's token semantics (input without cache
--     reads or writes, output with reasoning, reasoning also apart), for sources whose usage.sql counts
--     these; call_id is the agent's id for the call (a response id, a message id) where it has one;
--     recorded_cost_usd the cost in USD the agent wrote for the call (NULL where it writes none)
--   message_text: the prompt, reply or thinking text (first 16,000 characters)
--   tool_input: the tool calls' inputs, JSON escapes undone (first 16,000 characters)
--   tool_result: the tool results' text (first 16,000 characters)
--   session_key: the session the line belongs to: session_id, plus ':<agent id>' in agent files, plus
--     ':sidechain' for inline sidechain turns
--   machine_id: the machine whose copy of the file was read (one per path: raw/line_parts.py)
--   normalize_run_id: the Dagster run that normalized the line
-- Preview: record_type, role, content_kind, file_kind, session_key, event_ts, line_number, model
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
        CAST(NULL AS STRUCT(kind VARCHAR, call_id VARCHAR, tool_name VARCHAR, input_size BIGINT, target_path VARCHAR,
                            subagent_type VARCHAR, skill_name VARCHAR, is_error BOOLEAN, result_size BIGINT,
                            command VARCHAR, status VARCHAR, exit_code INTEGER, duration_ms BIGINT,
                            status_reason VARCHAR)[]) AS tool_blocks,
        CAST(NULL AS STRUCT(call_id VARCHAR, model VARCHAR, input_tokens BIGINT, output_tokens BIGINT,
                            cache_creation_input_tokens BIGINT, cache_read_input_tokens BIGINT,
                            reasoning_output_tokens BIGINT, recorded_cost_usd DOUBLE)[]) AS api_calls,
        CAST(NULL AS VARCHAR) AS message_text,
        CAST(NULL AS VARCHAR) AS tool_input,
        CAST(NULL AS VARCHAR) AS tool_result
    WHERE FALSE
)
SELECT *,
    session_id
        || CASE WHEN file_kind IN ('subagent', 'compaction') THEN ':' || coalesce(agent_id, '?') ELSE '' END
        || CASE WHEN file_kind = 'inline_sidechain' THEN ':sidechain' ELSE '' END AS session_key
FROM (
    SELECT * FROM contract
    {source_messages}
)
