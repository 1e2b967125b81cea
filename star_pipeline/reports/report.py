"""Daily, weekly, monthly, session and 5-hour block reports over aggregate.fact_token_usage.

`--json` emits the field names and nesting of ccusage 20's JSON for the same
report: Claude Code's shape (modelBreakdowns, totalCost) by default and for
`--source claude_code`, Codex's shape (models, costUSD, reasoningOutputTokens,
isFallback) for `--source codex`. Dates are in `--timezone` (default UTC);
`--since` / `--until` (YYYYMMDD or YYYY-MM-DD) are inclusive, in that timezone.
Fast-mode calls appear as `<model>-fast`, as in ccusage.
"""

from __future__ import annotations

import datetime
import json
import re
import sys
from dataclasses import dataclass

import duckdb

from star_pipeline.reports.reader import open_for_reading
from star_pipeline.sources import by_name, with_messages

REPORTS = ("daily", "weekly", "monthly", "session", "blocks")
_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


class ReportError(ValueError):
    """Bad report arguments; the message says what to pass."""


@dataclass(frozen=True)
class ReportOptions:
    report: str
    as_json: bool = False
    since: str | None = None
    until: str | None = None
    timezone: str = "UTC"
    source: str | None = None
    project: str | None = None


def parse_date(value: str | None, flag: str, error: type[Exception] = None) -> str | None:
    """`value` (YYYYMMDD or YYYY-MM-DD) as YYYY-MM-DD; `error` (ReportError unless given) names `flag` when
    it is not a date that ever was (2026-13-01)."""
    if value is None:
        return None
    match = _DATE.match(value)
    try:
        if match:
            return datetime.date(*map(int, match.groups())).isoformat()
    except ValueError:  # 2026-13-01, 2026-02-30: a date that never was
        pass
    raise (error or ReportError)(f"{flag} {value!r}: not a date; use YYYYMMDD or YYYY-MM-DD")


def _in_utc(options: ReportOptions) -> bool:
    """Reports in UTC (the default) take the day from the fact's `date_key` (the call's UTC date,
    yyyymmdd): an integer to compare and group instead of a time zone conversion of every row,
    which was most of a daily report's query (60 ms -> 10 ms at 1 GB), and grows with the calls."""
    return options.timezone == "UTC"


def _filters(options: ReportOptions) -> tuple[str, list]:
    where, params = ["TRUE"], []
    utc = _in_utc(options)
    local_date = "f.date_key" if utc else "CAST(timezone(?, f.event_ts) AS DATE)"
    if options.source:
        where.append("f.source = ?")
        params.append(options.source)
    for flag, value, operator in (("--since", options.since, ">="), ("--until", options.until, "<=")):
        if value:
            day = parse_date(value, flag)
            where.append(f"{local_date} {operator} " + ("CAST(? AS INTEGER)" if utc else "CAST(? AS DATE)"))
            params += [day.replace("-", "")] if utc else [options.timezone, day]
    if options.project:
        where.append("(f.project_id = ? OR f.project_id LIKE '%/' || ?)")
        params += [options.project, options.project]
    return " AND ".join(where), params


PERIODS = {
    "daily": ("date", "strftime(timezone(?, f.event_ts), '%Y-%m-%d')"),
    "weekly": ("week", "strftime(CAST(timezone(?, f.event_ts) AS DATE) - CAST(dayofweek(timezone(?, f.event_ts)) AS INTEGER), '%Y-%m-%d')"),
    "monthly": ("month", "strftime(timezone(?, f.event_ts), '%Y-%m')"),
}
_UTC_DATE = "make_date(f.date_key // 10000, f.date_key // 100 % 100, f.date_key % 100)"
# In UTC: the label grouped by, and how it is written (None: SQL writes it)
UTC_PERIODS = {
    "daily": ("f.date_key", lambda key: f"{key // 10000:04d}-{key // 100 % 100:02d}-{key % 100:02d}"),
    "weekly": (f"strftime({_UTC_DATE} - CAST(dayofweek({_UTC_DATE}) AS INTEGER), '%Y-%m-%d')", None),
    "monthly": ("f.date_key // 100", lambda key: f"{key // 100:04d}-{key % 100:02d}"),
}


