-- Claude Code lines into the normalized_messages contract (star_pipeline/normalized/normalized_messages.sql):
-- raw reference, session and agent (from the file's place: main, 2.0 agent-*.jsonl, 2.1 subagents/ and
-- compaction files, inline sidechains), tree links, time, role, content shape, usage fields, tool blocks
-- and text. {lines} is the raw lines to read, whole. Each line is parsed once, with json_transform.
WITH claude AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset,
        json_transform(transcript_json(r.line_bytes), '{
            "type": "VARCHAR", "subtype": "VARCHAR", "sessionId": "VARCHAR", "agentId": "VARCHAR",
            "uuid": "VARCHAR", "parentUuid": "VARCHAR", "logicalParentUuid": "VARCHAR", "leafUuid": "VARCHAR",
            "timestamp": "VARCHAR", "isSidechain": "BOOLEAN", "isMeta": "BOOLEAN", "isCompactSummary": "BOOLEAN",
            "cwd": "VARCHAR", "gitBranch": "VARCHAR", "version": "VARCHAR", "requestId": "VARCHAR",
            "entrypoint": "VARCHAR",
            "summary": "VARCHAR", "data": {"type": "VARCHAR"}, "attachment": {"type": "VARCHAR"},
            "toolUseResult": {"agentId": "VARCHAR", "agentType": "VARCHAR", "interrupted": "BOOLEAN"},
            "message": {"id": "VARCHAR", "model": "VARCHAR", "role": "VARCHAR", "content": "JSON",
                "usage": {"input_tokens": "BIGINT", "output_tokens": "BIGINT",
                    "cache_creation_input_tokens": "BIGINT", "cache_read_input_tokens": "BIGINT",
                    "cache_creation": {"ephemeral_1h_input_tokens": "BIGINT"},
                    "speed": "VARCHAR", "service_tier": "VARCHAR"}}}') AS j
    FROM {lines} r
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
-- A tool result's outcome (../shared/FORMATS.md section 1): is_error is the flag; an error result's text
-- tells the ones that did not fail by themselves: "The user doesn't want to proceed with this tool use ..."
-- and "Permission for this tool use was denied ..." (rejected), "[Request interrupted by user ..." or a Bash
-- toolUseResult.interrupted (interrupted), "<tool_use_error>Cancelled: parallel tool call ..." and "...Sibling
-- tool call errored" (interrupted: Claude Code stopped it because a call beside it failed). A failed Bash
-- result begins "Exit code N".
claude_outcomes AS (
    SELECT * REPLACE (list_transform(blocks, lambda b: struct_insert(b, head := CASE WHEN b.type = 'tool_result' THEN
        CASE json_type(b.content) WHEN 'VARCHAR' THEN left(b.content ->> '$', 200)
                                  WHEN 'ARRAY' THEN left(json_extract_string(b.content, '$[0].text'), 200) END END)) AS blocks)
    FROM claude_blocks
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
        j.version AS tool_version,
        j.entrypoint AS entrypoint,
        j.message.model AS model,
        j.message.id AS message_id,
        j.requestId AS request_id,
        j.toolUseResult.agentId AS spawned_agent_id,
        j.toolUseResult.agentType AS spawned_agent_type,
        j.message.usage.input_tokens AS input_tokens,
        j.message.usage.output_tokens AS output_tokens,
        j.message.usage.cache_creation_input_tokens AS cache_creation_input_tokens,
        j.message.usage.cache_creation.ephemeral_1h_input_tokens AS cache_creation_1h_input_tokens,
        j.message.usage.cache_read_input_tokens AS cache_read_input_tokens,
        j.message.usage.speed AS speed,
        j.message.usage.service_tier AS service_tier,
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
                'command': left(CASE WHEN b.type = 'tool_use' AND b.name = 'Bash' THEN json_extract_string(b.input, '$.command') END, 16000),
                'status': CASE WHEN b.type = 'tool_result' THEN CASE
                    WHEN starts_with(b.head, 'The user doesn''t want to proceed with this tool use')
                      OR starts_with(b.head, 'Permission for this tool use was denied') THEN 'rejected'
                    WHEN starts_with(b.head, '[Request interrupted by user') OR coalesce(j.toolUseResult.interrupted, FALSE)
                      OR starts_with(b.head, '<tool_use_error>Cancelled: parallel tool call')
                      OR starts_with(b.head, '<tool_use_error>Sibling tool call errored') THEN 'interrupted'
                    WHEN coalesce(b.is_error, FALSE) THEN 'failed' ELSE 'ok' END END,
                'exit_code': CASE WHEN b.type = 'tool_result' AND coalesce(b.is_error, FALSE)
                    THEN TRY_CAST(nullif(regexp_extract(b.head, '^Exit code (-?[0-9]+)', 1), '') AS INTEGER) END,
                'duration_ms': CAST(NULL AS BIGINT),
                'status_reason': CASE WHEN b.type = 'tool_result' THEN CASE
                    WHEN starts_with(b.head, 'The user doesn''t want to proceed with this tool use') THEN 'rejected by user'
                    WHEN starts_with(b.head, 'Permission for this tool use was denied') THEN 'permission denied'
                    WHEN starts_with(b.head, '[Request interrupted by user') OR coalesce(j.toolUseResult.interrupted, FALSE)
                        THEN 'interrupted by user'
                    WHEN starts_with(b.head, '<tool_use_error>Cancelled: parallel tool call')
                      OR starts_with(b.head, '<tool_use_error>Sibling tool call errored') THEN 'cancelled: a parallel call failed'
                    ELSE 'flag' END END
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
    FROM claude_outcomes
)
SELECT * FROM claude_messages
