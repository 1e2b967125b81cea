"""What each dashboard page shows, as plain data (the templates only lay it out; the tests read it).

Cost and token figures come from reports/report.py over the report copy (`report_data`, and its filters and
project names for what the reports have no report of), so a page shows what `star-pipeline report --json`
prints for the same filters. Sessions, tool calls, files and texts come from the history tables of the search
copy, whose every text comes from the masked `search_documents`: no page shows a flagged secret.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace

import duckdb

from star_pipeline.reports.report import (PROJECT_LABEL_SQL, TOKEN_SELECT, WITH_SESSIONS, ReportError, ReportOptions,
                                          check_options, fact_filters, first_of_latest, report_data, resolve_project)
from star_pipeline.search.history import resolve_session
from star_pipeline.search.query import SearchOptions, resume_command, search
from star_pipeline.search.tool_stats import tool_outcomes

STACKS = ("model", "source")
TOP_PROJECTS = 10
SESSIONS_PER_PAGE = 100
TIMELINE_PER_PAGE = 400
PROMPT_CHARS = 160
WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


class PageError(ReportError):
    """A filter or address that names nothing (a bad date, an unknown project or session); the message says
    what to pass. Shown on the page with status 400."""


class NotFoundError(PageError):
    """A session the published history does not hold (status 404)."""


@dataclass(frozen=True)
class Filters:
    """The filters every page keeps in its URL: a date range (inclusive, in `timezone`), a source, a project
    (as `report --project` takes it: its path, last part or Claude Code folder name), a machine (its machine.id,
    as `report --machine NAME`)."""

    since: str | None = None
    until: str | None = None
    source: str | None = None
    project: str | None = None
    timezone: str = "UTC"
    machine: str | None = None

    def options(self, report: str, dated: bool = True, **changes) -> ReportOptions:
        """The report options of these filters (`dated=False`: without the date range, for figures the clock
        defines: this week, the current block)."""
        fields = {"since": self.since if dated else None, "until": self.until if dated else None,
                  "timezone": self.timezone, "source": self.source, "project": self.project, "machine": self.machine}
        return ReportOptions(report, **{**fields, **changes})

    def check(self) -> None:
        """Raise PageError naming the URL's parameter for a date that is not one or a source that does not exist."""
        from star_pipeline.reports.report import parse_date
        from star_pipeline.sources import with_messages

        parse_date(self.since, "since", PageError), parse_date(self.until, "until", PageError)
        names = [s.name for s in with_messages()]
        if self.source is not None and self.source not in names:
            raise PageError(f"source {self.source!r}: not a source; use one of {', '.join(names)}")
        check_options(self.options("daily"))

    def as_query(self) -> dict[str, str]:
        return {name: value for name, value in (("since", self.since), ("until", self.until), ("source", self.source),
                                                ("project", self.project), ("machine", self.machine),
                                                ("tz", self.timezone)) if value}


def machines(reports) -> list[str]:
    """The machines whose calls the report copy holds (the machine filter's choices), busiest first."""
    return [row[0] for row in reports.execute(
        "SELECT machine_id FROM aggregate.fact_token_usage GROUP BY 1 ORDER BY count(*) DESC, 1").fetchall()]


def project_ids(reports, filters: Filters) -> tuple[str, ...] | None:
    """The project paths the project filter names (None: every project)."""
    if not filters.project:
        return None
    try:
        return resolve_project(reports, filters.project)
    except ReportError:
        raise PageError(f"project {filters.project!r}: no such project; the Projects page lists them all (by name; "
                        "a project's path or its last part work too)") from None


def _records(conn, sql: str, params: list) -> list[dict]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _cost(entry: dict) -> float:
    """A report entry's cost: `totalCost` in Claude Code's shape, `costUSD` in Codex's."""
    return entry.get("totalCost", entry.get("costUSD", 0.0))


def one_line(text: str | None, chars: int = PROMPT_CHARS) -> str | None:
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= chars else flat[:chars] + "…"