def check_options(options: ReportOptions) -> None:
    """Raise ReportError for a report, source or date that cannot be asked for."""
    if options.report not in REPORTS:
        raise ReportError(f"unknown report {options.report!r}; use one of {', '.join(REPORTS)}")
    names = [s.name for s in with_messages()]
    if options.source is not None and options.source not in names:
        raise ReportError(f"--source {options.source!r}: not a source; use one of {', '.join(names)}")
    parse_date(options.since, "--since"), parse_date(options.until, "--until")


def report_data(conn: duckdb.DuckDBPyConnection, options: ReportOptions, warehouse_path) -> dict:
    """The report's data (what --json prints) from an open warehouse or published copy."""
    try:
        conn.execute("SELECT timezone(?, now())", [options.timezone])
    except Exception:
        raise ReportError(f"--timezone {options.timezone!r}: not a time zone name (e.g. UTC, Europe/Berlin)") from None
    try:
        if options.report in PERIODS:
            return _period_report(conn, options)
        if options.report == "session":
            return _session_report(conn, options)
        return _blocks_report(conn, options)
    except duckdb.CatalogException:
        raise ReportError(
            f"{warehouse_path}: no aggregate tables yet (no build has got that far). Run `star-pipeline build` "
            "and read what its output says failed."
        ) from None


