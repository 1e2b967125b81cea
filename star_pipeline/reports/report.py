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
from dataclasses import dataclass, replace

import duckdb

from star_pipeline.reports.reader import open_for_reading
from star_pipeline.sources import by_name, with_messages

REPORTS = ("daily", "weekly", "monthly", "hourly", "session", "blocks", "projects")
_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


class ReportError(ValueError):
    """Bad report arguments; the message says what to pass."""


UTC_NAMES = {"UTC", "Etc/UTC", "UCT", "Etc/UCT", "Zulu", "Etc/Zulu", "Universal", "Etc/Universal", "GMT", "Etc/GMT"}
STRIPPED_COST_FIELDS = ("totalCost", "costUSD", "cost")


@dataclass(frozen=True)
class ReportOptions:
    """What a report was asked for: ccusage 20.0.24's flags (`star-pipeline report <kind> --help`)."""

    report: str
    as_json: bool = False
    since: str | None = None
    until: str | None = None
    timezone: str = "UTC"
    source: str | None = None
    project: str | None = None
    order: str | None = None  # asc (the default of period reports) or desc; sessions: by cost unless given
    breakdown: bool = False
    compact: bool = False
    no_cost: bool = False
    mode: str = "auto"
    instances: bool = False
    last: int | None = None
    session_id: str | None = None
    active: bool = False
    recent: bool = False
    token_limit: str | None = None
    session_length: float = 5.0
    by: str | None = None  # daily|weekly|monthly|hourly --by: BY_SQL's keys; --machine: "machine" in every report
    machine: str | None = None  # --machine NAME: that machine's rows only (machine.id as the warehouse has it)
    project_ids: tuple[str, ...] | None = None  # what --project matched (resolve_project), set by report_data
    model: str | None = None  # --model NAME: that model's calls only (fact_token_usage.model, fast mode included)

    @classmethod
    def from_args(cls, args) -> "ReportOptions":
        """From `star-pipeline report`'s parsed arguments; the time zone defaults to the system's, as in ccusage.
        `--machine` (no value, parsed as "") splits every report by machine; `--machine NAME` also keeps NAME's rows
        only, so the machine shows either way (a column, and `machine` in the JSON)."""
        machine = getattr(args, "machine", None)
        if machine is not None:
            if getattr(args, "by", None) not in (None, "machine"):
                raise ReportError(f"--by {args.by} and --machine: pick one (--machine is --by machine)")
            options = cls.from_args(argparse_namespace(args, machine=None))
            return replace(options, by="machine", machine=machine or None)
        return replace(cls(
            args.report, args.json, args.since, args.until, args.timezone or system_timezone(), args.source,
            args.project, args.order, args.breakdown, args.compact, args.no_cost, args.mode,
            getattr(args, "instances", False), getattr(args, "last", None), getattr(args, "session_id", None),
            getattr(args, "active", False), getattr(args, "recent", False), getattr(args, "token_limit", None),
            getattr(args, "session_length", 5.0), getattr(args, "by", None),
        ), model=getattr(args, "model", None))


def argparse_namespace(args, **changes):
    """A copy of parsed arguments `args` with `changes`."""
    import argparse

    return argparse.Namespace(**{**vars(args), **changes})


def system_timezone() -> str:
    """This machine's IANA time zone: $TZ, else what /etc/localtime links to, else /etc/timezone, else UTC."""
    import os

    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        try:
            target = os.path.realpath("/etc/localtime")
            name = target.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in target else ""
        except OSError:
            name = ""
    if not name:
        try:
            with open("/etc/timezone", encoding="utf-8") as handle:
                name = handle.read().strip()
        except OSError:
            name = ""
    return "UTC" if not name or name in UTC_NAMES else name


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
    return options.timezone in UTC_NAMES


