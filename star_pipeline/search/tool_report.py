"""`star-pipeline report tools`: every agent's tools by outcome, from the published search copy (masked); here beside
the other readers of the search copy, not in reports/ (which search imports).

Per agent and tool: calls; how many succeeded, failed, were rejected (by the user or a permission rule), were
interrupted, came back with no recorded outcome (unknown) or have no result yet (pending); the failure rate over
the calls whose outcome is known; the duration's median and 90th percentile; and the latest failures with their
exit code or wording and the head of their text, masked as search masks it. The same rows as the dashboard's Tools
and files page and the MCP tool_failures tool (search/tool_stats.py).
"""

from __future__ import annotations

import datetime
import json
import sys
from dataclasses import dataclass

from star_pipeline.reports.report import ReportError, format_table, parse_date
from star_pipeline.search.history import HistoryError, resolve_project
from star_pipeline.search.query import open_search_copy
from star_pipeline.search.tool_stats import tool_outcomes

ERROR_CHARS = 160


@dataclass(frozen=True)
class ToolsOptions:
    as_json: bool = False
    source: str | None = None
    project: str | None = None
    since: str | None = None
    until: str | None = None
    examples: int = 3


def _iso(value):
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    return value


def _line(text: str | None, chars: int = ERROR_CHARS) -> str | None:
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= chars else flat[:chars] + "…"


def tools_report(conn, options: ToolsOptions) -> dict:
    """{"tools": [...], "totals": {...}} for the options, from an open search copy."""
    if not 0 <= options.examples <= 10:
        raise ReportError(f"--examples {options.examples}: use 0 to 10")
    where, params = ["TRUE"], []
    if options.source:
        where.append("source = ?")
        params.append(options.source)
    if options.project:
        try:
            where.append("project = ?")
            params.append(resolve_project(conn, options.project))
        except HistoryError as exc:
            raise ReportError(str(exc)) from None
    since, until = parse_date(options.since, "--since", ReportError), parse_date(options.until, "--until", ReportError)
    if since:
        where.append("CAST(called_at AT TIME ZONE 'UTC' AS DATE) >= CAST(? AS DATE)")
        params.append(since)
    if until:
        where.append("CAST(called_at AT TIME ZONE 'UTC' AS DATE) <= CAST(? AS DATE)")
        params.append(until)
    rows = tool_outcomes(conn, " AND ".join(where), params, examples=options.examples)
    tools = []
    for row in rows:
        tools.append({
            "source": row["source"], "tool": row["tool"], "calls": row["calls"], "ok": row["ok"], "failed": row["failed"],
            "rejected": row["rejected"], "interrupted": row["interrupted"], "unknown": row["unknown"],
            "pending": row["pending"], "failureRate": row["failure_rate"], "sessions": row["sessions"],
            "medianDurationMs": row["median_ms"], "p90DurationMs": row["p90_ms"], "timedCalls": row["timed_calls"],
            "latestErrors": [{"sessionId": e["session_id"], "at": _iso(e["at"]), "status": e["status"],
                              "exitCode": e["exit_code"], "reason": e["reason"], "target": e["target"],
                              "error": _line(e["error"], 500)} for e in row["latest_errors"]],
        })
    totals = {name: sum(t[name] for t in tools) for name in
              ("calls", "ok", "failed", "rejected", "interrupted", "unknown", "pending")}
    known = totals["ok"] + totals["failed"] + totals["rejected"] + totals["interrupted"]
    totals["failureRate"] = totals["failed"] / known if known else None
    return {"tools": tools, "totals": totals}


def _ms(value) -> str:
    if value is None:
        return "-"
    if value < 1000:
        return f"{value:.0f} ms"
    if value < 60_000:
        return f"{value / 1000:.1f} s"
    return f"{value / 60_000:.1f} min"


def _rate(value) -> str:
    return "unknown" if value is None else f"{value * 100:.1f}%"


def render_tools(data: dict) -> str:
    header = ["Agent", "Tool", "Calls", "Failed", "Rejected", "Interrupted", "Unknown", "Failure rate", "Median", "p90"]
    rows = [[t["source"], t["tool"], t["calls"], t["failed"], t["rejected"], t["interrupted"], t["unknown"],
             _rate(t["failureRate"]), _ms(t["medianDurationMs"]), _ms(t["p90DurationMs"])] for t in data["tools"]]
    totals = data["totals"]
    rows.append(["Total", "", totals["calls"], totals["failed"], totals["rejected"], totals["interrupted"],
                 totals["unknown"], _rate(totals["failureRate"]), "", ""])
    text = format_table(header, [[f"{c:,}" if isinstance(c, int) else c for c in row] for row in rows],
                        "Tool calls by outcome (failure rate: failed / calls with a known outcome; unknown: the "
                        "agent's format records none)", 2)
    failing = [t for t in data["tools"] if t["latestErrors"]]
    if failing:
        lines = ["", "Latest failures (masked):"]
        for t in failing:
            lines.append(f"  {t['source']} {t['tool']}:")
            for e in t["latestErrors"]:
                how = f"exit {e['exitCode']}" if e["exitCode"] is not None else (e["reason"] or "")
                lines.append(f"    {(e['at'] or '')[:16].replace('T', ' ')}  {e['status']}"
                             f"{' (' + how + ')' if how else ''}  {_line(e['error']) or '(no text kept)'}")
        text += "\n".join(lines) + "\n"
    return text


def run_tools_report(options: ToolsOptions, warehouse_path, out=None) -> int:
    out = out or sys.stdout
    conn = open_search_copy(warehouse_path)
    try:
        data = tools_report(conn, options)
    finally:
        conn.close()
    if options.as_json:
        out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif not data["tools"]:
        out.write("No tool call matches.\n")
    else:
        out.write(render_tools(data))
    return 0