# -- Overview -------------------------------------------------------------------------------------------------
def overview(reports, filters: Filters, stack: str = "model") -> dict:
    """Headline figures (the range's cost and tokens, this week's and last week's, the current 5-hour block), cost
    and tokens per day stacked by model or source, this week against last week day by day, the top projects."""
    if stack not in STACKS:
        raise PageError(f"stack {stack!r}: use one of {', '.join(STACKS)}")
    ids = project_ids(reports, filters)

    def data(options: ReportOptions) -> dict:
        return report_data(reports, replace(options, project_ids=ids), "the report copy")

    # `report daily --by model|source`: its totals are `report daily`'s (each call is in one row of the split)
    daily = data(filters.options("daily", by=stack))
    split = daily["daily"]
    days = sorted({row["date"] for row in split})
    values = sorted({str(row[stack]) for row in split}, key=lambda v: -sum(_cost(r) for r in split if str(r[stack]) == v))
    cells = {(row["date"], str(row[stack])): row for row in split}
    per_day = {"days": days, "series": [
        {"name": value, "cost": [_cost(cells[(d, value)]) if (d, value) in cells else 0.0 for d in days],
         "tokens": [cells[(d, value)]["totalTokens"] if (d, value) in cells else 0 for d in days]} for value in values]}

    this_week_start = first_of_latest("weekly", 1, filters.timezone)
    last_week_start = first_of_latest("weekly", 2, filters.timezone)
    # `--last 2` (its calls since last week's first day: the same weeks, without grouping every earlier one)
    weeks = data(filters.options("weekly", dated=False, last=2, since=last_week_start.replace("-", "")))["weekly"]
    by_week = {row["week"]: row for row in weeks}
    recent_days = data(filters.options("daily", dated=False, since=last_week_start.replace("-", "")))["daily"]
    week_days = {"this": [0.0] * 7, "last": [0.0] * 7}
    start = datetime.date.fromisoformat(last_week_start)
    for row in recent_days:
        offset = (datetime.date.fromisoformat(row["date"]) - start).days
        if 0 <= offset < 14:
            week_days["last" if offset < 7 else "this"][offset % 7] += _cost(row)

    projects = data(filters.options("projects"))["projects"]
    top = sorted(projects, key=lambda p: (-p["totalCost"], p["project"]))[:TOP_PROJECTS]
    blocks = data(filters.options("blocks", dated=False, active=True))["blocks"]
    return {
        "total": {"cost": _cost(daily["totals"]), "tokens": daily["totals"]["totalTokens"], "days": len(days),
                  "unpriced": daily["totals"].get("unpricedModels", [])},
        "this_week": _week(by_week.get(this_week_start), this_week_start),
        "last_week": _week(by_week.get(last_week_start), last_week_start),
        "week_days": {"labels": list(WEEKDAYS), **week_days},
        "per_day": per_day, "stack": stack,
        "top_projects": [{"project": p["project"], "paths": p["paths"], "sessions": p["sessions"], "cost": p["totalCost"],
                          "tokens": p["totalTokens"], "last_activity": p["lastActivity"]} for p in top],
        "block": blocks[0] if blocks else None,
    }


def budgets_panel(warehouse_path, reports) -> dict:
    """The overview's budgets: each budget's state as the last rebuild published it (storage/budgets_file.py:
    spent against limit, projection, status, as `star-pipeline budgets` has them) and the alerts recorded."""
    from star_pipeline.reports.budgets import recorded_alerts
    from star_pipeline.storage.budgets_file import budgets_file, read_header

    header = read_header(budgets_file(warehouse_path))
    return {"budgets": header["budgets"] if header else [], "published": header is not None,
            "alerts": recorded_alerts(reports, limit=10)}


def _week(entry: dict | None, start: str) -> dict:
    return {"start": start, "cost": _cost(entry) if entry else 0.0, "tokens": entry["totalTokens"] if entry else 0}


