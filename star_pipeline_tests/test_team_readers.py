"""Every member sees the team (issue 34, item 3): on one PostgreSQL DuckLake, a raw-only member captures its own
sessions and the writer rebuilds and publishes its copies into `warehouse.published_path` (by default beside the
lake's data folder). The member, with its own configuration and warehouse.path and no copy of its own, then answers
`report`, `search`, MCP, the dashboard and its hooks from the team's data, says who published what it read and how
long ago, and `--machine` narrows to its own rows."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

from dagster import DagsterInstance
from starlette.testclient import TestClient

from star_pipeline.config import load_settings
from star_pipeline.dashboard.app import create_app
from star_pipeline.orchestration.in_process import run_pipeline
from star_pipeline.storage.budgets_file import budgets_file
from star_pipeline.storage.published_copies import published_copy_path, search_copy_path
from star_pipeline.storage.statusline_file import statusline_file
from star_pipeline_tests.builders import assistant, usage, user, write_jsonl
from star_pipeline_tests.conftest import Sandbox, build_defs, materialize_all, use_sandbox
from star_pipeline_tests.search.test_mcp import answer, call_server
from star_pipeline_tests.storage.test_lake import lake_config
from star_pipeline_tests.test_build import STAR_PIPELINE
from star_pipeline_tests.test_statusline import shown, statusline

WRITER, MEMBER = "laptop-a", "laptop-b"
SESSIONS = {  # machine -> (session id, its prompt, its one call's usage)
    WRITER: ("a0000000-0000-4000-8000-000000000001", "Rename the quokka ledger to the wombat registry.",
             usage(10, 5, 200, 1000)),
    MEMBER: ("b0000000-0000-4000-8000-000000000002", "Please fix the failing login test.",
             usage(3000, 40000, 0, 120000)),
}


def tokens(spent: dict) -> int:
    return sum(spent[k] for k in ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                                  "cache_read_input_tokens"))


# the writer's budgets, which it publishes for every machine: one for the member's sessions only
BUDGETS = f"budgets:\n  - {{name: b-sessions, period: session, limit_usd: 0.5, action: block, machine: {MEMBER}}}\n"


def machine(tmp_path, name: str, catalog: str, role: str, extra: str = "") -> Sandbox:
    """A machine of the team: its own folder, config and warehouse.path; the lake's catalog and data folder shared."""
    box = Sandbox(tmp_path / name)
    lake_config(box, catalog, tmp_path / "team-lake", extra=f"machine:\n  id: {name}\n  role: {role}\n" + extra,
                lock_timeout_seconds=60)
    session, prompt, spent = SESSIONS[name]
    write_jsonl(box.claude_root / f"-home-u-{name}" / f"{session}.jsonl", [
        user(session, 10, prompt),
        assistant(session, 11, f"msg-{name}", f"req-{name}", spent, content=[{"type": "text", "text": "Done."}]),
    ])
    return box


