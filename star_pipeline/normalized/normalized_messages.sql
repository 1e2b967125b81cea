-- normalized_messages: one row per transcript line that parsed as a JSON object
-- (Claude Code and Codex): raw reference, session and agent, tree links, time,
-- role, content shape, usage fields, the tool calls/results the line carries, and
-- its text (message_text, tool_input, tool_result: the text every classifier and
-- search read, so no later step parses the line again).
-- Lines that do not parse go to normalized_parse_errors (the same test, negated).
-- {claude_code_lines} / {codex_lines} are the raw lines to read, whole (long lines
-- reassembled from their parts: raw/line_parts.py), restricted to those not normalized yet.
-- Each line is parsed ONCE with json_transform into a typed struct; unknown
-- line types are kept with their type name.
-- Text fields keep their first 16,000 characters (at most 64 KB, under the size DuckDB
-- would pin in memory until commit); the whole line stays in raw.
WITH claude AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset,
        json_transform(transcript_json(r.line_bytes), '{
            "type": "VARCHAR", "subtype": "VARCHAR", "sessionId": "VARCHAR", "agentId": "VARCHAR",
            "uuid": "VARCHAR", "parentUuid": "VARCHAR", "logicalParentUuid": "VARCHAR", "leafUuid": "VARCHAR",
            "timestamp": "VARCHAR", "isSidechain": "BOOLEAN", "isMeta": "BOOLEAN", "isCompactSummary": "BOOLEAN",
            "cwd": "VARCHAR", "gitBranch": "VARCHAR", "version": "VARCHAR", "requestId": "VARCHAR",
            "entrypoint": "VARCHAR",
            "summary": "VARCHAR", "data": {"type": "VARCHAR"}, "attachment": {"type": "VARCHAR"},
            "message": {"id": "VARCHAR", "model": "VARCHAR", "role": "VARCHAR", "content": "JSON",
                "usage": {"input_tokens": "BIGINT", "output_tokens": "BIGINT",
                    "cache_creation_input_tokens": "BIGINT", "cache_read_input_tokens": "BIGINT",
                    "cache_creation": {"ephemeral_1h_input_tokens": "BIGINT"},
                    "speed": "VARCHAR", "service_tier": "VARCHAR"}}}') AS j
    FROM {claude_code_lines} r
    WHERE transcript_json(r.line_bytes) IS NOT NULL
),
claude_blocks AS (
    SELECT *,
        CASE json_type(j.message.content)
            WHEN 'ARRAY' THEN json_transform(j.message.content, '[{"type": "VARCHAR", "text": "VARCHAR",
                "thinking": "VARCHAR", "id": "VARCHAR", "tool_use_id": "VARCHAR", "name": "VARCHAR",
                "input": "JSON", "content": "JSON", "is_error": "BOOLEAN"}]')
        END AS blocks
    FROM claude
),
claude_messages AS (
    SELECT
        'claude_code' AS source,
        path, file_version, line_number, byte_offset,
        coalesce(
            nullif(j.sessionId, ''),
            nullif(regexp_extract(path, '([^/]+)/subagents/[^/]+$', 1), ''),
            CASE WHEN NOT regexp_matches(path, '/agent-[^/]+\.jsonl$') THEN nullif(regexp_extract(path, '([^/]+)\.jsonl$', 1), '') END
        ) AS session_id,
        coalesce(j.agentId, nullif(regexp_extract(path, '/agent-([^/]+)\.jsonl$', 1), '')) AS agent_id,
        CASE
            WHEN regexp_matches(path, '/subagents/agent-acompact-[^/]+\.jsonl$') THEN 'compaction'
            WHEN regexp_matches(path, '/agent-[^/]+\.jsonl$') THEN 'subagent'
            WHEN coalesce(j.isSidechain, FALSE) THEN 'inline_sidechain'
            ELSE 'main'
        END AS file_kind,
        coalesce(j.type, '(no type)') AS record_type,
        coalesce(j.subtype, j.data.type, j.attachment.type) AS subtype,
        j.uuid AS uuid,
        j.parentUuid AS parent_uuid,
        j.logicalParentUuid AS logical_parent_uuid,
        j.leafUuid AS leaf_uuid,
        TRY_CAST(j.timestamp AS TIMESTAMPTZ) AS event_ts,
        j.message.role AS role,
        CASE
            WHEN json_type(j.message.content) = 'VARCHAR' THEN 'text'
            WHEN blocks IS NOT NULL THEN array_to_string(list_sort(list_distinct(
                list_transform(blocks, lambda b: coalesce(b.type, '?')))), ',')
            WHEN j.type = 'summary' THEN 'summary'
        END AS content_kind,
        CASE
            WHEN json_type(j.message.content) = 'VARCHAR' THEN length(CAST(j.message.content ->> '$' AS VARCHAR))
            WHEN blocks IS NOT NULL THEN coalesce(list_sum(list_transform(blocks,
                lambda b: coalesce(length(b.text), length(b.thinking), 0))), 0)
            ELSE length(j.summary)
        END AS text_length,
        coalesce(j.isSidechain, FALSE) AS is_sidechain,
        coalesce(j.isMeta, FALSE) AS is_meta,
        coalesce(j.isCompactSummary, FALSE) AS is_compact_summary,
        j.cwd AS cwd,
        j.gitBranch AS git_branch,
        CAST(NULL AS VARCHAR) AS git_repository_url,
        j.version AS tool_version,
        j.entrypoint AS entrypoint,
        j.message.model AS model,
        j.message.id AS message_id,
        j.requestId AS request_id,
        j.message.usage.input_tokens AS input_tokens,
        j.message.usage.output_tokens AS output_tokens,
        j.message.usage.cache_creation_input_tokens AS cache_creation_input_tokens,
        j.message.usage.cache_creation.ephemeral_1h_input_tokens AS cache_creation_1h_input_tokens,
        j.message.usage.cache_read_input_tokens AS cache_read_input_tokens,
        j.message.usage.speed AS speed,
        j.message.usage.service_tier AS service_tier,
        CAST(NULL AS BIGINT) AS total_input_tokens,
        CAST(NULL AS BIGINT) AS total_cached_input_tokens,
        CAST(NULL AS BIGINT) AS total_output_tokens,
        CAST(NULL AS BIGINT) AS total_reasoning_output_tokens,
        CAST(NULL AS BIGINT) AS last_input_tokens,
        CAST(NULL AS BIGINT) AS last_cached_input_tokens,
        CAST(NULL AS BIGINT) AS last_output_tokens,
        CAST(NULL AS BIGINT) AS last_reasoning_output_tokens,
        list_transform(
            list_filter(blocks, lambda b: b.type IN ('tool_use', 'tool_result')),
            lambda b: {
                'kind': CASE b.type WHEN 'tool_use' THEN 'call' ELSE 'result' END,
                'call_id': coalesce(b.id, b.tool_use_id),
                'tool_name': b.name,
                'input_size': length(CAST(b.input AS VARCHAR)),
                'target_path': coalesce(
                    json_extract_string(b.input, '$.file_path'),
                    json_extract_string(b.input, '$.path'),
                    json_extract_string(b.input, '$.notebook_path'),
                    CASE WHEN b.name = 'Bash' THEN j.cwd END),
                'subagent_type': json_extract_string(b.input, '$.subagent_type'),
                'skill_name': CASE WHEN b.name = 'Skill' THEN coalesce(
                    json_extract_string(b.input, '$.skill'), json_extract_string(b.input, '$.command')) END,
                'is_error': coalesce(b.is_error, FALSE),
                'result_size': CASE WHEN b.type = 'tool_result' THEN length(CAST(b.content AS VARCHAR)) END,
                'command': left(CASE WHEN b.type = 'tool_use' AND b.name = 'Bash' THEN json_extract_string(b.input, '$.command') END, 16000)
            }) AS tool_blocks,
        -- texts: each part cut before it is joined or unescaped, so no row builds more than a few times 16,000 characters
        left(CASE WHEN json_type(j.message.content) = 'VARCHAR' THEN left(j.message.content ->> '$', 16000)
                  ELSE array_to_string(list_transform(list_filter(blocks, lambda b: b.type IN ('text', 'thinking')),
                                                      lambda b: left(coalesce(b.text, b.thinking), 16000)), chr(10)) END, 16000) AS message_text,
        left(array_to_string(list_transform(list_filter(blocks, lambda b: b.type = 'tool_use'),
                                            lambda b: json_text_unescaped(left(CAST(b.input AS VARCHAR), 32000))), chr(10)), 16000) AS tool_input,
        left(array_to_string(list_transform(list_filter(blocks, lambda b: b.type = 'tool_result'),
                                            lambda b: CASE WHEN json_type(b.content) = 'VARCHAR' THEN left(b.content ->> '$', 16000)
                                                           ELSE json_text_unescaped(left(CAST(b.content AS VARCHAR), 32000)) END), chr(10)),
             16000) AS tool_result
    FROM claude_blocks
),
codex AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset,
        json_transform(transcript_json(r.line_bytes), '{
            "timestamp": "VARCHAR", "type": "VARCHAR", "record_type": "VARCHAR", "id": "VARCHAR",
            "instructions": "JSON", "payload": "JSON", "role": "VARCHAR", "content": "JSON",
            "call_id": "VARCHAR", "name": "VARCHAR", "arguments": "VARCHAR", "output": "JSON",
            "git": {"branch": "VARCHAR", "repository_url": "VARCHAR"}}') AS j
    FROM {codex_lines} r
    WHERE transcript_json(r.line_bytes) IS NOT NULL
),
codex_items AS (
    -- The envelope format wraps every item as {timestamp, type, payload}; the legacy
    -- format writes bare items (and a first line {id, timestamp, instructions, git}).
    SELECT *,
        json_type(j.payload) = 'OBJECT' AS enveloped,
        json_transform(CASE WHEN json_type(j.payload) = 'OBJECT' THEN j.payload END, '{
            "type": "VARCHAR", "id": "VARCHAR", "role": "VARCHAR", "content": "JSON", "cwd": "VARCHAR",
            "model": "VARCHAR", "cli_version": "VARCHAR", "message": "VARCHAR", "text": "VARCHAR",
            "originator": "VARCHAR", "source": "JSON",
            "call_id": "VARCHAR", "name": "VARCHAR", "arguments": "VARCHAR", "input": "VARCHAR", "output": "JSON",
            "git": {"branch": "VARCHAR", "repository_url": "VARCHAR"},
            "info": {"total_token_usage": {"input_tokens": "BIGINT", "cached_input_tokens": "BIGINT",
                        "output_tokens": "BIGINT", "reasoning_output_tokens": "BIGINT"},
                     "last_token_usage": {"input_tokens": "BIGINT", "cached_input_tokens": "BIGINT",
                        "output_tokens": "BIGINT", "reasoning_output_tokens": "BIGINT"}}}') AS p
    FROM codex
),
codex_fields AS (
    SELECT *,
        CASE WHEN enveloped THEN p.type ELSE j.type END AS item_type,
        CASE WHEN enveloped THEN p.role ELSE j.role END AS item_role,
        CASE WHEN enveloped THEN p.content ELSE j.content END AS item_content,
        CASE WHEN enveloped THEN p.call_id ELSE j.call_id END AS item_call_id,
        CASE WHEN enveloped THEN p.name ELSE j.name END AS item_name,
        CASE WHEN enveloped THEN coalesce(p.arguments, p.input) ELSE j.arguments END AS item_arguments,
        CASE WHEN enveloped THEN p.output ELSE j.output END AS item_output
    FROM codex_items
),
codex_arguments AS (
    SELECT *, CASE WHEN json_valid(item_arguments) THEN item_arguments END AS args FROM codex_fields
),
codex_messages AS (
    SELECT
        'codex' AS source,
        path, file_version, line_number, byte_offset,
        coalesce(
            nullif(regexp_extract(path, '([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jsonl$', 1), ''),
            CASE WHEN j.type = 'session_meta' THEN p.id END
        ) AS session_id,
        CAST(NULL AS VARCHAR) AS agent_id,
        'main' AS file_kind,
        CASE
            WHEN enveloped THEN coalesce(j.type, '(no type)')
            WHEN j.record_type IS NOT NULL THEN 'legacy_' || j.record_type
            WHEN j.type IS NOT NULL THEN 'legacy_item'
            WHEN j.id IS NOT NULL OR j.instructions IS NOT NULL THEN 'legacy_session_meta'
            ELSE '(no type)'
        END AS record_type,
        CASE WHEN j.record_type IS NULL THEN item_type END AS subtype,
        CAST(NULL AS VARCHAR) AS uuid,
        CAST(NULL AS VARCHAR) AS parent_uuid,
        CAST(NULL AS VARCHAR) AS logical_parent_uuid,
        CAST(NULL AS VARCHAR) AS leaf_uuid,
        TRY_CAST(j.timestamp AS TIMESTAMPTZ) AS event_ts,
        item_role AS role,
        CASE json_type(item_content)
            WHEN 'ARRAY' THEN array_to_string(list_sort(list_distinct(list_transform(
                json_transform(item_content, '[{"type": "VARCHAR"}]'), lambda b: coalesce(b.type, '?')))), ',')
            WHEN 'VARCHAR' THEN 'text'
        END AS content_kind,
        CASE json_type(item_content)
            WHEN 'ARRAY' THEN coalesce(list_sum(list_transform(
                json_transform(item_content, '[{"text": "VARCHAR"}]'), lambda b: coalesce(length(b.text), 0))), 0)
            ELSE coalesce(length(p.message), length(p.text))
        END AS text_length,
        FALSE AS is_sidechain,
        FALSE AS is_meta,
        FALSE AS is_compact_summary,
        p.cwd AS cwd,
        coalesce(p.git.branch, j.git.branch) AS git_branch,
        coalesce(p.git.repository_url, j.git.repository_url) AS git_repository_url,
        p.cli_version AS tool_version,
        coalesce(p.originator, CASE WHEN json_type(p.source) = 'VARCHAR' THEN p.source ->> '$' END) AS entrypoint,
        CASE WHEN j.type = 'turn_context' THEN p.model END AS model,
        CAST(NULL AS VARCHAR) AS message_id,
        CAST(NULL AS VARCHAR) AS request_id,
        CAST(NULL AS BIGINT) AS input_tokens,
        CAST(NULL AS BIGINT) AS output_tokens,
        CAST(NULL AS BIGINT) AS cache_creation_input_tokens,
        CAST(NULL AS BIGINT) AS cache_creation_1h_input_tokens,
        CAST(NULL AS BIGINT) AS cache_read_input_tokens,
        CAST(NULL AS VARCHAR) AS speed,
        CAST(NULL AS VARCHAR) AS service_tier,
        p.info.total_token_usage.input_tokens AS total_input_tokens,
        p.info.total_token_usage.cached_input_tokens AS total_cached_input_tokens,
        p.info.total_token_usage.output_tokens AS total_output_tokens,
        p.info.total_token_usage.reasoning_output_tokens AS total_reasoning_output_tokens,
        p.info.last_token_usage.input_tokens AS last_input_tokens,
        p.info.last_token_usage.cached_input_tokens AS last_cached_input_tokens,
        p.info.last_token_usage.output_tokens AS last_output_tokens,
        p.info.last_token_usage.reasoning_output_tokens AS last_reasoning_output_tokens,
        CASE WHEN item_type IN ('function_call', 'custom_tool_call', 'function_call_output', 'custom_tool_call_output')
            THEN [{
                'kind': CASE WHEN item_type LIKE '%\_output' ESCAPE '\' THEN 'result' ELSE 'call' END,
                'call_id': item_call_id,
                'tool_name': item_name,
                'input_size': length(item_arguments),
                'target_path': coalesce(json_extract_string(args, '$.workdir'), json_extract_string(args, '$.path')),
                'subagent_type': CAST(NULL AS VARCHAR),
                'skill_name': CAST(NULL AS VARCHAR),
                'is_error': FALSE,
                'result_size': CASE WHEN item_type LIKE '%\_output' ESCAPE '\' THEN length(CAST(item_output AS VARCHAR)) END,
                -- the shell command: of ["bash", "-lc", "<script>"] the script, of another array its words
                'command': left(CASE
                    WHEN json_type(args, '$.command') = 'ARRAY' AND json_array_length(args, '$.command') = 3
                         AND regexp_matches(json_extract_string(args, '$.command[0]'), '(^|/)(ba|z|da)?sh$')
                         AND regexp_matches(json_extract_string(args, '$.command[1]'), '^-[a-z]*c$')
                        THEN json_extract_string(args, '$.command[2]')
                    WHEN json_type(args, '$.command') = 'ARRAY'
                        THEN array_to_string(json_extract_string(args, '$.command[*]'), ' ')
                    ELSE json_extract_string(args, '$.command') END, 16000)
            }]
        END AS tool_blocks,
        left(coalesce(
            CASE WHEN json_type(item_content) = 'ARRAY' THEN array_to_string(list_transform(
                json_transform(item_content, '[{"text": "VARCHAR"}]'), lambda b: left(b.text, 16000)), chr(10)) END,
            left(p.message, 16000)), 16000) AS message_text,
        left(json_text_unescaped(left(item_arguments, 32000)), 16000) AS tool_input,
        left(CASE WHEN json_type(item_output) = 'VARCHAR' THEN left(item_output ->> '$', 16000)
                  ELSE json_text_unescaped(left(CAST(item_output AS VARCHAR), 32000)) END, 16000) AS tool_result
    FROM codex_arguments
)
SELECT *,
    -- the session a line belongs to: the session id, plus ':<agent id>' for agent files,
    -- plus ':sidechain' for a 1.0.x main file's inline sidechain turns
    session_id
        || CASE WHEN file_kind IN ('subagent', 'compaction') THEN ':' || coalesce(agent_id, '?') ELSE '' END
        || CASE WHEN file_kind = 'inline_sidechain' THEN ':sidechain' ELSE '' END AS session_key
FROM (
    SELECT * FROM claude_messages
    UNION ALL BY NAME
    SELECT * FROM codex_messages
)
