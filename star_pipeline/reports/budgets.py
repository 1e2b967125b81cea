"""Budgets: what each configured budget (config.py's `budgets`) has spent in its current window, from the report
layer's own queries, so that a budget's spent is what `star-pipeline report` says for the same window and filters.

A budget's window: `day`, `week` (from Sunday, as `report weekly`) and `month` in the report time zone (the
system's, as `report` defaults to); `block`: the active 5-hour block (`report blocks --active`); `session`: one
session's calls (`report session`): the most recently active one here, each session in the published file
(storage/budgets_file.py), which the guard and the statusline read. Per budget: spent (USD and tokens), remaining,
the projection to the window's end at the burn rate so far, and status ok, warn (past `warn_at` of the limit) or
over (at or past the limit).

Readers of this module: `star-pipeline budgets` (this file), the published_budgets asset and its
budgets_within_limits check (budgets/assets.py), which the dashboard, MCP, the statusline, the guard and
the alert sensor read through the file it publishes.
"""

from __future__ import annotations

import datetime
import json
import sys
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from star_pipeline.reports.report import ReportError, ReportOptions, report_data, system_timezone

ALERTS_TABLE = "aggregate.budget_alerts"
ALERT_COLUMNS = ("budget", "period", "window_label", "level", "spent_usd", "spent_tokens", "limit_usd",
                 "limit_tokens", "noticed_at", "recorded_at")


@dataclass(frozen=True)
class Window:
    """A budget's current window: its label and its bounds (aware datetimes; None where it has none)."""

    label: str
    start: datetime.datetime | None
    end: datetime.datetime | None


def calendar_window(period: str, now: datetime.datetime) -> Window:
    """The day, week (from Sunday) or month around `now` (aware, in the report time zone)."""
    today = now.date()
    if period == "day":
        first, last = today, today
    elif period == "week":
        first = today - datetime.timedelta(days=(today.weekday() + 1) % 7)
        last = first + datetime.timedelta(days=6)
    else:
        first = today.replace(day=1)
        last = (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
    zone = now.tzinfo
    start = datetime.datetime.combine(first, datetime.time(), zone)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time(), zone)
    label = {"day": first.isoformat(), "week": f"week of {first.isoformat()}", "month": first.strftime("%Y-%m")}[period]
    return Window(label, start, end)


def _options(budget, report: str, timezone_name: str, **changes) -> ReportOptions:
    return ReportOptions(report, True, timezone=timezone_name, source=budget.source, project=budget.project,
                         machine=budget.machine, model=budget.model, **changes)


def _report(conn, options: ReportOptions, warehouse_path) -> dict | None:
    """The report's data; None when a filter names no project or machine with calls (nothing spent yet)."""
    try:
        return report_data(conn, options, warehouse_path)
    except ReportError as exc:
        if str(exc).startswith(("--project", "--machine")):
            return None
        raise


def _cost(entry: dict) -> float:
    return entry.get("totalCost", entry.get("costUSD", 0.0))


def session_spending(conn, budget, timezone_name: str, warehouse_path=None) -> list[dict]:
    """Every session the budget's filters select, with its spent: `report session`'s entries (sessionId,
    totalCost, totalTokens, lastActivity)."""
    data = _report(conn, _options(budget, "session", timezone_name), warehouse_path)
    return data["sessions"] if data else []


def spending(conn, budget, now: datetime.datetime, timezone_name: str,
             warehouse_path=None) -> tuple[Window, float, int, float | None]:
    """(window, spent USD, spent tokens, projected USD or tokens at the window's end) of one budget, `now` aware."""
    if budget.period in ("day", "week", "month"):
        window = calendar_window(budget.period, now.astimezone(ZoneInfo(timezone_name)))
        last_day = (window.end - datetime.timedelta(days=1)).date().isoformat()
        data = _report(conn, _options(budget, "daily", timezone_name, since=window.start.date().isoformat(),
                                      until=last_day), warehouse_path)
        totals = data["totals"] if data else {}
        spent, tokens = _cost(totals) if totals else 0.0, totals.get("totalTokens", 0)
        start, end = window.start.astimezone(datetime.timezone.utc), window.end.astimezone(datetime.timezone.utc)
        elapsed = (now - start).total_seconds()  # in UTC: a day the clocks change is 23 or 25 hours long
        scale = (end - start).total_seconds() / elapsed if elapsed > 0 else 1.0
        used = spent if budget.limit_usd is not None else tokens
        return window, spent, tokens, used * scale
    if budget.period == "block":
        data = _report(conn, _options(budget, "blocks", timezone_name, active=True), warehouse_path)
        active = [b for b in (data or {}).get("blocks", []) if b["isActive"]]
        if not active:
            return Window("no active block", None, None), 0.0, 0, 0.0
        block = active[-1]
        start = datetime.datetime.fromisoformat(block["startTime"].replace("Z", "+00:00"))
        end = datetime.datetime.fromisoformat(block["endTime"].replace("Z", "+00:00"))
        projection = block.get("projection") or {}
        projected = projection.get("totalCost" if budget.limit_usd is not None else "totalTokens")
        spent, tokens = block["costUSD"], block["totalTokens"]
        return (Window(f"block from {block['startTime'][:16].replace('T', ' ')} UTC", start, end), spent, tokens,
                projected if projected is not None else (spent if budget.limit_usd is not None else tokens))
    sessions = session_spending(conn, budget, timezone_name, warehouse_path)
    if not sessions:
        return Window("no session yet", None, None), 0.0, 0, 0.0
    latest = max(sessions, key=lambda s: s.get("lastActivity") or "")
    spent, tokens = _cost(latest), latest["totalTokens"]
    return (Window(f"session {latest['sessionId']}", None, None), spent, tokens,
            spent if budget.limit_usd is not None else tokens)


