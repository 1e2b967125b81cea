"""What the MCP server answers besides search: one session's timeline, failing tools, a file's history and a
project's summary, read from the history tables of the search copy (aggregate/search_copy.py).

Every text here (prompts, call inputs, errors) comes from search_documents and is masked the way search
hits are; every answer is bounded: lists by `limit` (at most MAX_LIMIT), texts by the heads the copy keeps.
"""

from __future__ import annotations

import datetime

from star_pipeline.search.query import SearchError, parse_date, resume_command
from star_pipeline.search.tool_stats import tool_outcomes

MAX_LIMIT = 200
TEXT_CHARS = 300


class HistoryError(SearchError):
    """A session, project or file the history does not know, or a bad argument; the message says what to do."""


def _iso(value) -> str | None:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    return value


def _line(text: str | None, chars: int = TEXT_CHARS) -> str | None:
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= chars else flat[:chars] + "…"


def _records(conn, sql: str, params: list) -> list[dict]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [{name: _iso(value) for name, value in zip(names, row)} for row in cursor.fetchall()]


def _limit(value: int, name: str = "limit") -> int:
    if not 1 <= value <= MAX_LIMIT:
        raise HistoryError(f"{name} {value}: use 1 to {MAX_LIMIT}")
    return value


def resolve_project(conn, project: str) -> str:
    """The project id `project` names: its path, or its last part(s) when only one project ends so."""
    wanted = project.rstrip("/") or "/"
    rows = [r[0] for r in conn.execute(
        "SELECT DISTINCT project FROM sessions WHERE project = ? OR ends_with(project, '/' || ?) ORDER BY project",
        [wanted, wanted]).fetchall()]
    if wanted in rows:
        return wanted
    if len(rows) == 1:
        return rows[0]
    if rows:
        raise HistoryError(f"project {project!r} is ambiguous: {', '.join(rows[:10])}; give the whole path")
    known = [r[0] for r in conn.execute(
        "SELECT project FROM sessions GROUP BY project ORDER BY max(last_activity) DESC NULLS LAST LIMIT 10").fetchall()]
    raise HistoryError(f"no project {project!r} in the history; recent projects: {', '.join(known) or 'none'}")


def resolve_session(conn, session_id: str) -> tuple[str, str]:
    """(source, session_id) of a whole session id, or of a prefix only one session starts with."""
    rows = conn.execute(
        "SELECT source, session_id FROM sessions WHERE session_id = ? OR starts_with(session_id, ?) "
        "ORDER BY session_id = ? DESC, session_id LIMIT 11", [session_id, session_id, session_id]).fetchall()
    if rows and rows[0][1] == session_id:
        return rows[0]
    if len(rows) == 1 and len(session_id) >= 6:
        return rows[0]
    if rows and len(session_id) >= 6:
        raise HistoryError(f"session {session_id!r} is ambiguous: it starts {len(rows)} sessions; give more of the id")
    raise HistoryError(f"no session {session_id!r} in the history; search_history finds session ids")


