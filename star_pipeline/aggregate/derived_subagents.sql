-- derived_subagents: one row per subagent a session started, with its type, so a call's tokens can be
-- counted per agent type (`report daily --by agent_type`). The type comes from the tool result that
-- names the subagent (Claude Code's Task/Agent toolUseResult: agentId, agentType; for results without
-- agentType, the calling tool_use's subagent_type), else from a SubagentStart/SubagentStop hook event.
-- Rebuilt whole each run: the result naming a subagent is written after the subagent's own calls.
--
-- Columns:
--   source: the agent whose session started the subagent
--   session_id: the session that started it; with source and agent_id the key
--   agent_id: the subagent's id (its transcript's agent-<id>.jsonl)
--   agent_type: its type (Explore, general-purpose, a custom agent ...), NULL when nothing names it
--   named_by: where the type came from: tool_result or hook
--   spawned_by_call_id: the tool call whose result names the subagent (the Task or Agent call that started it)
--   pipeline_version: the pipeline version that built the row
-- Preview: agent_type, named_by, session_id, agent_id
WITH results AS (
    SELECT m.*, list_filter(m.tool_blocks, b -> b.kind = 'result')[1].call_id AS result_call_id
    FROM normalized.normalized_messages m
    WHERE m.spawned_agent_id IS NOT NULL
),
from_results AS (
    SELECT r.source, r.session_id, r.spawned_agent_id AS agent_id,
        coalesce(r.spawned_agent_type, c.subagent_type) AS agent_type, r.result_call_id AS spawned_by_call_id, r.event_ts
    FROM results r
    LEFT JOIN normalized.normalized_tool_calls c ON c.source = r.source AND c.call_id = r.result_call_id
),
from_hooks AS (
    -- the spool holds Claude Code's hook payloads (install-hooks writes Claude Code's settings)
    SELECT CASE source WHEN 'hook_spool' THEN 'claude_code' ELSE source END AS source, session_id, agent_id, agent_type,
        received_at AS event_ts
    FROM normalized.normalized_hook_events
    WHERE agent_id IS NOT NULL AND agent_type IS NOT NULL
),
named AS (
    SELECT *, 1 AS preference, 'tool_result' AS named_by FROM from_results
    UNION ALL BY NAME
    SELECT *, 2 AS preference, 'hook' AS named_by FROM from_hooks
)
SELECT source, session_id, agent_id,
    arg_min(agent_type, (preference, event_ts)) FILTER (WHERE agent_type IS NOT NULL) AS agent_type,
    arg_min(named_by, (preference, event_ts)) AS named_by,
    arg_min(spawned_by_call_id, (preference, event_ts)) FILTER (WHERE spawned_by_call_id IS NOT NULL) AS spawned_by_call_id,
    '{pipeline_version}' AS pipeline_version
FROM named
GROUP BY source, session_id, agent_id
