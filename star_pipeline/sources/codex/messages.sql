-- Codex rollouts into the normalized_messages contract (star_pipeline/normalized/normalized_messages.sql):
-- the envelope format ({timestamp, type, payload}) and the legacy one (bare items, a first line
-- {id, timestamp, instructions, git}); token_count events keep their cumulative and last counters.
-- {lines} is the raw lines to read, whole.
WITH codex AS (
    SELECT r.path, r.file_version, r.line_number, r.byte_offset,
        json_transform(transcript_json(r.line_bytes), '{
            "timestamp": "VARCHAR", "type": "VARCHAR", "record_type": "VARCHAR", "id": "VARCHAR",
            "instructions": "JSON", "payload": "JSON", "role": "VARCHAR", "content": "JSON",
            "call_id": "VARCHAR", "name": "VARCHAR", "arguments": "VARCHAR", "output": "JSON",
            "git": {"branch": "VARCHAR", "repository_url": "VARCHAR"}}') AS j
    FROM {lines} r
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
-- A tool output's outcome, as Codex writes it (../shared/FORMATS.md section 3; codex-rs tools/mod.rs):
--   JSON text {"output": ..., "metadata": {"exit_code": N, "duration_seconds": S}} (shell calls until late 2025);
--   a text whose header, before its 'Output:' line, says 'Exit code: N' (shell_command, apply_patch) or
--     'Process exited with code N' (exec_command, write_stdin), with 'Wall time: S seconds';
--   or words without a code: 'failed in sandbox ...', 'execution error ...', 'error: ...' (a patch that did
--     not apply), 'apply_patch verification failed ...', 'command timed out ...', 'exec_command failed: ...',
--     'write_stdin failed: ...', 'failed to parse ... arguments' (failed); '... rejected by
--     user' (rejected); 'aborted' (interrupted: the turn was stopped); 'Plan updated', 'Success. Updated the
--     following files' (ok).
-- Anything else (a process still running, an MCP result, a redacted text) records no outcome: status NULL.
codex_output_text AS (
    SELECT *,
        CASE WHEN item_type LIKE '%\_output' ESCAPE '\' THEN
            CASE WHEN json_type(item_output) = 'VARCHAR' THEN item_output ->> '$' ELSE CAST(item_output AS VARCHAR) END
        END AS out_text
    FROM codex_arguments
),
codex_output_parts AS (
    SELECT *,
        CASE WHEN starts_with(out_text, '{') AND json_valid(out_text) AND json_type(out_text, '$.metadata') = 'OBJECT'
             THEN json_transform(out_text, '{"output": "VARCHAR", "metadata": {"exit_code": "INTEGER", "duration_seconds": "DOUBLE"}}')
        END AS out_json,
        -- the header: the lines before 'Output:', within the text's first 600 characters
        CASE WHEN strpos(left(out_text, 600), chr(10) || 'Output:') > 0
             THEN left(out_text, strpos(left(out_text, 600), chr(10) || 'Output:')) END AS out_header
    FROM codex_output_text
),
codex_outcomes AS (
    SELECT *,
        coalesce(out_json.metadata.exit_code,
                 TRY_CAST(nullif(regexp_extract(out_header, '(?m)^(?:Exit code:|Process exited with code) (-?[0-9]+)\s*$', 1), '') AS INTEGER))
            AS out_exit_code,
        coalesce(CAST(round(out_json.metadata.duration_seconds * 1000) AS BIGINT),
                 CAST(round(TRY_CAST(nullif(regexp_extract(out_header, '(?m)^Wall time: ([0-9.]+) seconds\s*$', 1), '') AS DOUBLE) * 1000) AS BIGINT))
            AS out_duration_ms,
        lower(regexp_extract(ltrim(left(out_text, 300)),
            '^(failed in sandbox|execution error|error:|apply_patch verification failed|command timed out|exec_command failed|write_stdin failed|failed to parse|aborted|plan updated|success\. updated the following files)',
            1, 'i')) AS out_wording,
        regexp_matches(left(out_text, 300), '^[^\n]*rejected by (the )?user', 'i') AS out_rejected
    FROM codex_output_parts
),
codex_messages AS (
    SELECT
        'codex' AS source,
        path, file_version, line_number, byte_offset,
        coalesce(
            nullif(regexp_extract(path, '([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jsonl$', 1), ''),
            CASE WHEN j.type = 'session_meta' THEN p.id END
        ) AS session_id,
        'main' AS file_kind,
        CASE
            WHEN enveloped THEN coalesce(j.type, '(no type)')
            WHEN j.record_type IS NOT NULL THEN 'legacy_' || j.record_type
            WHEN j.type IS NOT NULL THEN 'legacy_item'
            WHEN j.id IS NOT NULL OR j.instructions IS NOT NULL THEN 'legacy_session_meta'
            ELSE '(no type)'
        END AS record_type,
        CASE WHEN j.record_type IS NULL THEN item_type END AS subtype,
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
                'is_error': CAST(NULL AS BOOLEAN),  -- Codex writes no flag: the status below reads the output
                'result_size': CASE WHEN item_type LIKE '%\_output' ESCAPE '\' THEN length(CAST(item_output AS VARCHAR)) END,
                -- the shell command: of ["bash", "-lc", "<script>"] the script, of another array its words
                'command': left(CASE
                    WHEN json_type(args, '$.command') = 'ARRAY' AND json_array_length(args, '$.command') = 3
                         AND regexp_matches(json_extract_string(args, '$.command[0]'), '(^|/)(ba|z|da)?sh$')
                         AND regexp_matches(json_extract_string(args, '$.command[1]'), '^-[a-z]*c$')
                        THEN json_extract_string(args, '$.command[2]')
                    WHEN json_type(args, '$.command') = 'ARRAY'
                        THEN array_to_string(json_extract_string(args, '$.command[*]'), ' ')
                    ELSE json_extract_string(args, '$.command') END, 16000),
                'status': CASE
                    WHEN item_type NOT LIKE '%\_output' ESCAPE '\' THEN NULL
                    WHEN out_exit_code IS NOT NULL THEN CASE WHEN out_exit_code = 0 THEN 'ok' ELSE 'failed' END
                    WHEN out_rejected THEN 'rejected'
                    WHEN out_wording = 'aborted' THEN 'interrupted'
                    WHEN out_wording IN ('plan updated', 'success. updated the following files') THEN 'ok'
                    WHEN out_wording <> '' THEN 'failed' END,
                'exit_code': out_exit_code,
                'duration_ms': out_duration_ms,
                'status_reason': CASE
                    WHEN item_type NOT LIKE '%\_output' ESCAPE '\' THEN NULL
                    WHEN out_exit_code IS NOT NULL THEN 'exit code'
                    WHEN out_rejected THEN 'rejected by user'
                    WHEN out_wording <> '' THEN rtrim(out_wording, ':') END
            }]
        END AS tool_blocks,
        left(coalesce(
            CASE WHEN json_type(item_content) = 'ARRAY' THEN array_to_string(list_transform(
                json_transform(item_content, '[{"text": "VARCHAR"}]'), lambda b: left(b.text, 16000)), chr(10)) END,
            left(p.message, 16000)), 16000) AS message_text,
        left(json_text_unescaped(left(item_arguments, 32000)), 16000) AS tool_input,
        left(CASE WHEN json_type(item_output) = 'VARCHAR' THEN left(item_output ->> '$', 16000)
                  ELSE json_text_unescaped(left(CAST(item_output AS VARCHAR), 32000)) END, 16000) AS tool_result
    FROM codex_outcomes
)
SELECT * FROM codex_messages
