"""published_briefs: one short text per project (<warehouse>.briefs/, storage/brief_files.py) that
`star-pipeline brief` prints at a Claude Code session start: the project's last sessions (when, first
prompt, outcome, cost), the files edited most lately, the tools that failed most and how, and the
recent sessions that ended on a failed or unanswered tool call.

Read from the published search copy, whose texts are masked, so a brief never holds a secret; written
whole after every rebuild (a file per project, renamed into place; files of projects gone are removed).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import duckdb
from dagster import MaterializeResult, MetadataValue, asset

from star_pipeline.aggregate.sql_assets import GROUP, key
from star_pipeline.sources import SOURCES, by_name
from star_pipeline.storage.brief_files import BRIEF_SUFFIX, brief_file, briefs_dir
from star_pipeline.storage.published_copies import publish_text, search_copy_path
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource

RECENT_SESSIONS = 5
TOP = 5
LATELY_DAYS = 14  # "lately": before the project's last activity, not before today (an idle project still has a brief)
PROMPT_CHARS = 100
ERROR_CHARS = 120
SOURCE_NAMES = {source.name for source in SOURCES}


def _rows(conn, sql: str) -> dict[str, list[tuple]]:
    by_project: dict[str, list[tuple]] = {}
    for project, *rest in conn.execute(sql).fetchall():
        by_project.setdefault(project, []).append(tuple(rest))
    return by_project


def _line(text: str | None, chars: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= chars else flat[: chars - 1] + "…"


def _outcome(tool_calls: int, tool_errors: int, last_status: str | None) -> str:
    if last_status == "failed":
        return "ended on a failed tool call"
    if last_status == "pending":
        return "ended waiting on a tool call"
    return f"{tool_calls} tool calls, {tool_errors} failed" if tool_calls else "no tool calls"


def brief_texts(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Project id -> its brief, from an open search copy."""
    sessions = _rows(conn, f"""
        SELECT project, source, session_id, last_activity, first_prompt, cost_usd, tool_calls, tool_errors, last_call_status
        FROM sessions WHERE project <> '(unknown)' AND (first_prompt IS NOT NULL OR tool_calls > 0 OR api_calls > 0)
        QUALIFY row_number() OVER (PARTITION BY project ORDER BY last_activity DESC NULLS LAST, session_id) <= {RECENT_SESSIONS}
        ORDER BY project, last_activity DESC NULLS LAST, session_id""")
    files = _rows(conn, f"""
        WITH last AS (SELECT project, max(last_activity) AS last_activity FROM sessions GROUP BY project)
        SELECT f.project, f.target_path, sum(f.edits) AS total_edits FROM file_activity f JOIN last l USING (project)
        WHERE f.edits > 0 AND f.last_touched >= l.last_activity - INTERVAL {LATELY_DAYS} DAY
        GROUP BY f.project, f.target_path QUALIFY row_number() OVER (PARTITION BY f.project ORDER BY total_edits DESC, f.target_path) <= {TOP}
        ORDER BY f.project, total_edits DESC, f.target_path""")
    failures = _rows(conn, f"""
        WITH last AS (SELECT project, max(last_activity) AS last_activity FROM sessions GROUP BY project)
        SELECT t.project, t.tool_name, count(*) FILTER (WHERE t.status = 'failed') AS errors, count(*) AS calls,
               arg_max(t.error_head, t.called_at) FILTER (WHERE t.status = 'failed' AND t.error_head IS NOT NULL) AS example
        FROM tool_calls t JOIN last l USING (project)
        WHERE t.called_at >= l.last_activity - INTERVAL {LATELY_DAYS} DAY
        GROUP BY t.project, t.tool_name HAVING errors > 0
        QUALIFY row_number() OVER (PARTITION BY t.project ORDER BY errors DESC, t.tool_name) <= 3
        ORDER BY t.project, errors DESC, t.tool_name""")
    briefs = {}
    for project, recent in sessions.items():
        lines = [f"Recent work in {project} (star-pipeline, from the local history):", "Last sessions:"]
        unfinished = []
        for source, session_id, last_activity, prompt, cost, calls, errors, last_status in recent:
            when = last_activity.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if last_activity else "?"
            cost_text = f"${cost:.2f}" if cost is not None else "cost unknown"
            said = f'"{_line(prompt, PROMPT_CHARS)}"' if prompt else "(no prompt text)"
            lines.append(f"- {when} {source} {session_id[:8]}: {said}; {_outcome(calls, errors, last_status)}; {cost_text}")
            if last_status in ("failed", "pending"):
                resume = by_name(source).resume(session_id) if source in SOURCE_NAMES else None
                unfinished.append(f"- {said} {_outcome(calls, errors, last_status)}: {resume or session_id + ' (' + source + ')'}")
        if files.get(project):
            lines.append("Files edited most lately: " + ", ".join(f"{path} ({edits})" for path, edits in files[project]))
        if failures.get(project):
            lines.append("Tools that failed most lately:")
            for tool, errors, calls, example in failures[project]:
                lines.append(f"- {tool}: {errors} of {calls} calls failed" + (f', e.g. "{_line(example, ERROR_CHARS)}"' if example else ""))
        if unfinished:
            lines.append("Possibly unfinished:")
            lines.extend(unfinished)
        briefs[project] = "\n".join(lines) + "\n"
    return briefs


def write_briefs(folder: Path, briefs: dict[str, str]) -> int:
    """Write each project's brief (owner-only, renamed into place) and remove the briefs of projects gone."""
    old_umask = os.umask(0o077)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
        wanted = set()
        for project, text in briefs.items():
            target = brief_file(folder, project)
            wanted.add(target.name)
            publish_text(target, text)
        for stale in folder.iterdir():
            if stale.name not in wanted and (stale.suffix == BRIEF_SUFFIX or stale.name.endswith(".tmp")):
                stale.unlink()
    finally:
        os.umask(old_umask)
    return len(wanted)


@asset(key=key("published_briefs"), group_name=GROUP, deps=[key("published_search_copy")], pool=WAREHOUSE_POOL,
       kinds={"python"}, description="One short text per project (<warehouse>.briefs/) that `star-pipeline brief` prints "
       "at a session start (install-hooks --brief): last sessions, files edited lately, failing tools, unfinished "
       "work. Masked texts only.")
def published_briefs(warehouse: WarehouseResource) -> MaterializeResult:
    anchor = warehouse.publishing_anchor()
    copy = search_copy_path(anchor)
    conn = duckdb.connect(str(copy), read_only=True, config={"temp_directory": ""})
    try:
        conn.execute("SET TimeZone = 'UTC'")
        briefs = brief_texts(conn)
    finally:
        conn.close()
    folder = briefs_dir(anchor)
    written = write_briefs(folder, briefs)
    return MaterializeResult(metadata={"path": MetadataValue.path(str(folder)), "rows_written": written,
                                       "published_at": datetime.now(timezone.utc).isoformat()})
