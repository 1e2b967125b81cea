"""`star-pipeline mcp`: a Model Context Protocol server over stdio (the official `mcp` SDK) through which an
agent reads its own history: search, usage and cost, session timelines, failing tools, a file's history,
a project's summary.

Read-only by construction: every call opens the published copies (<anchor>.search.duckdb for history,
<anchor>.reports.duckdb for usage; the anchor is config's Settings.published_anchor: on a team's lake, the writer's
copies in warehouse.published_path) read-only and closes them, so the server never takes or waits for
the warehouse's writer lock and each call sees the copy the last rebuild published. Texts are masked
before they reach the copy (secrets read [secret:<kind>]); every answer is bounded (MAX_ANSWER_CHARS). On a lake
every answer also says who published the copy it read and how long ago (`published`).
Nothing is logged to stdout, which carries the protocol.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

import duckdb
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from star_pipeline.reports.reader import READER_CONFIG
from star_pipeline.reports.report import ReportError, ReportOptions, check_options, report_data
from star_pipeline.search import history
from star_pipeline.search.query import SearchError, SearchOptions, open_search_copy, search
from star_pipeline.storage.published_copies import Publication, publication_note, published_copy_path

MAX_ANSWER_CHARS = 60_000
READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)

Limit = Annotated[int, Field(ge=1, le=history.MAX_LIMIT, description="most rows to return")]
Day = Annotated[str | None, Field(description="a UTC date, YYYYMMDD or YYYY-MM-DD (inclusive)")]
Project = Annotated[str | None, Field(description="project path, or its last part (e.g. 'my-repo')")]
Machine = Annotated[str | None, Field(description="one machine only: its machine.id (a team warehouse holds several)")]


def bounded(answer: dict[str, Any]) -> dict[str, Any]:
    """`answer`, with its longest list shortened until its JSON fits MAX_ANSWER_CHARS (then `truncated` says so)."""
    while len(json.dumps(answer, default=str)) > MAX_ANSWER_CHARS:
        lists = [(len(json.dumps(v, default=str)), k) for k, v in answer.items() if isinstance(v, list) and v]
        if not lists:
            break
        _, name = max(lists)
        answer[name] = answer[name][: len(answer[name]) // 2]
        answer["truncated"] = True
    return answer


def _history_call(warehouse: Path, query, team: bool = False) -> dict[str, Any]:
    try:
        conn = open_search_copy(warehouse)
    except SearchError as exc:
        raise ToolError(str(exc)) from None
    try:
        conn.execute("SET TimeZone = 'UTC'")
        return bounded(_with_publication(query(conn), conn, team))
    except (SearchError, ReportError) as exc:
        raise ToolError(str(exc)) from None
    except duckdb.CatalogException:
        raise ToolError(f"{warehouse}: the search copy predates the history tables; run `star-pipeline build` "
                        "once to publish them") from None
    finally:
        conn.close()


def _with_publication(answer: dict[str, Any], conn, team: bool) -> dict[str, Any]:
    """On a lake (`team`), the answer with `published`: who published the copy it read, when, how long ago."""
    return {**answer, "published": publication_note(conn)} if team else answer


def build_server(warehouse: Path, team: bool = False) -> MCPServer:
    """The server with its tools, each reading the copies named after `warehouse` (the published anchor); `team`:
    a lake's (answers say who published the copies and how long ago)."""
    server = MCPServer(
        "star-pipeline",
        log_level="WARNING",  # stderr stays quiet; a failed call's message goes to the agent in the result
        instructions="Your own past work as a coding agent, from the star_pipeline warehouse: every session of "
        "Claude Code, Codex and other agents on this machine. Search it before redoing work, look up what a session "
        "did, which tools fail and how, who touched a file, and what it cost. Read-only; secrets are masked.",
    )

    @server.tool(annotations=READ_ONLY)
    def search_history(
        query: Annotated[str, Field(min_length=1, max_length=500, description="what to look for, in your own words")],
        mode: Literal["hybrid", "lexical", "semantic"] = "hybrid",
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
        project: Project = None,
        source: Annotated[str | None, Field(description="one agent: claude_code, codex, gemini, ...")] = None,
        since: Day = None,
        until: Day = None,
        machine: Machine = None,
    ) -> dict[str, Any]:
        """Find past sessions by words (BM25) and meaning (embeddings), best first, one hit per session: its id,
        agent, project, machine, time, a snippet around the match, and the command that resumes it. Use
        session_timeline on a hit's session_id to read what happened."""
        options = SearchOptions(query, True, limit, mode, project, source, since, until, machine)
        return _history_call(warehouse, lambda conn: {"hits": search(conn, options)}, team)

    @server.tool(annotations=READ_ONLY)
    def usage(
        report: Literal["daily", "weekly", "monthly", "session", "blocks"] = "daily",
        since: Day = None,
        until: Day = None,
        source: Annotated[str | None, Field(description="one agent: claude_code, codex, gemini, ...")] = None,
        project: Project = None,
        timezone: Annotated[str, Field(description="time zone of the dates, e.g. Europe/Berlin")] = "UTC",
        machine: Machine = None,
        per_machine: Annotated[bool, Field(description="a row per machine (each row names its machine)")] = False,
    ) -> dict[str, Any]:
        """Tokens and cost in USD per day, week, month, session or 5-hour block (a call's cost as the agent's file
        records it where it does, else priced from its tokens): the same JSON as
        `star-pipeline report <report> --json` (ccusage's shape); with machine or per_machine, as `--machine`.
        Narrow it with since/until on long histories."""
        options = ReportOptions(report, True, since, until, timezone, source, project,
                                by="machine" if machine or per_machine else None, machine=machine)
        try:
            check_options(options)
        except ReportError as exc:
            raise ToolError(str(exc)) from None
        copy = published_copy_path(warehouse)
        if not copy.exists():
            raise ToolError(f"{copy}: no report copy yet. Build the warehouse first: `star-pipeline build`.")
        conn = duckdb.connect(str(copy), read_only=True, config=READER_CONFIG)
        try:
            conn.execute("SET TimeZone = 'UTC'")
            return bounded(_with_publication(report_data(conn, options, warehouse), conn, team))
        except ReportError as exc:
            raise ToolError(str(exc)) from None
        finally:
            conn.close()

    @server.tool(annotations=READ_ONLY)
    def budget_status() -> dict[str, Any]:
        """The spending budgets the user set: per budget its period and window, limit, spent (as the usage tool
        counts it), remaining, the projection to the window's end and status (ok, warn past warn_at, over), as of
        the last rebuild (`published_at`), and the alerts recorded. Pace your work by it: a `block` budget that is
        over stops your prompts and tool calls."""
        from star_pipeline.reports.budgets import recorded_alerts
        from star_pipeline.storage.budgets_file import budgets_file, read_header

        path = budgets_file(warehouse)
        header = read_header(path)
        if header is None:
            raise ToolError(f"{path}: no budgets published yet. Build the warehouse first: `star-pipeline build`.")
        alerts = []
        copy = published_copy_path(warehouse)
        if copy.exists():
            conn = duckdb.connect(str(copy), read_only=True, config=READER_CONFIG)
            try:
                alerts = recorded_alerts(conn, limit=20)
            finally:
                conn.close()
        budgets = [{k: v for k, v in state.items() if not k.endswith("_us")} for state in header["budgets"]]
        at = datetime.fromtimestamp(header["published_at"] / 1e6, timezone.utc)
        return bounded({"budgets": budgets, "alerts": alerts, "published_at": at.isoformat(),
                        "timezone": header.get("timezone"),
                        **({"published": Publication(header.get("machine") or "", at).note()} if team else {}),
                        **({} if budgets else {"note": "no budgets configured (the config's `budgets:` list)"})})

    @server.tool(annotations=READ_ONLY)
    def session_timeline(
        session_id: Annotated[str, Field(min_length=1, description="a session id (or its first 6+ characters)")],
        limit: Limit = 100,
        offset: Annotated[int, Field(ge=0, description="entries to skip: the previous answer's next_offset")] = 0,
    ) -> dict[str, Any]:
        """One session in time order: its prompts and replies, tool calls (status, duration, target file, error),
        API calls (model, tokens, cost), its subagents, totals and resume command. Long sessions come a page at
        a time: call again with offset = next_offset."""
        return _history_call(warehouse, lambda conn: history.session_timeline(conn, session_id, limit, offset), team)

    @server.tool(annotations=READ_ONLY)
    def tool_failures(
        project: Project = None,
        source: Annotated[str | None, Field(description="one agent: claude_code, codex, gemini, ...")] = None,
        since: Day = None,
        limit: Limit = 10,
        examples: Annotated[int, Field(ge=0, le=10, description="latest errors to show per tool")] = 3,
    ) -> dict[str, Any]:
        """The tools that fail most, per tool and project: calls, errors, error rate and the latest error messages,
        so you can avoid a failing pattern (a command that needs a terminal, an edit that does not match)."""
        return _history_call(warehouse, lambda conn: history.tool_failures(conn, project, source, since, limit, examples),
                             team)

    @server.tool(annotations=READ_ONLY)
    def file_history(
        path: Annotated[str, Field(min_length=1, description="a file path, whole or its last parts (src/app.py)")],
        project: Project = None,
        limit: Limit = 20,
    ) -> dict[str, Any]:
        """The sessions that read or edited a file (reads, edits, when, first prompt, resume command) and the latest
        tool calls on it with their status and errors."""
        return _history_call(warehouse, lambda conn: history.file_history(conn, path, project, limit), team)

    @server.tool(annotations=READ_ONLY)
    def project_summary(project: Project = None, limit: Limit = 10) -> dict[str, Any]:
        """Without a project: every project with its sessions, agents, cost and last activity. With one: its
        cost, tokens, models, git branches, most used tools (with errors), most edited files and latest sessions."""
        return _history_call(warehouse, lambda conn: history.project_summary(conn, project, limit), team)

    return server


def run_mcp(warehouse: Path, team: bool = False) -> int:
    build_server(warehouse, team).run("stdio")
    return 0