# -- Projects -------------------------------------------------------------------------------------------------
def projects(reports, history, filters: Filters) -> dict:
    """Per project (as `report projects` names them): sessions, tokens, cost, its models, its tools (calls and
    failures: those of its sessions with usage in the range), and per git branch the same (a session's branch is
    the one its last line names)."""
    ids = project_ids(reports, filters)
    options = replace(filters.options("projects"), project_ids=ids)
    listed = report_data(reports, options, "the report copy")["projects"]
    where, params = fact_filters(options)
    # one pass over the calls: tokens and cost per project, branch, model and session, summed below
    parts = _records(reports, f"""
        SELECT {PROJECT_LABEL_SQL} AS project, coalesce(p.git_branch, '(no branch)') AS branch, f.report_model AS model,
            f.source, f.session_id, {TOKEN_SELECT}
        FROM {WITH_SESSIONS} WHERE {where} GROUP BY ALL""", params)
    # each session's project and branch, for its tool calls
    session_of = {(r["source"], r["session_id"]): (r["project"], r["branch"]) for r in parts}
    models: dict[tuple[str, str], dict] = {}
    branches: dict[tuple[str, str], dict] = {}
    for part in parts:
        for table, key in ((models, (part["project"], part["model"])), (branches, (part["project"], part["branch"]))):
            row = table.setdefault(key, {"project": part["project"], "model": part["model"], "branch": part["branch"],
                                         "sessions": set(), "models": set(), "input": 0, "output": 0,
                                         "cache_creation": 0, "cache_read": 0, "cost": 0.0, "unpriced": False})
            row["sessions"].add((part["source"], part["session_id"]))
            row["models"].add(part["model"])
            for name in ("input", "output", "cache_creation", "cache_read", "cost"):
                row[name] += part[name]
            row["unpriced"] = row["unpriced"] or part["unpriced"]
    call_where, call_params = _history_filters(filters, ids, "called_at")
    tools: dict[str, dict[str, dict]] = {}  # per project, and per (project, branch)
    for t in _records(history, f"""
            SELECT source, session_id, tool_name AS tool, count(*) AS calls,
                count(*) FILTER (WHERE status = 'failed') AS errors
            FROM tool_calls WHERE {call_where} GROUP BY ALL""", call_params):
        project_branch = session_of.get((t["source"], t["session_id"]))
        if project_branch is None:  # a session without usage in the range
            continue
        for key in (project_branch[0], project_branch):
            counts = tools.setdefault(key, {}).setdefault(t["tool"], {"tool": t["tool"], "calls": 0, "errors": 0})
            counts["calls"] += t["calls"]
            counts["errors"] += t["errors"]
    result = []
    for p in sorted(listed, key=lambda p: (-p["totalCost"], p["project"])):
        name = p["project"]
        tool_counts = tools.get(name, {})
        result.append({
            "project": name, "paths": p["paths"], "sources": p["sources"], "sessions": p["sessions"],
            "tokens": p["totalTokens"], "cost": p["totalCost"], "last_activity": p["lastActivity"],
            "models": [_usage(m, model=m["model"]) for m in sorted(models.values(), key=lambda m: (-m["cost"], m["model"]))
                       if m["project"] == name],
            "branches": [_usage(b, branch=b["branch"], sessions=len(b["sessions"]), models=sorted(b["models"]),
                                tools=_by_calls(tools.get((name, b["branch"]), {})))
                         for b in sorted(branches.values(), key=lambda b: (-b["cost"], b["branch"])) if b["project"] == name],
            "tools": _by_calls(tool_counts),
        })
    return {"projects": result}


def _by_calls(tools: dict[str, dict]) -> list[dict]:
    return sorted(tools.values(), key=lambda t: (-t["calls"], t["tool"]))


def _usage(row: dict, **fields) -> dict:
    return {**fields, "tokens": row["input"] + row["output"] + row["cache_creation"] + row["cache_read"],
            "cost": row["cost"], "unpriced": bool(row["unpriced"])}