def fact_filters(options: ReportOptions) -> tuple[str, list]:
    """The WHERE clause over `aggregate.fact_token_usage f` (and its parameters) of the options' filters."""
    where, params = ["TRUE"], []
    utc = _in_utc(options)
    local_date = "f.date_key" if utc else "CAST(timezone(?, f.event_ts) AS DATE)"
    if options.source:
        where.append("f.source = ?")
        params.append(options.source)
    for flag, value, operator in (("--since", options.since, ">="), ("--until", options.until, "<=")):
        if value:
            day = parse_date(value, flag)
            if not utc:
                # A day anywhere (UTC-12 to UTC+14) lies within the UTC days before and after it: that bound on the
                # integer date_key first, so only those days' calls are converted to the zone (all of them were)
                bound = datetime.date.fromisoformat(day) + datetime.timedelta(days=-1 if operator == ">=" else 1)
                where.append(f"f.date_key {operator} CAST(? AS INTEGER)")
                params.append(bound.strftime("%Y%m%d"))
            where.append(f"{local_date} {operator} " + ("CAST(? AS INTEGER)" if utc else "CAST(? AS DATE)"))
            params += [day.replace("-", "")] if utc else [options.timezone, day]
    if options.project:
        where.append("f.project_id IN (SELECT unnest(CAST(? AS VARCHAR[])))")
        params.append(list(options.project_ids if options.project_ids is not None else (options.project,)))
    if options.session_id:
        where.append("f.session_id = ?")
        params.append(options.session_id)
    if options.machine:
        where.append("f.machine_id = ?")
        params.append(options.machine)
    if options.model:
        where.append("f.model = ?")
        params.append(options.model)
    return " AND ".join(where), params


PERIODS = {
    "daily": ("date", "strftime(timezone(?, f.event_ts), '%Y-%m-%d')"),
    "weekly": ("week", "strftime(CAST(timezone(?, f.event_ts) AS DATE) - CAST(dayofweek(timezone(?, f.event_ts)) AS INTEGER), '%Y-%m-%d')"),
    "monthly": ("month", "strftime(timezone(?, f.event_ts), '%Y-%m')"),
    "hourly": ("hour", "strftime(timezone(?, f.event_ts), '%Y-%m-%d %H:00')"),
}
_UTC_DATE = "make_date(f.date_key // 10000, f.date_key // 100 % 100, f.date_key % 100)"
# In UTC: the label grouped by, and how it is written (None: SQL writes it)
UTC_PERIODS = {
    "daily": ("f.date_key", lambda key: f"{key // 10000:04d}-{key // 100 % 100:02d}-{key % 100:02d}"),
    "weekly": (f"strftime({_UTC_DATE} - CAST(dayofweek({_UTC_DATE}) AS INTEGER), '%Y-%m-%d')", None),
    "monthly": ("f.date_key // 100", lambda key: f"{key // 100:04d}-{key % 100:02d}"),
    "hourly": ("strftime(timezone('UTC', f.event_ts), '%Y-%m-%d %H:00')", None),
}


# A call's project as ccusage names it: for Claude Code the folder under projects/ its session file is in (a
# subagent's file is two folders deeper), else the project path the source records.
# The folder is read once per session (`s.folder`), not once per call: at 1 GB the regular expression over every
# call's row took 1.7 s of `report projects`.
PROJECT_LABEL_SQL = "CASE WHEN f.source = 'claude_code' THEN coalesce(s.folder, f.project_id) ELSE f.project_id END"
WITH_SESSIONS = (
    "aggregate.fact_token_usage f LEFT JOIN (SELECT source, session_id, session_path, nullif(regexp_extract(session_path, "
    r"'([^/]+)/(?:[^/]+/subagents/)?[^/]+\.jsonl$', 1), '') AS folder FROM aggregate.derived_session_usage) s "
    "USING (source, session_id) LEFT JOIN aggregate.session_projects p USING (source, session_id) "
    "LEFT JOIN aggregate.derived_subagents a USING (source, session_id, agent_id)")
# A call's agent type: the main agent's, a compaction's, or the type of the subagent that made it
AGENT_TYPE_SQL = ("CASE WHEN f.agent_id IS NULL AND NOT f.is_sidechain THEN 'main' "
                  "WHEN f.agent_id LIKE 'acompact%' THEN 'compaction' "
                  "ELSE coalesce(a.agent_type, 'subagent (type unknown)') END")
# --by: what a period's rows are split by (a session's branch is the one its last line names)
BY_SQL = {"project": PROJECT_LABEL_SQL, "model": "f.report_model", "source": "f.source",
          "branch": "coalesce(p.git_branch, '(no branch)')", "agent_type": AGENT_TYPE_SQL, "machine": "f.machine_id"}


