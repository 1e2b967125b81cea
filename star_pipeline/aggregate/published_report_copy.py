"""published_report_copy: the read-only copy of what reports read, rewritten after every rebuild
(storage/published_copies.py does the copying)."""

from dagster import MaterializeResult, MetadataValue, asset

from star_pipeline.aggregate.sql_assets import GROUP, key
from star_pipeline.storage.project_folders import project_folders_cache, remember_session_folders
from star_pipeline.storage.published_copies import publish
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource

# Per table, the columns reports/report.py reads (a report that reads another needs it added here:
# star_pipeline_tests/reports/test_report.py runs every report on the copy alone).
REPORT_TABLES = {
    "fact_token_usage": (
        "usage_key", "source", "session_id", "agent_id", "is_sidechain", "project_id", "machine_id", "model", "report_model", "model_is_fallback", "event_ts", "date_key",
        "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
        "reasoning_output_tokens", "cost_usd", "computed_cost_usd", "recorded_cost_usd",
    ),
    "derived_session_usage": ("source", "session_id", "session_path"),
    "session_projects": ("source", "session_id", "git_branch"),
    "derived_subagents": ("source", "session_id", "agent_id", "agent_type"),
    # the budget alerts (reports/budgets.py lists them; written by budgets/alerts.py, not rebuilt)
    "budget_alerts": ("budget", "period", "window_label", "level", "spent_usd", "spent_tokens", "limit_usd",
                      "limit_tokens", "noticed_at", "recorded_at"),
}


@asset(key=key("published_report_copy"), group_name=GROUP, deps=[key("fact_token_usage"), key("derived_session_usage"),
                                                                       key("session_projects"), key("derived_subagents")],
       pool=WAREHOUSE_POOL, kinds={"duckdb"},
       description="A read-only copy of the tables reports read (<anchor>.reports.duckdb: beside the warehouse, or in "
       "warehouse.published_path on a lake), so that `star-pipeline report` answers while a run holds the warehouse "
       "and every team machine reads the team's figures.")
def published_report_copy(warehouse: WarehouseResource) -> MaterializeResult:
    with warehouse.connect() as conn:
        target = publish(conn, warehouse.publishing_anchor(), REPORT_TABLES, warehouse.machine_id)
        # and, for the sensors that never open the warehouse, the folders where sessions ran: the project
        # folders' scan (Crush, Aider) looks there too (storage/project_folders.py)
        folders = [row[0] for row in conn.execute(
            "SELECT DISTINCT project_cwd FROM normalized.normalized_sessions WHERE project_cwd IS NOT NULL").fetchall()]
    new_folders = remember_session_folders(project_folders_cache(warehouse.database), folders)
    return MaterializeResult(metadata={"path": MetadataValue.path(str(target)), "new_session_folders": new_folders})