def _history_filters(filters: Filters, ids: tuple[str, ...] | None, time_column: str, until_column: str | None = None,
                     table: str = "") -> tuple[str, list]:
    """The filters as a WHERE clause over a history table of the search copy: the source, the project paths, the
    machine (its sessions', from the sessions table), and the dates of `time_column` (a range over
    `time_column`..`until_column` when given: a session overlapping it)."""
    prefix = f"{table}." if table else ""
    where, params = ["TRUE"], []
    if filters.source:
        where.append(f"{prefix}source = ?")
        params.append(filters.source)
    if filters.machine:
        where.append(f"{prefix}source || ':' || {prefix}session_id IN "
                     "(SELECT source || ':' || session_id FROM sessions WHERE machine = ?)")
        params.append(filters.machine)
    if ids is not None:
        where.append(f"{prefix}project IN (SELECT unnest(CAST(? AS VARCHAR[])))")
        params.append(list(ids))
    if filters.since:
        where.append(f"CAST(timezone(?, {prefix}{until_column or time_column}) AS DATE) >= CAST(? AS DATE)")
        params += [filters.timezone, _day(filters.since, "since")]
    if filters.until:
        where.append(f"CAST(timezone(?, {prefix}{time_column}) AS DATE) <= CAST(? AS DATE)")
        params += [filters.timezone, _day(filters.until, "until")]
    return " AND ".join(where), params


def _day(value: str, flag: str) -> str:
    from star_pipeline.reports.report import parse_date

    return parse_date(value, flag, PageError)


# -- Sessions -------------------------------------------------------------------------------------------------
# The sessions list's sort keys (what the URL may say) and the SQL each means: never the URL's text itself.
SESSION_SORTS = {
    "start": "first_activity", "project": "project", "prompt": "first_prompt", "model": "models[1]",
    "cost": "coalesce(cost_usd, 0)", "tool_calls": "tool_calls", "errors": "tool_errors", "last": "last_activity",
}