def check_machine(conn, name: str) -> None:
    """ReportError naming the machines there are when `--machine NAME` names none of them."""
    known = [row[0] for row in conn.execute(
        "SELECT machine_id FROM aggregate.fact_token_usage GROUP BY 1 ORDER BY max(event_ts) DESC NULLS LAST").fetchall()]
    if name not in known:
        raise ReportError(f"--machine {name!r}: no calls from such a machine. `star-pipeline report daily --machine` "
                          f"shows every machine; the machines: {', '.join(map(str, known)) or '(none yet)'}")


def resolve_project(conn, name: str) -> tuple[str, ...]:
    """The project paths `--project NAME` means: a path as stored, its last part, or its ccusage name."""
    ids = tuple(row[0] for row in conn.execute(
        f"SELECT DISTINCT f.project_id FROM {WITH_SESSIONS} WHERE f.project_id = ? OR ends_with(f.project_id, '/' || ?) "
        f"OR {PROJECT_LABEL_SQL} = ? ORDER BY 1", [name, name, name]).fetchall())
    if not ids:
        known = [row[0] for row in conn.execute(
            f"SELECT {PROJECT_LABEL_SQL} AS label FROM {WITH_SESSIONS} GROUP BY label ORDER BY max(f.event_ts) DESC NULLS LAST "
            "LIMIT 8").fetchall()]
        raise ReportError(f"--project {name!r}: no such project. `star-pipeline report projects` lists them all; "
                          f"the latest: {', '.join(map(str, known)) or '(none yet)'}")
    return ids


def _without_cost(value):
    """`value` without ccusage's cost fields (--no-cost)."""
    if isinstance(value, dict):
        return {k: _without_cost(v) for k, v in value.items() if k not in STRIPPED_COST_FIELDS}
    if isinstance(value, list):
        return [_without_cost(v) for v in value]
    return value


def check_options(options: ReportOptions) -> None:
    """Raise ReportError for a report, source or date that cannot be asked for."""
    if options.report not in REPORTS:
        raise ReportError(f"unknown report {options.report!r}; use one of {', '.join(REPORTS)}")
    names = [s.name for s in with_messages()]
    if options.source is not None and options.source not in names:
        raise ReportError(f"--source {options.source!r}: not a source; use one of {', '.join(names)}")
    parse_date(options.since, "--since"), parse_date(options.until, "--until")
    if options.mode not in COST_SQL:
        raise ReportError(f"--mode {options.mode!r}: use one of {', '.join(COST_SQL)}")
    if options.order not in (None, "asc", "desc"):
        raise ReportError(f"--order {options.order!r}: use asc or desc")
    if options.last is not None and options.last < 1:
        raise ReportError(f"--last {options.last}: use 1 or more (1 is the current day, week or month)")
    if not 0 < options.session_length <= 24 * 7:
        raise ReportError(f"--session-length {options.session_length:g}: use hours between 0 and 168 (ccusage: 5)")
    if options.by is not None and options.by not in BY_SQL:
        raise ReportError(f"--by {options.by!r}: use one of {', '.join(BY_SQL)}")
    if options.by and options.instances:
        raise ReportError("--by and --instances: pick one (--instances is --by project, one table per project)")
    if options.token_limit is not None and options.token_limit != "max" and not options.token_limit.isdigit():
        raise ReportError(f"--token-limit {options.token_limit!r}: use a number of tokens, or max")


def report_data(conn: duckdb.DuckDBPyConnection, options: ReportOptions, warehouse_path) -> dict:
    """The report's data (what --json prints) from an open warehouse or published copy."""
    try:
        conn.execute("SELECT timezone(?, now())", [options.timezone])
    except Exception:
        raise ReportError(f"--timezone {options.timezone!r}: not a time zone name (e.g. UTC, Europe/Berlin)") from None
    try:
        if options.project and options.project_ids is None:
            options = replace(options, project_ids=resolve_project(conn, options.project))
        if options.machine:
            check_machine(conn, options.machine)
        if options.report in PERIODS:
            data = _period_report(conn, options)
        elif options.report == "session":
            data = _session_report(conn, options)
        elif options.report == "projects":
            data = _projects_report(conn, options)
        else:
            data = _blocks_report(conn, options)
        return _without_cost(data) if options.no_cost else data
    except duckdb.CatalogException:
        raise ReportError(
            f"{warehouse_path}: no aggregate tables yet (no build has got that far). Run `star-pipeline build` "
            "and read what its output says failed."
        ) from None


