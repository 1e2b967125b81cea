"""The aggregate layer and star schema: every asset, one module each for those that are more than
one SQL file (`<table>.sql` beside this file, read by sql_assets.py).

Every aggregate is rebuilt from the layers below on each run (replace mode,
one transaction each), except fact_token_usage, which reprices only the calls
that changed (see its module). Each carries `pipeline_version`, which embeds the
pricing config's hash, so a number can always be traced to the prices that
made it. Dimensions are SCD2 histories built by the storage kernel
(`scd2_history_sql`) from event times, so a rebuild gives the same history.
"""

from star_pipeline.aggregate.derived_blocks import derived_blocks
from star_pipeline.aggregate.dim_model import dim_model
from star_pipeline.aggregate.fact_token_usage import fact_token_usage
from star_pipeline.aggregate.goals import derived_goals_and_attempts
from star_pipeline.aggregate.published_report_copy import published_report_copy
from star_pipeline.aggregate.published_briefs import published_briefs
from star_pipeline.aggregate.published_statusline import published_statusline
from star_pipeline.aggregate.search_copy import published_search_copy
from star_pipeline.aggregate.warehouse_maintenance import build_warehouse_maintenance
from star_pipeline.aggregate.search_postings import search_postings
from star_pipeline.aggregate.search_documents import search_documents
from star_pipeline.aggregate.search_embeddings import search_embeddings
from star_pipeline.aggregate.sql_assets import key, normalized, scd2_asset, sql_asset

session_projects = sql_asset(
    "session_projects",
    [normalized("normalized_sessions")],
    "The project of every session id: cwd with worktrees folded into their repository, else '(unknown)'.",
)

derived_session_usage = sql_asset(
    "derived_session_usage", [key("fact_token_usage"), normalized("normalized_sessions")],
    "One row per session; subagent and compaction calls in the parent's totals and apart.",
)
derived_subagents = sql_asset(
    "derived_subagents", [normalized("normalized_messages"), normalized("normalized_tool_calls"),
                          normalized("normalized_hook_events")],
    "One row per subagent a session started, with its type (from the result naming it, else a hook event).",
)
derived_projects = sql_asset(
    "derived_projects", [key("session_projects"), key("derived_session_usage")],
    "One row per project (worktrees folded in, '(unknown)' for sessions without cwd).",
)
derived_daily_usage = sql_asset("derived_daily_usage", [key("fact_token_usage")], "UTC date x source x model.")
derived_model_usage = sql_asset("derived_model_usage", [key("fact_token_usage")], "One row per source and model.")
derived_tool_stats = sql_asset(
    "derived_tool_stats", [normalized("normalized_tool_calls"), key("session_projects")],
    "Calls, errors, error rate, p50/p95 duration per tool and project.",
)
derived_file_activity = sql_asset(
    "derived_file_activity", [normalized("normalized_tool_calls"), key("session_projects")],
    "Files read and edited per project and session.",
)
dim_project = scd2_asset(
    "dim_project", [key("session_projects"), normalized("normalized_sessions")], ["project_id"],
    ["project_path", "repository_url", "git_branch"], "SCD2: project path, repository URL and branch over time.",
)
dim_tool = scd2_asset("dim_tool", [normalized("normalized_tool_calls"), normalized("normalized_hook_events")],
                      ["tool_name"], ["source"], "SCD2: tools (from transcripts and hook events).")
dim_agent_type = scd2_asset(
    "dim_agent_type", [normalized("normalized_tool_calls"), normalized("normalized_hook_events")], ["agent_type"],
    ["first_seen_in"], "SCD2: subagent types (Task/Agent calls, SubagentStart hooks).",
)
dim_machine = sql_asset(
    "dim_machine", [key("session_projects"), normalized("normalized_sessions")],
    "The machines whose agents' sessions are in the warehouse (machine.id): first and last seen, sessions.",
)
dim_date = sql_asset("dim_date", [key("fact_token_usage"), normalized("normalized_tool_calls"),
                                  normalized("normalized_hook_events")], "Every UTC date the facts span.")
dim_time = sql_asset("dim_time", [], "Every minute of the day (HHMM).")
fact_tool_call = sql_asset(
    "fact_tool_call", [normalized("normalized_tool_calls"), key("session_projects"), key("fact_token_usage")],
    "Fact: one row per tool call: tool, project, agent type, time, duration, status, target path, tokens.",
)
fact_session_event = sql_asset(
    "fact_session_event", [normalized("normalized_hook_events"), key("session_projects")],
    "Fact: one row per hook event.",
)


aggregate_assets = [
    published_report_copy,
    session_projects, dim_model, fact_token_usage, derived_session_usage, derived_subagents, derived_projects,
    derived_daily_usage,
    derived_model_usage, derived_tool_stats, derived_file_activity, derived_blocks, derived_goals_and_attempts,
    dim_project, dim_tool, dim_agent_type, dim_machine, dim_date, dim_time, fact_tool_call, fact_session_event,
    search_documents, search_embeddings, search_postings, published_search_copy, published_briefs,
    published_statusline,
]
# last: after every other aggregate asset has written
aggregate_assets.append(build_warehouse_maintenance([k for a in aggregate_assets for k in a.keys]))