def run_report(options: ReportOptions, warehouse_path, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    check_options(options)
    conn, provenance = open_for_reading(warehouse_path)
    try:
        data = report_data(conn, options, warehouse_path)
    finally:
        conn.close()
    print(f"star-pipeline report: {provenance}", file=err)
    if options.as_json:
        out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")  # one write: json.dump writes piece by piece
    else:
        out.write(render_table(options, data))
    return 0


def _codex_shape(options: ReportOptions) -> bool:
    """ccusage's Codex JSON (models, costUSD, reasoningOutputTokens) for a source that speaks it; else Claude's."""
    return options.source is not None and by_name(options.source).report_shape == "codex"


def _tokens(row: dict, codex: bool) -> dict:
    fields = {
        "inputTokens": row["input"], "outputTokens": row["output"],
        "cacheCreationTokens": row["cache_creation"], "cacheReadTokens": row["cache_read"],
        "totalTokens": row["input"] + row["output"] + row["cache_creation"] + row["cache_read"],
    }
    if codex:
        fields["reasoningOutputTokens"] = row["reasoning"]
    return fields


TOKEN_SELECT = (
    "sum(f.input_tokens) AS input, sum(f.output_tokens) AS output, sum(f.cache_creation_input_tokens) AS cache_creation, "
    "sum(f.cache_read_input_tokens) AS cache_read, sum(f.reasoning_output_tokens) AS reasoning, "
    "coalesce(sum(f.cost_usd), 0) AS cost, bool_or(f.model_is_fallback) AS fallback, "
    "bool_or(f.cost_usd IS NULL) AS unpriced"
)


def _rows(conn, sql: str, params: list) -> list[dict]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _grouped(conn, options: ReportOptions, label_sql: str, label_params: list, extra_cols: str = "") -> list[dict]:
    where, params = _filters(options)
    return _rows(
        conn,
        f"SELECT {label_sql} AS label, f.report_model AS model{extra_cols}, {TOKEN_SELECT} "
        f"FROM aggregate.fact_token_usage f WHERE {where} GROUP BY ALL ORDER BY label, model",
        label_params + params,
    )


def _entries(rows: list[dict], codex: bool, label_key: str, extra: dict | None = None) -> tuple[list, dict]:
    entries: dict[str, dict] = {}
    for row in rows:
        entry = entries.setdefault(row["label"], {"rows": []})
        entry["rows"].append(row)
    result = []
    totals = {"input": 0, "output": 0, "cache_creation": 0, "cache_read": 0, "reasoning": 0, "cost": 0.0}
    for label, entry in entries.items():
        entry["rows"].sort(key=lambda r: (-r["cost"], r["model"]))  # ccusage lists models by cost, highest first
        agg = {k: sum(r[k] for r in entry["rows"]) for k in totals}
        for k in totals:
            totals[k] += agg[k]
        item = {label_key: label, **_tokens(agg, codex)}
        if codex:
            item["costUSD"] = agg["cost"]
            item["models"] = {
                r["model"]: {**_tokens(r, True), "isFallback": bool(r["fallback"])} for r in entry["rows"]
            }
        else:
            item["totalCost"] = agg["cost"]
            item["modelsUsed"] = [r["model"] for r in entry["rows"]]
            item["modelBreakdowns"] = [
                {"modelName": r["model"], "inputTokens": r["input"], "outputTokens": r["output"],
                 "cacheCreationTokens": r["cache_creation"], "cacheReadTokens": r["cache_read"], "cost": r["cost"],
                 # as ccusage marks a model it has no price for: its cost above is 0, not a price
                 **({"missingPricing": True} if r["unpriced"] else {})}
                for r in entry["rows"]
            ]
        if extra:
            item.update(extra.get(label, {}))
        result.append(item)
    total = _tokens(totals, codex)
    total["costUSD" if codex else "totalCost"] = totals["cost"]
    unpriced = sorted({r["model"] for r in rows if r["unpriced"]})
    if unpriced and not codex:
        total["unpricedModels"] = unpriced
    return result, total


def _period_report(conn, options: ReportOptions) -> dict:
    label_key, label_sql = PERIODS[options.report]
    label_params = [options.timezone] * label_sql.count("?")
    if _in_utc(options):
        label_sql, write_label = UTC_PERIODS[options.report]
        rows = _grouped(conn, options, label_sql, [])
        for row in rows:
            if write_label and row["label"] is not None:
                row["label"] = write_label(row["label"])
    else:
        rows = _grouped(conn, options, label_sql, label_params)
    entries, totals = _entries(rows, _codex_shape(options), label_key)
    return {options.report: entries, "totals": totals}


def _session_report(conn, options: ReportOptions) -> dict:
    codex = _codex_shape(options)
    where, params = _filters(options)
    details = _rows(
        conn,
        "SELECT f.source || ':' || f.session_id AS label, min(f.event_ts) AS first_ts, max(f.event_ts) AS last_ts, "
        "any_value(s.session_path) AS session_path, any_value(f.project_id) AS project_id "
        "FROM aggregate.fact_token_usage f LEFT JOIN aggregate.derived_session_usage s USING (source, session_id) "
        f"WHERE {where} GROUP BY ALL",
        params,
    )
    extra = {}
    for d in details:
        session_id = d["label"].split(":", 1)[1]
        info = {"lastActivity": _iso(d["last_ts"])}
        path = d["session_path"] or ""
        if codex:
            match = re.search(r"(\d{4}/\d{2}/\d{2})/(rollout-[^/]+)\.jsonl$", path)
            relative = f"{match.group(1)}/{match.group(2)}" if match else session_id
            info.update({"sessionId": relative, "directory": match.group(1) if match else "",
                         "sessionFile": match.group(2) if match else session_id})
        else:
            parts = path.split("/")
            slug = parts[-2] if len(parts) >= 2 and "/subagents/" not in path else (parts[-4] if len(parts) >= 4 else "")
            info.update({"sessionId": session_id, "projectPath": slug or d["project_id"],
                         "firstActivity": _iso(d["first_ts"])})
        extra[d["label"]] = info
    rows = _grouped(conn, options, "f.source || ':' || f.session_id", [])
    entries, totals = _entries(rows, codex, "_label", extra)
    for entry in entries:
        entry.pop("_label")
    entries.sort(key=lambda e: e.get("costUSD", e.get("totalCost", 0)), reverse=True)
    return {"sessions": entries, "totals": totals}


def _blocks_report(conn, options: ReportOptions) -> dict:
    from star_pipeline.aggregate.blocks import CALL_TIME_SQL, billing_blocks, iso

    where, params = _filters(options)
    calls = conn.execute(
        f"SELECT {CALL_TIME_SQL}, f.report_model, f.input_tokens, f.output_tokens, f.cache_creation_input_tokens, "
        f"f.cache_read_input_tokens, f.cost_usd FROM aggregate.fact_token_usage f WHERE {where} AND f.event_ts IS NOT NULL "
        "ORDER BY f.event_ts, f.usage_key",
        params,
    ).fetchall()
    blocks = []
    for b in billing_blocks(calls):
        blocks.append({
            "id": b["block_id"], "startTime": iso(b["start_time"]), "endTime": iso(b["end_time"]),
            "actualEndTime": iso(b["actual_end"]) if b["actual_end"] else None,
            "isActive": bool(b["is_active"]), "isGap": b["is_gap"], "entries": b["entries"],
            "tokenCounts": {"inputTokens": b["input_tokens"], "outputTokens": b["output_tokens"],
                            "cacheCreationInputTokens": b["cache_creation_input_tokens"],
                            "cacheReadInputTokens": b["cache_read_input_tokens"]},
            "totalTokens": b["input_tokens"] + b["output_tokens"] + b["cache_creation_input_tokens"] + b["cache_read_input_tokens"],
            "costUSD": b["cost_usd"] if not b["is_gap"] else 0, "models": b["models"], "burnRate": None, "projection": None,
        })
    return {"blocks": blocks}


def _iso(ts) -> str | None:
    from star_pipeline.aggregate.blocks import iso

    return iso(ts) if ts is not None else None


def render_table(options: ReportOptions, data: dict) -> str:
    """A readable terminal table of the same data as the JSON."""
    if options.report == "blocks":
        header = ["Block start", "Status", "Calls", "Models", "Total tokens", "Cost (USD)"]
        rows = [[b["startTime"][:16].replace("T", " "), "gap" if b["isGap"] else ("ACTIVE" if b["isActive"] else ""),
                 str(b["entries"]), ", ".join(b["models"]), f"{b['totalTokens']:,}", f"{b['costUSD']:.2f}"]
                for b in data["blocks"]]
        return _format(header, rows, title="5-hour blocks (UTC)")
    key = {"daily": "date", "weekly": "week", "monthly": "month", "session": "sessionId"}[options.report]
    entries = data[options.report if options.report != "session" else "sessions"]
    header = [key.capitalize() if key != "sessionId" else "Session", "Models", "Input", "Output", "Cache create",
              "Cache read", "Total tokens", "Cost (USD)"]
    rows = []
    for e in entries:
        models = list(e["models"]) if "models" in e else e["modelsUsed"]
        cost = e.get("costUSD", e.get("totalCost", 0.0))
        rows.append([e[key], ", ".join(models), f"{e['inputTokens']:,}", f"{e['outputTokens']:,}",
                     f"{e['cacheCreationTokens']:,}", f"{e['cacheReadTokens']:,}", f"{e['totalTokens']:,}", f"{cost:.2f}"])
    t = data["totals"]
    rows.append(["Total", "", f"{t['inputTokens']:,}", f"{t['outputTokens']:,}", f"{t['cacheCreationTokens']:,}",
                 f"{t['cacheReadTokens']:,}", f"{t['totalTokens']:,}", f"{t.get('costUSD', t.get('totalCost', 0.0)):.2f}"])
    return _format(header, rows, title=f"{options.report} usage ({options.timezone})")


def _format(header: list[str], rows: list[list[str]], title: str) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)] if rows else [len(h) for h in header]
    line = "  ".join("-" * w for w in widths)
    out = [title, line, "  ".join(h.ljust(w) for h, w in zip(header, widths)), line]
    for row in rows:
        out.append("  ".join(c.rjust(w) if i >= 2 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(out) + "\n"