def session_timeline(conn, session_id: str, limit: int = 100, offset: int = 0) -> dict:
    """A session's messages, tool calls and API calls in time order, a page at a time, with its subagents."""
    _limit(limit)
    if offset < 0:
        raise HistoryError(f"offset {offset}: use 0 or more")
    source, session_id = resolve_session(conn, session_id)
    key = [source, session_id]
    session = _records(conn, """
        SELECT source, session_id, project, git_branch, first_activity, last_activity, messages, api_calls,
               total_tokens, round(cost_usd, 6) AS cost_usd, models, tool_calls, tool_errors, first_prompt
        FROM sessions WHERE source = ? AND session_id = ?""", key)[0]
    session["resume"] = resume_command(source, session_id)
    entries_sql = """(
            SELECT event_ts AS ts, 'message' AS entry, agent_id, role, prose AS text,
                   NULL AS tool, NULL AS status, NULL::BIGINT AS duration_ms, NULL AS target_path, NULL AS subagent_type,
                   NULL AS error, NULL AS model, NULL::BIGINT AS total_tokens, NULL::DOUBLE AS cost_usd,
                   NULL::INTEGER AS exit_code
            FROM documents WHERE source = ? AND session_id = ? AND prose IS NOT NULL
            UNION ALL
            SELECT called_at, 'tool_call', agent_id, NULL, input_head, tool_name, status, duration_ms, target_path,
                   subagent_type, error_head, NULL, NULL, NULL, exit_code
            FROM tool_calls WHERE source = ? AND session_id = ?
            UNION ALL
            SELECT event_ts, 'api_call', agent_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, model, total_tokens,
                   round(cost_usd, 6), NULL
            FROM api_calls WHERE source = ? AND session_id = ?
        )"""
    total = conn.execute(f"SELECT count(*) FROM {entries_sql}", key * 3).fetchone()[0]
    entries = []
    for row in _records(conn, f"SELECT * FROM {entries_sql} ORDER BY ts NULLS LAST, entry DESC LIMIT ? OFFSET ?",
                        key * 3 + [limit, offset]):
        row["text"] = _line(row["text"])
        row["error"] = _line(row["error"])
        entries.append({name: value for name, value in row.items() if value is not None})
    subagents = _records(conn, """
        SELECT agent_id, min(ts) AS first_ts, max(ts) AS last_ts, count(*) FILTER (WHERE entry = 'tool_call') AS tool_calls,
               count(*) FILTER (WHERE entry = 'api_call') AS api_calls, round(sum(cost_usd), 6) AS cost_usd
        FROM (SELECT agent_id, called_at AS ts, 'tool_call' AS entry, NULL::DOUBLE AS cost_usd FROM tool_calls
              WHERE source = ? AND session_id = ? AND agent_id IS NOT NULL
              UNION ALL
              SELECT agent_id, event_ts, 'api_call', cost_usd FROM api_calls
              WHERE source = ? AND session_id = ? AND agent_id IS NOT NULL)
        GROUP BY agent_id ORDER BY first_ts LIMIT ?""", key * 2 + [MAX_LIMIT])
    return {"session": session, "subagents": subagents, "entries": entries, "total_entries": total,
            "next_offset": offset + limit if offset + limit < total else None}


def tool_failures(conn, project: str | None = None, source: str | None = None, since: str | None = None,
                  limit: int = 10, examples: int = 3) -> dict:
    """The tools whose calls did not succeed most (per agent, tool and project): calls by outcome (ok, failed,
    rejected, interrupted, unknown, pending; search/tool_stats.py), the failure rate over the calls whose outcome is
    known, the duration's median and 90th percentile, and the latest failures with their masked text."""
    _limit(limit)
    if not 0 <= examples <= 10:
        raise HistoryError(f"examples {examples}: use 0 to 10")
    where, params = ["TRUE"], []
    if project:
        where.append("project = ?")
        params.append(resolve_project(conn, project))
    if source:
        where.append("source = ?")
        params.append(source)
    day = parse_date(since, "since")
    if day:
        where.append("CAST(called_at AT TIME ZONE 'UTC' AS DATE) >= CAST(? AS DATE)")
        params.append(day)
    tools = tool_outcomes(conn, " AND ".join(where), params, by_project=True, only_failing=True, examples=examples,
                          limit=limit)
    for tool in tools:
        tool["failure_rate"] = None if tool["failure_rate"] is None else round(tool["failure_rate"], 4)
        tool["examples"] = [{"session_id": e["session_id"], "at": _iso(e["at"]), "status": e["status"],
                             "exit_code": e["exit_code"], "reason": e["reason"], "target": e["target"],
                             "error": _line(e["error"])} for e in tool.pop("latest_errors")]
    return {"tools": tools}