def run_report(options: ReportOptions, warehouse_path, out=None, err=None, lake=None, published=None) -> int:
    """`published`: the published copies' anchor (config's Settings.published_anchor), `warehouse_path` if None."""
    out, err = out or sys.stdout, err or sys.stderr
    check_options(options)
    conn, provenance = open_for_reading(warehouse_path, lake=lake, published=published)
    try:
        data = report_data(conn, options, warehouse_path)
        notes = source_notes(conn, options)
    finally:
        conn.close()
    print(f"star-pipeline report: {provenance}", file=err)
    for note in notes:
        print(f"star-pipeline report: {note}", file=err)
    if options.as_json:
        out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")  # one write: json.dump writes piece by piece
    else:
        out.write(render_table(options, data))
    return 0


def source_notes(conn, options: ReportOptions) -> list[str]:
    """What the report must say about the agents among its rows that record usage their own way
    (`Source.report_note`: Crush's last-call tokens, Aider's rounded counts)."""
    noted = [s for s in with_messages() if s.report_note and options.source in (None, s.name)]
    if not noted:
        return []
    where, params = fact_filters(options)
    marks = ", ".join("?" for _ in noted)
    present = {row[0] for row in conn.execute(
        f"SELECT DISTINCT f.source FROM aggregate.fact_token_usage f WHERE {where} AND f.source IN ({marks})",
        [*params, *(s.name for s in noted)]).fetchall()}
    return [s.report_note for s in noted if s.name in present]


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


# A call's cost under each --mode, as ccusage's modes: auto, the cost the agent's file records where it records one
# (Cline, pi ...), else the one priced from its tokens (fact_token_usage.cost_usd); calculate, always the priced one;
# display, only the recorded one (0 where the file records none, as every Claude Code and Codex file today).
COST_SQL = {"auto": "f.cost_usd", "calculate": "f.computed_cost_usd", "display": "coalesce(f.recorded_cost_usd, 0)"}


def token_select(mode: str = "auto") -> str:
    """The token and cost sums of a report's rows (alias `f`: fact_token_usage), the cost as `mode` says."""
    cost = COST_SQL[mode]
    return (
        "sum(f.input_tokens) AS input, sum(f.output_tokens) AS output, sum(f.cache_creation_input_tokens) AS cache_creation, "
        "sum(f.cache_read_input_tokens) AS cache_read, sum(f.reasoning_output_tokens) AS reasoning, "
        f"coalesce(sum({cost}), 0) AS cost, bool_or(f.model_is_fallback) AS fallback, "
        f"bool_or({cost} IS NULL) AS unpriced"
    )


TOKEN_SELECT = token_select()