def status_of(used: float, limit: float, warn_at: float) -> str:
    """over at or past the limit, warn at or past `warn_at` of it, else ok."""
    if used >= limit:
        return "over"
    return "warn" if used >= warn_at * limit else "ok"


def budget_state(budget, window: Window, spent: float, tokens: int, projected: float | None) -> dict:
    """One budget's entry of `budgets --json` (and of the published file's header)."""
    in_usd = budget.limit_usd is not None
    used = spent if in_usd else tokens
    remaining = max(budget.limit - used, 0)  # what is left to spend: nothing, once over
    return {
        "name": budget.name, "period": budget.period, "action": budget.action, "warn_at": budget.warn_at,
        "limit_usd": budget.limit_usd, "limit_tokens": budget.limit_tokens, "filters": budget.filters(),
        "window": window.label, "window_start": window.start.isoformat() if window.start else None,
        "window_end": window.end.isoformat() if window.end else None,
        "spent_usd": spent, "spent_tokens": tokens,
        "remaining_usd": remaining if in_usd else None, "remaining_tokens": None if in_usd else remaining,
        "projected_usd": projected if in_usd else None, "projected_tokens": None if in_usd else projected,
        "used_fraction": used / budget.limit, "status": status_of(used, budget.limit, budget.warn_at),
    }


def budget_states(conn, budgets, now: datetime.datetime | None = None, timezone_name: str | None = None,
                  warehouse_path=None) -> list[dict]:
    """Every budget's state, from an open warehouse or report copy."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    timezone_name = timezone_name or system_timezone()
    return [budget_state(budget, *spending(conn, budget, now, timezone_name, warehouse_path)) for budget in budgets]


def recorded_alerts(conn, limit: int = 50) -> list[dict]:
    """The alerts the budget sensor recorded (aggregate.budget_alerts), latest first; none when the table is not
    there (a copy published before it existed)."""
    import duckdb

    try:
        cursor = conn.execute(f"SELECT {', '.join(ALERT_COLUMNS)} FROM {ALERTS_TABLE} ORDER BY noticed_at DESC, budget "
                              "LIMIT ?", [limit])
    except duckdb.CatalogException:
        return []
    return [{name: (value.isoformat() if isinstance(value, datetime.datetime) else value)
             for name, value in zip(ALERT_COLUMNS, row)} for row in cursor.fetchall()]


def money(value: float | None) -> str:
    return "" if value is None else f"${value:,.2f}"


def amount(state: dict, value: float | None) -> str:
    """A spent, remaining or projected amount in the budget's own unit."""
    if value is None:
        return ""
    return money(value) if state["limit_usd"] is not None else f"{round(value):,} tokens"


def alert_line(alert: dict) -> str:
    """One recorded alert: when, which budget and window, what was crossed, and how much was spent of what."""
    in_usd = alert["limit_usd"] is not None
    spent = money(alert["spent_usd"]) if in_usd else f"{alert['spent_tokens']:,} tokens"
    limit = money(alert["limit_usd"]) if in_usd else f"{alert['limit_tokens']:,} tokens"
    crossed = "limit reached" if alert["level"] == "limit" else "past warn_at"
    noticed = alert["noticed_at"][:16].replace("T", " ")
    return f"  {noticed}  {alert['budget']} ({alert['window_label']}): {crossed}, {spent} of {limit}"


def render(states: list[dict], alerts: list[dict]) -> str:
    from star_pipeline.reports.report import format_table

    if not states:
        return ("No budgets configured. Add a `budgets:` list to your config file (docs/reference/configuration.md), "
                "for example:\n  budgets:\n    - {name: daily, period: day, limit_usd: 20, action: warn}\n")
    rows = []
    for s in states:
        in_usd = s["limit_usd"] is not None
        rows.append([
            s["name"], s["period"], s["window"], s["action"], amount(s, s["limit_usd"] if in_usd else s["limit_tokens"]),
            amount(s, s["spent_usd"] if in_usd else s["spent_tokens"]),
            f"{int(s['used_fraction'] * 100)}%",  # rounded down, as the guard and the status line: 100% is reached
            amount(s, s["remaining_usd"] if in_usd else s["remaining_tokens"]),
            amount(s, s["projected_usd"] if in_usd else s["projected_tokens"]),
            s["status"].upper() if s["status"] != "ok" else "ok"])
    text = format_table(["Budget", "Period", "Window", "Action", "Limit", "Spent", "Used", "Remaining", "Projected",
                         "Status"], rows, title="budgets", left=4, totals=False)
    if alerts:
        text += "\nalerts recorded (latest first):\n" + "".join(alert_line(a) + "\n" for a in alerts)
    return text


def run_budgets(settings, as_json: bool = False, out=None, err=None) -> int:
    """`star-pipeline budgets`: each budget's window, spent, remaining, projection and status, and the alerts."""
    from star_pipeline.reports.reader import open_for_reading

    out, err = out or sys.stdout, err or sys.stderr
    conn, provenance = open_for_reading(settings.warehouse_path, lake=settings.lake, published=settings.published_anchor)
    try:
        states = budget_states(conn, settings.budgets, warehouse_path=settings.warehouse_path)
        alerts = recorded_alerts(conn)
    finally:
        conn.close()
    print(f"star-pipeline budgets: {provenance}", file=err)
    if as_json:
        out.write(json.dumps({"budgets": states, "alerts": alerts}, indent=2, sort_keys=True) + "\n")
    else:
        out.write(render(states, alerts))
    return 0
