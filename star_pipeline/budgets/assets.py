"""published_budgets: each configured budget's state (limits, filters, window, spent, projection, status) in one
small file, `<warehouse>.budgets.jsonl` (laid out in storage/budgets_file.py), rewritten after every rebuild; and
the budgets_within_limits check, which shows in the Dagster UI which budgets are over or near their limit.

The figures come from reports/budgets.py, which asks the report layer's own queries, so a budget's spent is what
`star-pipeline report` says for its window and filters. The guard hook, the statusline, the dashboard, the MCP
server's budget_status tool and the budget alert sensor (budgets/sensors.py) read the file, never the warehouse.
The budgets are read from the configuration when the step runs, so an edited budget counts from the next build.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from dagster import AssetCheckResult, AssetCheckSeverity, MaterializeResult, MetadataValue, asset, asset_check

from star_pipeline.aggregate.blocks import EPOCH
from star_pipeline.aggregate.sql_assets import GROUP, key
from star_pipeline.storage.budgets_file import FORMAT, budgets_file
from star_pipeline.storage.published_copies import publish_text
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource

REPORT_INPUTS = [key("fact_token_usage"), key("derived_session_usage"), key("session_projects"), key("derived_subagents")]


def _us(iso: str | None) -> int | None:
    if iso is None:
        return None
    return (datetime.fromisoformat(iso) - EPOCH) // timedelta(microseconds=1)


def budgets_lines(conn, settings, warehouse_path, now: datetime | None = None) -> list[str]:
    """The file's lines (storage/budgets_file.py) from an open warehouse."""
    from star_pipeline.reports.budgets import budget_states, session_spending
    from star_pipeline.reports.report import system_timezone

    now = now or datetime.now(timezone.utc)
    zone = system_timezone()
    states = budget_states(conn, settings.budgets, now, zone, warehouse_path)
    for state in states:
        state["window_start_us"], state["window_end_us"] = _us(state["window_start"]), _us(state["window_end"])
    header = {"format": FORMAT, "published_at": (now - EPOCH) // timedelta(microseconds=1), "timezone": zone,
              "machine": settings.machine_id, "budgets": states}
    sessions: dict[str, dict] = {}
    for budget in settings.budgets:
        if budget.period == "session":
            for entry in session_spending(conn, budget, zone, warehouse_path):
                spent = entry.get("totalCost", entry.get("costUSD", 0.0))
                sessions.setdefault(entry["sessionId"], {})[budget.name] = [spent, entry["totalTokens"]]
    lines = [header] + [{"session": session, "spent": spent} for session, spent in sorted(sessions.items())]
    return [json.dumps(line, separators=(",", ":")) for line in lines]


@asset(key=key("published_budgets"), group_name=GROUP, deps=REPORT_INPUTS, pool=WAREHOUSE_POOL, kinds={"python"},
       description="Each budget of the configuration with its window, spent, projection and status "
       "(<warehouse>.budgets.jsonl), for the guard hook, the statusline, the dashboard, MCP and the alert sensor.")
def published_budgets(warehouse: WarehouseResource) -> MaterializeResult:
    from star_pipeline.config import load_settings

    settings = load_settings()
    with warehouse.connect() as conn:
        lines = budgets_lines(conn, settings, warehouse.database)
    target = budgets_file(warehouse.publishing_anchor())
    publish_text(target, "\n".join(lines) + "\n")
    states = json.loads(lines[0])["budgets"]
    return MaterializeResult(metadata={"path": MetadataValue.path(str(target)), "budgets": len(states),
                                       "not_ok": MetadataValue.json([s["name"] for s in states if s["status"] != "ok"])})


@asset_check(asset=key("published_budgets"), name="budgets_within_limits", blocking=False, pool=WAREHOUSE_POOL,
             additional_deps=REPORT_INPUTS,
             description="Every budget is under its warn_at fraction of its limit (WARN: never fails a run); the "
             "metadata lists the budgets over or near their limit.")
def budgets_within_limits(warehouse: WarehouseResource) -> AssetCheckResult:
    from star_pipeline.config import load_settings
    from star_pipeline.reports.budgets import budget_states

    with warehouse.connect() as conn:
        states = budget_states(conn, load_settings().budgets, warehouse_path=warehouse.database)
    listed = [{"name": s["name"], "status": s["status"], "window": s["window"],
               "spent": round(s["spent_usd"], 2) if s["limit_usd"] is not None else s["spent_tokens"],
               "limit": s["limit_usd"] if s["limit_usd"] is not None else s["limit_tokens"],
               "percent": round(s["used_fraction"] * 100, 1)} for s in states if s["status"] != "ok"]
    over = [s["name"] for s in listed if s["status"] == "over"]
    near = [s["name"] for s in listed if s["status"] == "warn"]
    description = "; ".join(part for part in (f"over: {', '.join(over)}" if over else "",
                                              f"near the limit: {', '.join(near)}" if near else "") if part)
    return AssetCheckResult(passed=not listed, severity=AssetCheckSeverity.WARN, description=description or None,
                            metadata={"budgets": len(states), "over_or_near": MetadataValue.json(listed)})