def sessions(history, filters: Filters, ids: tuple[str, ...] | None, sort: str = "start", order: str = "desc",
             page: int = 1) -> dict:
    """A page of sessions that overlap the date range, sorted by `sort`, with their totals."""
    if sort not in SESSION_SORTS:
        raise PageError(f"sort {sort!r}: use one of {', '.join(SESSION_SORTS)}")
    if order not in ("asc", "desc"):
        raise PageError(f"order {order!r}: use asc or desc")
    if page < 1:
        raise PageError(f"page {page}: use 1 or more")
    where, params = _history_filters(filters, ids, "first_activity", "last_activity")
    count, cost, tool_calls, errors = history.execute(
        f"SELECT count(*), coalesce(sum(cost_usd), 0), coalesce(sum(tool_calls), 0), coalesce(sum(tool_errors), 0) "
        f"FROM sessions WHERE {where}", params).fetchone()
    rows = _records(history, f"""
        SELECT source, session_id, project, machine, git_branch, first_activity, last_activity, first_prompt, models,
            cost_usd, total_tokens, api_calls, messages, tool_calls, tool_errors
        FROM sessions WHERE {where}
        ORDER BY {SESSION_SORTS[sort]} {order.upper()} NULLS LAST, first_activity DESC NULLS LAST, session_id
        LIMIT ? OFFSET ?""", params + [SESSIONS_PER_PAGE, (page - 1) * SESSIONS_PER_PAGE])
    for row in rows:
        row["first_prompt"] = one_line(row["first_prompt"])
    pages = max(1, -(-count // SESSIONS_PER_PAGE))
    around = sorted({1, pages, *range(max(1, page - 3), min(pages, page + 3) + 1)})  # the page links shown
    return {"sessions": rows, "count": count, "cost": cost, "tool_calls": tool_calls, "tool_errors": errors,
            "page": page, "pages": pages, "page_links": around, "sort": sort, "order": order}


def session_detail(history, source: str, session_id: str, page: int = 1) -> dict:
    """One session: its figures, the command that resumes it, the sessions it continues or that continue it, its
    compactions, and its timeline (messages, tool calls, API calls in time order, a page of the main agent's
    entries at a time), each subagent's entries nested under the call that started it."""
    if page < 1:
        raise PageError(f"page {page}: use 1 or more")
    rows = _records(history, """
        SELECT source, session_id, project, machine, git_branch, first_activity, last_activity, messages, api_calls,
            total_tokens, cost_usd, models, tool_calls, tool_errors, first_prompt
        FROM sessions WHERE source = ? AND session_id = ?""", [source, session_id])
    if not rows:
        try:
            found = resolve_session(history, session_id)
        except ValueError:
            found = None
        hint = f"; did you mean {found[0]}/{found[1]}?" if found and found != (source, session_id) else ""
        raise NotFoundError(f"no {source} session {session_id!r} in the published history{hint}")
    session = rows[0]
    session["first_prompt"] = one_line(session["first_prompt"], 400)
    session["resume"] = resume_command(source, session_id)
    key = [source, session_id]
    links = _records(history, """
        SELECT link_type, session_id, other_session_id, happened_at FROM session_links
        WHERE source = ? AND (session_id = ? OR other_session_id = ?) ORDER BY happened_at NULLS LAST, link_type""",
        [source, session_id, session_id])
    continues = sorted({link["other_session_id"] for link in links
                        if link["link_type"] != "compaction" and link["session_id"] == session_id})
    continued_by = sorted({link["session_id"] for link in links
                           if link["link_type"] != "compaction" and link["other_session_id"] == session_id})
    compactions = [link["happened_at"] for link in links if link["link_type"] == "compaction"]

    entries = _records(history, """
        SELECT * FROM (
            SELECT event_ts AS ts, 'message' AS entry, agent_id, role, prose AS text, NULL AS call_id, NULL AS tool,
                NULL AS status, NULL::BIGINT AS duration_ms, NULL AS target_path, NULL AS subagent_type, NULL AS error,
                NULL AS model, NULL::BIGINT AS input_tokens, NULL::BIGINT AS output_tokens, NULL::BIGINT AS cache_read_tokens,
                NULL::BIGINT AS cache_creation_tokens, NULL::BIGINT AS total_tokens, NULL::DOUBLE AS cost_usd, doc_id AS n,
                NULL::INTEGER AS exit_code
            FROM documents WHERE source = ? AND session_id = ? AND prose IS NOT NULL
            UNION ALL
            SELECT called_at, 'tool_call', agent_id, NULL, input_head, call_id, tool_name, status, duration_ms,
                target_path, subagent_type, error_head, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, exit_code
            FROM tool_calls WHERE source = ? AND session_id = ?
            UNION ALL
            SELECT event_ts, 'api_call', agent_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, model,
                input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens, total_tokens,
                cost_usd, NULL, NULL
            FROM api_calls WHERE source = ? AND session_id = ?)
        ORDER BY ts NULLS LAST, entry DESC, n, call_id""", key * 3)
    for entry in entries:  # a message keeps its lines (the copy keeps its first 1,000 characters); a call's input one
        if entry["entry"] != "message":
            entry["text"] = one_line(entry["text"], 300)
        entry["error"] = one_line(entry["error"], 500)
    try:
        named = {row["agent_id"]: row for row in _records(history, """
            SELECT agent_id, agent_type, spawned_by_call_id FROM subagents WHERE source = ? AND session_id = ?""", key)}
    except duckdb.CatalogException:  # a copy published before it had the table: times alone place subagents
        named = {}
    subagents = _subagents(entries, named)
    main = [e for e in entries if e["agent_id"] is None or e["agent_id"] not in subagents]
    # a subagent with no call found that started it is shown where it started, as an entry of its own; so is each
    # compaction (sorted in by time: a stable sort keeps the entries' own order)
    main += [{"ts": agent["first_ts"], "entry": "subagent", "agent_id": agent["agent_id"]}
             for agent in subagents.values() if agent["parent_call_id"] is None]
    main += [{"ts": at, "entry": "compaction"} for at in compactions if at is not None]
    main.sort(key=lambda e: (e["ts"] is None, e["ts"] or datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)))
    pages = max(1, -(-len(main) // TIMELINE_PER_PAGE))
    shown = main[(page - 1) * TIMELINE_PER_PAGE: page * TIMELINE_PER_PAGE]
    children = {agent["parent_call_id"]: agent for agent in subagents.values() if agent["parent_call_id"]}
    for entry in shown:
        if entry["entry"] == "tool_call" and entry["call_id"] in children:
            entry["subagent"] = children[entry["call_id"]]
        elif entry["entry"] == "subagent":
            entry["subagent"] = subagents[entry["agent_id"]]
    return {"session": session, "continues": continues, "continued_by": continued_by, "compactions": compactions,
            "timeline": shown, "entries": len(entries), "subagents": list(subagents.values()), "page": page,
            "pages": pages}


def _subagents(entries: list[dict], named: dict[str, dict] | None = None) -> dict[str, dict]:
    """The session's subagents (entries with an agent id), each with its entries, figures and the call that started
    it: the call whose result names it (`named`: the copy's subagents table, from Claude Code's Task and Agent
    results), else the call whose id is the agent's (Kimi names a subagent by its call), else the latest call of
    the main agent that started before the subagent's first entry and ended after its last (a Task or Agent call
    waits for it), preferring calls that name a subagent type. Parallel subagents need the first: their calls'
    times overlap."""
    named = named or {}
    agents: dict[str, dict] = {}
    for entry in entries:
        if entry["agent_id"] is None:
            continue
        agent = agents.setdefault(entry["agent_id"], {"agent_id": entry["agent_id"], "entries": [], "first_ts": None,
                                                       "last_ts": None, "tool_calls": 0, "errors": 0, "api_calls": 0,
                                                       "cost_usd": 0.0, "tokens": 0, "parent_call_id": None,
                                                       "compaction": entry["agent_id"].startswith("acompact")})
        agent["entries"].append(entry)
        if entry["ts"] is not None:
            agent["first_ts"] = min(agent["first_ts"] or entry["ts"], entry["ts"])
            agent["last_ts"] = max(agent["last_ts"] or entry["ts"], entry["ts"])
        if entry["entry"] == "tool_call":
            agent["tool_calls"] += 1
            agent["errors"] += entry["status"] == "failed"
        elif entry["entry"] == "api_call":
            agent["api_calls"] += 1
            agent["cost_usd"] += entry["cost_usd"] or 0.0
            agent["tokens"] += entry["total_tokens"] or 0
    calls = [e for e in entries if e["entry"] == "tool_call" and e["agent_id"] is None and e["ts"] is not None]
    taken: set[str] = set()
    # a call whose result names a subagent is that subagent's, never a guess for another
    named_calls = {row["spawned_by_call_id"] for row in named.values() if row.get("spawned_by_call_id")}
    unnamed_calls = [c for c in calls if c["call_id"] not in named_calls]
    for agent in sorted(agents.values(), key=lambda a: (a["first_ts"] is None, a["first_ts"] or 0)):
        spawned_by = (named.get(agent["agent_id"]) or {}).get("spawned_by_call_id")
        by_id = next((c for c in calls if c["call_id"] in (spawned_by, agent["agent_id"])), None)
        if by_id is None and agent["first_ts"] is not None and not agent["compaction"]:
            spans = [c for c in unnamed_calls if c["call_id"] not in taken and c["ts"] <= agent["first_ts"]
                     and (c["duration_ms"] is None
                          or c["ts"] + datetime.timedelta(milliseconds=c["duration_ms"]) >= agent["last_ts"])]
            spans.sort(key=lambda c: (c["subagent_type"] is not None, c["ts"]))
            by_id = spans[-1] if spans else None
        if by_id is not None:
            agent["parent_call_id"] = by_id["call_id"]
            agent["subagent_type"] = (named.get(agent["agent_id"]) or {}).get("agent_type") or by_id["subagent_type"]
            taken.add(by_id["call_id"])
    return agents


# -- Tools and files ------------------------------------------------------------------------------------------
EXAMPLES = 3
TOP_FILES = 25


def tools_and_files(history, filters: Filters, ids: tuple[str, ...] | None) -> dict:
    """Calls by outcome per agent and tool, and per agent, tool and project with the latest failures (masked)
    (search/tool_stats.py, as the MCP tool_failures tool and `report tools` read them), and the files read and
    edited most."""
    where, params = _history_filters(filters, ids, "called_at")
    by_tool = tool_outcomes(history, where, params, examples=0)
    by_project = tool_outcomes(history, where, params, by_project=True, only_failing=True, examples=EXAMPLES, limit=50)
    for row in by_project:
        row["examples"] = [{**e, "source": row["source"], "error": one_line(e["error"], 300)} for e in row.pop("latest_errors")]
    file_where, file_params = _history_filters(filters, ids, "first_touched", "last_touched")
    files = {}
    for kind in ("edits", "reads"):
        files[kind] = _records(history, f"""
            SELECT target_path AS path, sum(edits) AS edits, sum(reads) AS reads,
                count(DISTINCT source || ':' || session_id) AS sessions, max(last_touched) AS last_touched
            FROM file_activity WHERE {file_where} GROUP BY target_path HAVING sum({kind}) > 0
            ORDER BY sum({kind}) DESC, last_touched DESC, path LIMIT ?""", file_params + [TOP_FILES])
    return {"by_tool": by_tool, "by_project": by_project, "most_edited": files["edits"], "most_read": files["reads"]}


def file_sessions(history, path: str, filters: Filters, ids: tuple[str, ...] | None) -> dict:
    """The sessions that read or edited one file (its whole path), newest first, and the latest calls on it."""
    if not path.strip():
        raise PageError("path is empty: give a file's whole path (the Tools and files page links each one)")
    where, params = _history_filters(filters, ids, "first_touched", "last_touched", table="f")
    sessions_ = _records(history, f"""
        SELECT f.source, f.session_id, f.project, f.reads, f.edits, f.first_touched, f.last_touched, s.first_prompt,
            s.cost_usd
        FROM file_activity f LEFT JOIN sessions s USING (source, session_id)
        WHERE f.target_path = ? AND {where} ORDER BY f.last_touched DESC NULLS LAST, f.session_id LIMIT 200""",
        [path] + params)
    for row in sessions_:
        row["first_prompt"] = one_line(row["first_prompt"])
    call_where, call_params = _history_filters(filters, ids, "called_at")
    calls = _records(history, f"""
        SELECT source, session_id, called_at, tool_name AS tool, status, duration_ms, error_head AS error
        FROM tool_calls WHERE target_path = ? AND {call_where} ORDER BY called_at DESC NULLS LAST LIMIT 50""",
        [path] + call_params)
    for call in calls:
        call["error"] = one_line(call["error"], 300)
    return {"path": path, "sessions": sessions_, "calls": calls}


# -- Search ---------------------------------------------------------------------------------------------------
def search_hits(history, query: str, mode: str, filters: Filters, ids: tuple[str, ...] | None, limit: int = 20) -> list[dict]:
    """`star-pipeline search`'s hits (one per session, masked snippets) for the query and filters."""
    from star_pipeline.search.query import MODES

    if mode not in MODES:
        raise PageError(f"mode {mode!r}: use one of {', '.join(MODES)}")
    project = ids[0] if ids and len(ids) == 1 else filters.project
    return search(history, SearchOptions(query, limit=limit, mode=mode, project=project, source=filters.source,
                                         since=filters.since, until=filters.until, machine=filters.machine))