def file_history(conn, path: str, project: str | None = None, limit: int = 20) -> dict:
    """The sessions that read or edited a file (a whole path or its last parts), and their latest calls on it."""
    _limit(limit)
    wanted = path.strip()
    if not wanted:
        raise HistoryError("path is empty: give a file path, e.g. src/app.py")
    tail = wanted.lstrip("./")
    where, params = ["(target_path = ? OR ends_with(target_path, '/' || ?))"], [wanted, tail]
    if project:
        where.append("project = ?")
        params.append(resolve_project(conn, project))
    match = " AND ".join(where)
    sessions = _records(conn, f"""
        SELECT f.source, f.session_id, f.project, f.target_path, f.reads, f.edits, f.first_touched, f.last_touched,
               s.first_prompt
        FROM file_activity f LEFT JOIN sessions s USING (source, session_id)
        WHERE {match.replace('project', 'f.project')} ORDER BY f.last_touched DESC NULLS LAST LIMIT ?""",
        params + [limit])
    for session in sessions:
        session["first_prompt"] = _line(session["first_prompt"], 160)
        session["resume"] = resume_command(session["source"], session["session_id"])
    calls = _records(conn, f"""
        SELECT source, session_id, called_at, tool_name AS tool, status, duration_ms, target_path, error_head AS error
        FROM tool_calls WHERE {match} ORDER BY called_at DESC NULLS LAST LIMIT ?""", params + [limit])
    for call in calls:
        call["error"] = _line(call["error"])
    paths = sorted({s["target_path"] for s in sessions} | {c["target_path"] for c in calls})
    return {"paths": paths[:20], "sessions": sessions, "calls": calls}


def project_summary(conn, project: str | None = None, limit: int = 10) -> dict:
    """Every project's totals (no project given), or one project's: cost, sessions, models, branches, tools,
    files and its latest sessions."""
    _limit(limit)
    if not project:
        return {"projects": _records(conn, """
            SELECT project, count(*) AS sessions, list_sort(list_distinct(list(source))) AS sources,
                   round(sum(cost_usd), 4) AS cost_usd, sum(total_tokens) AS total_tokens,
                   min(first_activity) AS first_activity, max(last_activity) AS last_activity
            FROM sessions GROUP BY project ORDER BY last_activity DESC NULLS LAST LIMIT ?""", [limit])}
    project = resolve_project(conn, project)
    summary = _records(conn, """
        SELECT project, count(*) AS sessions, list_sort(list_distinct(list(source))) AS sources,
               round(sum(cost_usd), 4) AS cost_usd, sum(total_tokens) AS total_tokens, sum(tool_calls) AS tool_calls,
               sum(tool_errors) AS tool_errors, min(first_activity) AS first_activity, max(last_activity) AS last_activity,
               list_sort(list_distinct(flatten(list(models)))) AS models,
               list_sort(list_distinct(list(git_branch) FILTER (WHERE git_branch IS NOT NULL))) AS branches
        FROM sessions WHERE project = ? GROUP BY project""", [project])[0]
    summary["branches"] = summary["branches"][:limit]
    summary["top_tools"] = _records(conn, """
        SELECT tool_name AS tool, count(*) AS calls, count(*) FILTER (WHERE status = 'failed') AS failed,
               count(*) FILTER (WHERE status = 'unknown') AS unknown
        FROM tool_calls WHERE project = ? GROUP BY tool_name ORDER BY calls DESC, tool LIMIT ?""", [project, limit])
    summary["most_edited_files"] = _records(conn, """
        SELECT target_path, sum(edits) AS edits, sum(reads) AS reads, max(last_touched) AS last_touched
        FROM file_activity WHERE project = ? GROUP BY target_path HAVING sum(edits) > 0
        ORDER BY edits DESC, last_touched DESC LIMIT ?""", [project, limit])
    recent = _records(conn, """
        SELECT source, session_id, first_activity, last_activity, round(cost_usd, 4) AS cost_usd, tool_calls, tool_errors,
               last_call_status, first_prompt
        FROM sessions WHERE project = ? ORDER BY last_activity DESC NULLS LAST LIMIT ?""", [project, limit])
    for session in recent:
        session["first_prompt"] = _line(session["first_prompt"], 160)
        session["resume"] = resume_command(session["source"], session["session_id"])
    summary["recent_sessions"] = recent
    return summary