def _rows(conn, sql: str, params: list) -> list[dict]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _grouped(conn, options: ReportOptions, label_sql: str, label_params: list, extra_cols: str = "",
             with_sessions: bool = False) -> list[dict]:
    """Token sums per label and model (and per `extra_cols`, which may read the sessions' tables `s` and `p` of
    WITH_SESSIONS when `with_sessions`)."""
    where, params = fact_filters(options)
    source = WITH_SESSIONS if with_sessions else "aggregate.fact_token_usage f"
    return _rows(
        conn,
        f"SELECT {label_sql} AS label, f.report_model AS model{extra_cols}, {token_select(options.mode)} "
        f"FROM {source} WHERE {where} GROUP BY ALL ORDER BY label, model",
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
    # --instances is a split by project, one list each; --by a split by any BY_SQL dimension, one list in all
    split_sql = BY_SQL["project"] if options.instances else BY_SQL.get(options.by or "")
    split = f", {split_sql} AS split" if split_sql else ""
    if _in_utc(options):
        label_sql, write_label = UTC_PERIODS[options.report]
        rows = _grouped(conn, options, label_sql, [], split, with_sessions=bool(split))
        for row in rows:
            if write_label and row["label"] is not None:
                row["label"] = write_label(row["label"])
    else:
        rows = _grouped(conn, options, label_sql, label_params, split, with_sessions=bool(split))
    if options.last:
        first = first_of_latest(options.report, options.last, options.timezone)
        rows = [row for row in rows if row["label"] is not None and row["label"] >= first]
    codex = _codex_shape(options)
    if split:
        parts = {value: [{**entry, "project" if options.instances else options.by: value}
                         for entry in _entries([row for row in rows if row["split"] == value], codex, label_key)[0]]
                 for value in sorted({row["split"] for row in rows}, key=str)}
        totals = _entries(rows, codex, label_key)[1]
        if options.instances:  # ccusage's --instances: {"projects": {name: [rows, each naming its project]}, "totals"}
            return {"projects": {name: _ordered(entries, label_key, options.order) for name, entries in parts.items()},
                    "totals": totals}
        merged = sorted((entry for entries in parts.values() for entry in entries),  # a row per period and value
                        key=lambda entry: (entry[label_key] or "", str(entry[options.by])), reverse=options.order == "desc")
        return {options.report: merged, "totals": totals}
    entries, totals = _entries(rows, codex, label_key)
    return {options.report: _ordered(entries, label_key, options.order), "totals": totals}


def _ordered(entries: list[dict], key: str, order: str | None) -> list[dict]:
    return sorted(entries, key=lambda entry: (entry[key] is None, entry[key] or ""), reverse=order == "desc")


def first_of_latest(report: str, periods: int, timezone_name: str) -> str:
    """The label of the first of the latest `periods` hours, days, weeks (from Sunday, as the weekly labels) or
    months (--last; 1 is the current one), in `timezone_name`."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        now = datetime.datetime.now(ZoneInfo(timezone_name))
    except (ZoneInfoNotFoundError, ValueError):
        now = datetime.datetime.now(datetime.timezone.utc)
    today = now.date()
    if report == "hourly":
        return (now - datetime.timedelta(hours=periods - 1)).strftime("%Y-%m-%d %H:00")
    if report == "daily":
        return (today - datetime.timedelta(days=periods - 1)).isoformat()
    if report == "weekly":
        sunday = today - datetime.timedelta(days=(today.weekday() + 1) % 7)
        return (sunday - datetime.timedelta(weeks=periods - 1)).isoformat()
    month = today.year * 12 + today.month - 1 - (periods - 1)
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def _session_report(conn, options: ReportOptions) -> dict:
    codex = _codex_shape(options)
    where, params = fact_filters(options)
    details = _rows(
        conn,
        "SELECT f.source || ':' || f.session_id AS label, min(f.event_ts) AS first_ts, max(f.event_ts) AS last_ts, "
        "any_value(s.session_path) AS session_path, any_value(f.project_id) AS project_id, "
        "any_value(f.machine_id) AS machine_id "
        "FROM aggregate.fact_token_usage f LEFT JOIN aggregate.derived_session_usage s USING (source, session_id) "
        f"WHERE {where} GROUP BY ALL",
        params,
    )
    extra = {}
    for d in details:
        session_id = d["label"].split(":", 1)[1]
        info = {"lastActivity": _iso(d["last_ts"])}
        if options.by == "machine":
            info["machine"] = d["machine_id"]
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
    if options.order:  # by last activity, as ccusage orders sessions
        entries.sort(key=lambda e: e.get("lastActivity") or "", reverse=options.order == "desc")
    else:
        entries.sort(key=lambda e: e.get("costUSD", e.get("totalCost", 0)), reverse=True)
    return {"sessions": entries, "totals": totals}


def _projects_report(conn, options: ReportOptions) -> dict:
    """Every project (as --project and --instances name it): its paths, sessions, tokens, cost, last activity."""
    where, params = fact_filters(options)
    rows = _rows(conn, f"""
        SELECT {PROJECT_LABEL_SQL} AS project, list(DISTINCT f.project_id ORDER BY f.project_id) AS paths,
            list(DISTINCT f.source ORDER BY f.source) AS sources, count(DISTINCT f.source || ':' || f.session_id) AS sessions,
            list(DISTINCT f.machine_id ORDER BY f.machine_id) AS machines, {token_select(options.mode)}, max(f.event_ts) AS last_ts
        FROM {WITH_SESSIONS} WHERE {where} GROUP BY ALL ORDER BY last_ts DESC NULLS LAST, project""", params)
    projects = [{"project": r["project"], "paths": r["paths"], "sources": r["sources"], "sessions": r["sessions"],
                 **({"machines": r["machines"]} if options.by == "machine" else {}),
                 **_tokens(r, False), "totalCost": r["cost"], "lastActivity": _iso(r["last_ts"])} for r in rows]
    if options.order == "asc":
        projects.reverse()
    return {"projects": projects}


RECENT_DAYS = 3  # blocks --recent, as ccusage


def _blocks_report(conn, options: ReportOptions) -> dict:
    """The billing blocks of the calls the options select; with --machine, each machine's own blocks (each
    machine's agents have their own 5-hour windows), each naming its machine, in time order."""
    if options.by != "machine":
        return _machine_blocks(conn, options)
    where, params = fact_filters(options)
    machines = [row[0] for row in conn.execute(
        f"SELECT DISTINCT f.machine_id FROM aggregate.fact_token_usage f WHERE {where} ORDER BY 1", params).fetchall()]
    blocks = [{**block, "machine": machine} for machine in machines
              for block in _machine_blocks(conn, replace(options, machine=machine))["blocks"]]
    blocks.sort(key=lambda b: (b["startTime"], b["machine"]), reverse=options.order == "desc")
    return {"blocks": blocks}


def _machine_blocks(conn, options: ReportOptions) -> dict:
    from star_pipeline.aggregate.blocks import CALL_TIME_SQL, HOUR_US, billing_blocks, from_epoch_us, iso

    where, params = fact_filters(options)
    block_us = int(options.session_length * HOUR_US)
    now = datetime.datetime.now(datetime.timezone.utc)
    calls_sql = (f"SELECT {CALL_TIME_SQL}, f.report_model, f.input_tokens, f.output_tokens, f.cache_creation_input_tokens, "
                 f"f.cache_read_input_tokens, {COST_SQL[options.mode]} FROM aggregate.fact_token_usage f WHERE {where} "
                 "AND f.event_ts IS NOT NULL ORDER BY f.event_ts, f.usage_key")
    if options.active and options.token_limit != "max":
        # Only the active block is wanted. None is when the last call is over a block old; else a silence longer
        # than a block always starts a new one, so the blocks from the first call after the latest such silence
        # are those of every call (at 1 GB, reading 84k calls into Python took a quarter of a second).
        start, last = latest_chain_start(conn, where, params, block_us)
        if last is None or now - from_epoch_us(last) >= datetime.timedelta(microseconds=block_us):
            calls = []
        else:
            calls = conn.execute(calls_sql.replace(" ORDER BY ", f" AND {CALL_TIME_SQL} >= ? ORDER BY "),
                                 params + [start]).fetchall()
    else:
        calls = conn.execute(calls_sql, params).fetchall()
    found = billing_blocks(calls, now, block_us)
    limit = token_limit(options.token_limit, found)
    blocks = []
    for b in found:
        total = b["total_tokens"]
        block = {
            "id": b["block_id"], "startTime": iso(b["start_time"]), "endTime": iso(b["end_time"]),
            "actualEndTime": iso(b["actual_end"]) if b["actual_end"] else None,
            "isActive": bool(b["is_active"]), "isGap": b["is_gap"], "entries": b["entries"],
            "tokenCounts": {"inputTokens": b["input_tokens"], "outputTokens": b["output_tokens"],
                            "cacheCreationInputTokens": b["cache_creation_input_tokens"],
                            "cacheReadInputTokens": b["cache_read_input_tokens"]},
            "totalTokens": total, "costUSD": b["cost_usd"] if not b["is_gap"] else 0, "models": b["models"],
            "burnRate": None, "projection": None,
        }
        if b["is_active"]:
            block["burnRate"], block["projection"] = burn_rate_and_projection(b, total, now)
            if limit:
                projected = (block["projection"] or {}).get("totalTokens", total)
                block["tokenLimitStatus"] = {
                    "limit": limit, "projectedUsage": projected, "percentUsed": round(projected / limit * 100, 1),
                    "status": "exceeds" if projected > limit else ("warning" if projected > 0.8 * limit else "ok")}
        blocks.append(block)
    if options.recent:
        since = iso(now - datetime.timedelta(days=RECENT_DAYS))
        blocks = [b for b in blocks if b["startTime"] >= since or b["isActive"]]
    if options.active:
        blocks = [b for b in blocks if b["isActive"]]
    if options.order == "desc":
        blocks.reverse()
    return {"blocks": blocks}


def latest_chain_start(conn, where: str, params: list, block_us: int) -> tuple[int | None, int | None]:
    """The times (epoch microseconds) of the first call after the latest silence longer than `block_us` among the
    calls `where` selects (billing blocks from there on are the same as from the first call) and of the last call."""
    from star_pipeline.aggregate.blocks import CALL_TIME_SQL

    return conn.execute(
        f"SELECT max(ts) FILTER (WHERE previous IS NULL OR ts - previous > ?), max(ts) FROM (SELECT {CALL_TIME_SQL} AS ts, "
        f"lag({CALL_TIME_SQL}) OVER (ORDER BY {CALL_TIME_SQL}) AS previous FROM aggregate.fact_token_usage f "
        f"WHERE {where} AND f.event_ts IS NOT NULL)", [block_us] + params).fetchone()


def burn_rate_and_projection(block: dict, total_tokens: int, now: datetime.datetime) -> tuple[dict | None, dict | None]:
    """ccusage's burn rate (tokens a minute from the block's first to its last call; the indicator's over input
    and output only; cost an hour) and projection (the same rate until the block ends)."""
    minutes = (block["actual_end"] - block["first_call"]).total_seconds() / 60
    if minutes <= 0:
        return None, None
    rate = {"tokensPerMinute": total_tokens / minutes,
            "tokensPerMinuteForIndicator": (block["input_tokens"] + block["output_tokens"]) / minutes,
            "costPerHour": block["cost_usd"] / minutes * 60}
    remaining = max(0.0, (block["end_time"] - now).total_seconds() / 60)
    projection = {"totalTokens": round(total_tokens + rate["tokensPerMinute"] * remaining),
                  "totalCost": round(block["cost_usd"] + rate["costPerHour"] / 60 * remaining, 2),
                  "remainingMinutes": round(remaining)}
    return rate, projection


def token_limit(value: str | None, blocks: list[dict]) -> int | None:
    """--token-limit: a number, or max: the most tokens any finished block (`billing_blocks`) used."""
    if value is None:
        return None
    if value == "max":
        totals = [b["total_tokens"] for b in blocks if not b["is_gap"] and not b["is_active"]]
        return max(totals) if totals else None
    return int(value)


def _iso(ts) -> str | None:
    from star_pipeline.aggregate.blocks import iso

    return iso(ts) if ts is not None else None


def render_table(options: ReportOptions, data: dict) -> str:
    """A readable terminal table of the same data as the JSON: one line per model in the Models column, a totals
    row, per-model rows with --breakdown, fewer columns with --compact, none of cost with --no-cost."""
    cost = not options.no_cost
    if options.report == "blocks":
        machine = ["Machine"] if options.by == "machine" else []
        header = ["Block start", *machine, "Status", "Calls", "Models", "Total tokens", *(["Cost (USD)"] if cost else [])]
        rows = [[b["startTime"][:16].replace("T", " "), *([b["machine"]] if machine else []),
                 "gap" if b["isGap"] else ("ACTIVE" if b["isActive"] else ""),
                 str(b["entries"]), "\n".join(b["models"]), f"{b['totalTokens']:,}",
                 *([f"{b['costUSD']:.2f}"] if cost else [])] for b in data["blocks"]]
        rows.append(["Total", *([""] if machine else []), "", str(sum(b["entries"] for b in data["blocks"])), "",
                     f"{sum(b['totalTokens'] for b in data['blocks']):,}",
                     *([f"{sum(b['costUSD'] for b in data['blocks']):.2f}"] if cost else [])])
        notes = [_active_note(b) for b in data["blocks"] if b["isActive"] and b.get("burnRate")]
        return format_table(header, rows, title=f"{options.session_length:g}-hour blocks (UTC)", left=4 + len(machine)) \
            + "".join(notes)
    if options.report == "projects":
        machines = ["Machines"] if options.by == "machine" else []
        header = ["Project", "Paths", *machines, "Sessions", "Total tokens", *(["Cost (USD)"] if cost else []),
                  "Last activity"]
        rows = [[p["project"], "\n".join(p["paths"]), *(["\n".join(p["machines"])] if machines else []),
                 str(p["sessions"]), f"{p['totalTokens']:,}",
                 *([f"{p['totalCost']:.2f}"] if cost else []), (p["lastActivity"] or "")[:16].replace("T", " ")]
                for p in data["projects"]]
        return format_table(header, rows, title="projects", left=2 + len(machines), totals=False)
    key = {"daily": "date", "weekly": "week", "monthly": "month", "hourly": "hour", "session": "sessionId"}[options.report]
    if options.instances:
        return "".join(_usage_table(options, key, entries, _sum_entries(entries), f"{options.report} usage of {name} "
                                    f"({options.timezone})") + "\n" for name, entries in data["projects"].items())
    entries = data[options.report if options.report != "session" else "sessions"]
    return _usage_table(options, key, entries, data["totals"], f"{options.report} usage ({options.timezone})")


def _usage_table(options: ReportOptions, key: str, entries: list[dict], totals: dict, title: str) -> str:
    cost = not options.no_cost
    label = key.capitalize() if key != "sessionId" else "Session"
    columns = ["inputTokens", "outputTokens"] + ([] if options.compact else ["cacheCreationTokens", "cacheReadTokens", "totalTokens"])
    names = {"inputTokens": "Input", "outputTokens": "Output", "cacheCreationTokens": "Cache create",
             "cacheReadTokens": "Cache read", "totalTokens": "Total tokens"}
    by = [options.by.replace("_", " ").capitalize()] if options.by else []
    header = [label, *by, "Models", *(names[c] for c in columns), *(["Cost (USD)"] if cost else [])]

    def row(first: str, models: str, values: dict, spent, value: str = "") -> list[str]:
        return [first, *([value] if by else []), models, *(f"{values.get(c, 0):,}" for c in columns),
                *([f"{spent:.2f}"] if cost else [])]

    rows = []
    for e in entries:
        models = list(e["models"]) if "models" in e else e.get("modelsUsed", [])
        rows.append(row(e[key], "\n".join(models), e, e.get("costUSD", e.get("totalCost", 0.0)),
                        str(e.get(options.by, "")) if options.by else ""))
        if options.breakdown:
            for model, part in _model_parts(e):
                rows.append(row("", f"  └ {model}", part, part.get("cost", part.get("costUSD", 0.0))))
    rows.append(row("Total", "", totals, totals.get("costUSD", totals.get("totalCost", 0.0))))
    return format_table(header, rows, title=title, left=3 if by else 2)


def _model_parts(entry: dict) -> list[tuple[str, dict]]:
    """(model, its tokens and cost) of one row: Claude's modelBreakdowns or Codex's models."""
    if "modelBreakdowns" in entry:
        return [(b["modelName"], {**b, "totalTokens": b["inputTokens"] + b["outputTokens"] + b["cacheCreationTokens"]
                                  + b["cacheReadTokens"]}) for b in entry["modelBreakdowns"]]
    return list(entry.get("models", {}).items())


def _sum_entries(entries: list[dict]) -> dict:
    fields = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens", "totalTokens", "totalCost", "costUSD")
    return {f: sum(e.get(f, 0) for e in entries) for f in fields if any(f in e for e in entries)}


def _active_note(block: dict) -> str:
    rate, projection = block["burnRate"], block["projection"]
    note = (f"Active block: {rate['tokensPerMinute']:,.0f} tokens/min, ${rate['costPerHour']:.2f}/hour; "
            f"projected {projection['totalTokens']:,} tokens, ${projection['totalCost']:.2f} "
            f"in {projection['remainingMinutes']} more minutes")
    status = block.get("tokenLimitStatus")
    if status:
        note += f"; {status['percentUsed']}% of the {status['limit']:,}-token limit ({status['status']})"
    return note + "\n"


def format_table(header: list[str], rows: list[list[str]], title: str, left: int | set[int],
                 totals: bool = True) -> str:
    """Columns padded to their widest line; the first `left` columns (or those whose indexes `left` holds)
    left-aligned, numbers right-aligned; a cell of several lines (the models) makes its row that many lines high;
    a rule above the last row when it is the totals. (`star-pipeline sql` prints its results with it too.)"""
    cells = [[str(c).split("\n") for c in row] for row in [header, *rows]]
    widths = [max(len(line) for row in cells for line in row[i]) for i in range(len(header))]
    rule = "  ".join("-" * w for w in widths)
    out = [title, rule]
    on_left = (lambda i: i < left) if isinstance(left, int) else (lambda i: i in left)
    for n, row in enumerate(cells):
        for k in range(max(len(c) for c in row)):
            parts = [(c[k] if k < len(c) else "") for c in row]
            out.append("  ".join(p.ljust(w) if on_left(i) else p.rjust(w) for i, (p, w) in enumerate(zip(parts, widths))).rstrip())
        if n == 0 or (totals and n == len(cells) - 2):
            out.append(rule)
    return "\n".join(out) + "\n"