def cli(box: Sandbox, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(box.config_path), "HOME": str(box.home)}
    env.pop("DAGSTER_HOME", None)
    result = subprocess.run([sys.executable, "-m", "star_pipeline.cli", *args], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_a_raw_only_member_answers_report_search_and_the_dashboard_from_the_teams_data(
        postgres_catalog, tmp_path, monkeypatch):
    member = machine(tmp_path, MEMBER, postgres_catalog, "raw-only")
    writer = machine(tmp_path, WRITER, postgres_catalog, "writer", BUDGETS)

    # the member captures its own lines (as `build --raw-only` does), then the writer captures its own and rebuilds
    use_sandbox(member, monkeypatch)
    assert run_pipeline(build_defs(member), DagsterInstance.ephemeral(),
                        load_settings(member.config_path).classifiers_dir, raw_only=True).success
    use_sandbox(writer, monkeypatch)
    stale = statusline_file(writer.warehouse)  # what the writer published beside its warehouse.path before
    stale.parent.mkdir(parents=True)
    stale.write_text('{"format": 1}\n')
    assert materialize_all(writer).success
    assert not stale.exists()  # gone, so that a hook still pointed at it cannot show an old rebuild as current

    # both read the same anchor, beside the lake's data folder (never inside it), owner-only
    settings = load_settings(member.config_path)
    assert settings.published_anchor == load_settings(writer.config_path).published_anchor
    assert settings.published_path == tmp_path / "team-lake-published"
    assert settings.published_path.stat().st_mode & 0o777 == 0o700
    assert published_copy_path(settings.published_anchor).exists() and search_copy_path(settings.published_anchor).exists()
    # neither machine has a copy of its own
    for box in (member, writer):
        assert not list(box.root.rglob("*.reports.duckdb")) and not list(box.root.rglob("*.search.duckdb"))

    use_sandbox(member, monkeypatch)
    team_total = sum(tokens(spent) for _, _, spent in SESSIONS.values())
    daily = cli(member, "report", "daily", "--json")
    assert json.loads(daily.stdout)["totals"]["totalTokens"] == team_total
    assert re.search(rf"team copies published by {WRITER} at \S+ \S+ UTC \(.* ago\)", daily.stderr), daily.stderr
    own = cli(member, "report", "daily", "--json", "--machine", MEMBER)
    assert json.loads(own.stdout)["totals"]["totalTokens"] == tokens(SESSIONS[MEMBER][2])

    found = cli(member, "search", "quokka wombat", "--mode", "lexical", "--json")
    assert [hit["session_id"] for hit in json.loads(found.stdout)["hits"]] == [SESSIONS[WRITER][0]]
    assert f"team copies published by {WRITER} at " in found.stderr, found.stderr

    # the MCP server the member's agents start: the team's history and usage, each answer saying how old it is
    _, (hits, own_usage) = call_server(member, [("search_history", {"query": "quokka wombat", "mode": "lexical"}),
                                                ("usage", {"machine": MEMBER})])
    assert [hit["session_id"] for hit in answer(hits)["hits"]] == [SESSIONS[WRITER][0]]
    assert answer(own_usage)["totals"]["totalTokens"] == tokens(SESSIONS[MEMBER][2])
    assert all(answer(r)["published"].startswith(f"team copies published by {WRITER} at ") for r in (hits, own_usage))

    client = TestClient(create_app(settings.published_anchor, timezone="UTC", team=True), base_url="http://127.0.0.1")
    page = client.get("/sessions")
    assert page.status_code == 200, page.text[-800:]
    assert all(f"/sessions/claude_code/{session}" in page.text for session, _, _ in SESSIONS.values())
    assert f"team copies published by {WRITER} at " in page.text
    narrowed = client.get(f"/sessions?machine={MEMBER}").text
    assert SESSIONS[MEMBER][0] in narrowed and SESSIONS[WRITER][0] not in narrowed

    # the member's hooks read the writer's statusline and budgets files, naming the machine they run on
    claude_settings = tmp_path / "claude-settings.json"
    cli(member, "install-hooks", "--statusline", "--guard", "--settings", str(claude_settings))
    installed = claude_settings.read_text()
    published_statusline, published_budgets = (statusline_file(settings.published_anchor),
                                               budgets_file(settings.published_anchor))
    assert json.dumps(f"statusline --file {shlex.quote(str(published_statusline))} --machine {MEMBER}")[1:-1] in installed
    assert json.dumps(f"guard --file {shlex.quote(str(published_budgets))} --machine {MEMBER}")[1:-1] in installed
    session = SESSIONS[MEMBER][0]
    transcript = next(member.claude_root.rglob(f"{session}.jsonl"))
    line = shown(statusline(member, session, transcript, file=published_statusline))
    assert line["session"] > 0.5
    # the writer's budget for the member's sessions stops the member's agent, as the guard it installed runs it
    payload = json.dumps({"session_id": session, "transcript_path": str(transcript), "cwd": f"/home/u/{MEMBER}"})
    guard = [STAR_PIPELINE, "guard", "--file", str(published_budgets)]
    stopped = subprocess.run([*guard, "--machine", MEMBER], input=payload, capture_output=True, text=True)
    assert stopped.returncode == 2 and "b-sessions" in stopped.stderr, stopped
    assert subprocess.run([*guard, "--machine", WRITER], input=payload, capture_output=True, text=True).returncode == 0


def test_the_age_line_says_who_published_when_and_how_long_ago():
    from datetime import datetime, timedelta, timezone

    from star_pipeline.storage.published_copies import Publication

    at = datetime(2026, 12, 7, 21, 34, 50, tzinfo=timezone.utc)
    published = Publication(WRITER, at)
    assert published.note(at + timedelta(seconds=59)) == \
        "team copies published by laptop-a at 2026-12-07 21:34 UTC (less than a minute ago)"
    assert published.note(at + timedelta(minutes=12, seconds=30)).endswith("(12 min ago)")
    assert published.note(at + timedelta(hours=3, minutes=5)).endswith("(3 h 5 min ago)")
    assert published.note(at + timedelta(days=2, hours=1)).endswith("(2 days ago)")


def test_a_running_dashboard_reads_each_copy_the_writer_publishes(tmp_path):
    """`serve` runs for days on a member: a copy replaced since it was opened is read anew at the next request, while
    a request still reading the old one keeps it (DuckDB would hand back the old copy for the same path)."""
    import duckdb

    from star_pipeline.dashboard.copies import PublishedCopies

    anchor = tmp_path / "published" / "warehouse.duckdb"
    anchor.parent.mkdir()

    def publish(rebuild: int) -> None:
        temporary = tmp_path / "copy.tmp"
        conn = duckdb.connect(str(temporary))
        conn.execute("CREATE SCHEMA aggregate")
        conn.execute("CREATE TABLE aggregate.fact_token_usage AS SELECT ? AS rebuild", [rebuild])
        conn.close()
        os.replace(temporary, published_copy_path(anchor))

    copies = PublishedCopies(anchor)
    publish(1)
    first = copies.reports()
    assert first.execute("SELECT rebuild FROM aggregate.fact_token_usage").fetchone() == (1,)
    publish(2)
    assert copies.reports().execute("SELECT rebuild FROM aggregate.fact_token_usage").fetchone() == (2,)
    assert first.execute("SELECT rebuild FROM aggregate.fact_token_usage").fetchone() == (1,)
