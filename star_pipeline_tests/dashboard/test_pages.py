"""The dashboard's pages on a small warehouse built for them: each page's query (star_pipeline/dashboard/pages.py)
against what the reports print for the same filters, and the web app (Starlette's test client) serving them:
masked texts, bad input, a missing copy, the read path (the published copies only)."""

import datetime
import json
import os
import shutil

import duckdb
import pytest
from starlette.testclient import TestClient

from star_pipeline.dashboard import figures, pages
from star_pipeline.dashboard.app import create_app
from star_pipeline.reports.reader import READER_CONFIG
from star_pipeline.reports.report import ReportOptions, report_data
from star_pipeline.storage.warehouse import load_extension
from star_pipeline.storage.published_copies import published_copy_path, search_copy_path
from star_pipeline_tests.builders import (CODEX_SESSION, SLUG, assistant, claude, codex_file, cx, session_file,
                                          session_meta, token_count, tool_result, tool_use, turn_context, usage, user,
                                          write_jsonl)
from star_pipeline_tests.classified.test_classifiers import AWS_KEY
from star_pipeline_tests.conftest import build_once, use_sandbox

WORK = "2b3c4d5e-0000-4000-8000-00000000d001"
RESUMED = "3c4d5e6f-0000-4000-8000-00000000d002"
RECENT = "4d5e6f70-0000-4000-8000-00000000d003"
AGENT = "a1b2c3d4e5f607182"
TASK_CALL = "toolu_task"


def recent(record: dict, minutes_ago: float) -> dict:
    """`record` dated `minutes_ago` minutes before now (the overview's current block and week)."""
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=minutes_ago)
    return {**record, "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"}


def write_history(sandbox) -> None:
    """WORK (/home/u/proj, 2026-03-01): a prompt holding a key, an edit of src/app.py, a failing shell call whose
    output holds the key, a Task call whose subagent fetches a page, a compaction; RESUMED: a resume of WORK the
    next day on the branch billing, reading src/app.py and a file whose name is the key; RECENT: one call minutes ago; a Codex session in
    /home/u/proj on 2026-03-01."""
    edit = assistant(WORK, 1, "msg_d1", "req_d1", usage(3, 20, cr=1000), content=[
        {"type": "text", "text": "I will edit the exporter."},
        tool_use("toolu_edit", "Edit", file_path="/home/u/proj/src/app.py", old_string="a", new_string="b")])
    write_jsonl(session_file(sandbox, WORK), [
        user(WORK, 0, f"Make the invoice export use the key {AWS_KEY} and write CSV"),
        edit,
        user(WORK, 2, [tool_result("toolu_edit", "edited")]),
        assistant(WORK, 3, "msg_d2", "req_d2", usage(3, 20), content=[tool_use("toolu_bash", "Bash", command="./deploy.sh")]),
        user(WORK, 60, [tool_result("toolu_bash", f"deploy failed: credentials {AWS_KEY} rejected", is_error=True)]),
        assistant(WORK, 61, "msg_d3", "req_d3", usage(3, 30), content=[
            tool_use(TASK_CALL, "Task", description="look it up", prompt="Fetch the CSV spec", subagent_type="Explore")]),
        user(WORK, 90, [tool_result(TASK_CALL, "The spec says commas.")]),
        claude("system", WORK, 100, subtype="compact_boundary", content="Conversation compacted",
               compactMetadata={"trigger": "auto", "preTokens": 1000}),
        assistant(WORK, 120, "msg_d4", "req_d4", usage(3, 20), content=[{"type": "text", "text": "Exported."}]),
    ])
    write_jsonl(sandbox.claude_root / SLUG / WORK / "subagents" / f"agent-{AGENT}.jsonl", [
        user(WORK, 62, "Fetch the CSV spec", sidechain=True, agent_id=AGENT),
        assistant(WORK, 70, "msg_d_sub", "req_d_sub", usage(50, 400), sidechain=True, agent_id=AGENT, content=[
            tool_use("toolu_fetch", "WebFetch", url="https://example.com/csv", prompt="spec")]),
        user(WORK, 80, [tool_result("toolu_fetch", "commas")], sidechain=True, agent_id=AGENT),
    ])
    billing = {"gitBranch": "billing"}
    write_jsonl(session_file(sandbox, RESUMED), [
        {**edit, "sessionId": RESUMED},  # a resumed session starts with copies of the earlier one's records
        user(RESUMED, 86400, "Now rename the billing module", **billing),
        assistant(RESUMED, 86401, "msg_d5", "req_d5", usage(3, 20, cr=5000), **billing, content=[
            tool_use("toolu_read", "Read", file_path="/home/u/proj/src/app.py")]),
        user(RESUMED, 86402, [tool_result("toolu_read", "def export(): ...")], **billing),
        assistant(RESUMED, 86403, "msg_d7", "req_d7", usage(3, 20), **billing, content=[
            tool_use("toolu_read_key", "Read", file_path=f"/home/u/proj/keys/{AWS_KEY}.json")]),
        user(RESUMED, 86404, [tool_result("toolu_read_key", "{}")], **billing),
    ])
    write_jsonl(session_file(sandbox, RECENT), [
        recent(user(RECENT, 0, "What changed today?"), 12),
        recent(assistant(RECENT, 1, "msg_d6", "req_d6", usage(10, 50, cr=2000)), 10),
    ])
    write_jsonl(codex_file(sandbox, CODEX_SESSION), [
        session_meta(CODEX_SESSION), turn_context(1, "gpt-5"),
        cx(2, "response_item", {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "lint it"}]}),
        token_count(3, (1000, 200, 50, 10)),
    ])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_once(tmp_path_factory, "dashboard", write_history)


@pytest.fixture
def box(built, monkeypatch):
    return use_sandbox(built, monkeypatch)


@pytest.fixture
def copies(box):
    """The two published copies, read-only, as the dashboard opens them."""
    reports = duckdb.connect(str(published_copy_path(box.warehouse)), read_only=True, config=READER_CONFIG)
    history = duckdb.connect(str(search_copy_path(box.warehouse)), read_only=True, config=READER_CONFIG)
    load_extension(history, "fts")
    reports.execute("SET TimeZone = 'UTC'")
    yield reports, history
    reports.close()
    history.close()


def report(reports, kind: str, **options) -> dict:
    return report_data(reports, ReportOptions(kind, **options), "copy")


def test_overview_figures_are_the_reports(copies):
    reports, _ = copies
    data = pages.overview(reports, pages.Filters())
    daily = report(reports, "daily")
    assert data["total"]["cost"] == pytest.approx(daily["totals"]["totalCost"], abs=1e-12) and data["total"]["cost"] > 0
    assert data["total"]["tokens"] == daily["totals"]["totalTokens"] and data["total"]["days"] == len(daily["daily"])
    assert data["this_week"]["cost"] == report(reports, "weekly", last=1)["totals"]["totalCost"] > 0  # RECENT's call
    active = report(reports, "blocks", active=True)["blocks"]
    assert data["block"] is not None and data["block"] == active[0] and data["block"]["entries"] == 1
    # per day, stacked by model: the stacks add up to each day's total
    per_day = data["per_day"]
    for n, day in enumerate(daily["daily"]):
        assert per_day["days"][n] == day["date"]
        assert sum(series["cost"][n] for series in per_day["series"]) == pytest.approx(day["totalCost"])
        assert sum(series["tokens"][n] for series in per_day["series"]) == day["totalTokens"]
    by_source = pages.overview(reports, pages.Filters(), stack="source")["per_day"]
    assert {series["name"] for series in by_source["series"]} == {"claude_code", "codex"}
    assert sum(data["week_days"]["this"]) == pytest.approx(data["this_week"]["cost"])
    assert [p["project"] for p in data["top_projects"]] == [p["project"] for p in sorted(
        report(reports, "projects")["projects"], key=lambda p: -p["totalCost"])]


def test_overview_filters_narrow_every_figure(copies):
    reports, _ = copies
    march = pages.Filters(since="2026-03-01", until="20260301")
    data = pages.overview(reports, march)
    assert data["total"]["cost"] == pytest.approx(
        report(reports, "daily", since="2026-03-01", until="2026-03-01")["totals"]["totalCost"], abs=1e-12)
    assert data["per_day"]["days"] == ["2026-03-01"]
    codex = pages.overview(reports, pages.Filters(source="codex"))
    assert codex["total"]["tokens"] == report(reports, "daily", source="codex")["totals"]["totalTokens"] > 0
    assert codex["block"] is None  # RECENT is Claude Code's
    project = pages.overview(reports, pages.Filters(project="proj"))
    assert project["total"]["tokens"] == report(reports, "daily", project="proj", project_ids=("/home/u/proj",))[
        "totals"]["totalTokens"]
    with pytest.raises(pages.PageError, match="project 'nowhere': no such project"):
        pages.overview(reports, pages.Filters(project="nowhere"))
    with pytest.raises(pages.PageError, match="stack 'day'"):
        pages.overview(reports, pages.Filters(), stack="day")


def test_figures_are_valid_plotly_figures(copies):
    import plotly.graph_objects as go

    reports, _ = copies
    data = pages.overview(reports, pages.Filters())
    for figure in (figures.per_day(data["per_day"], "cost"), figures.per_day(data["per_day"], "tokens"),
                   figures.weeks(data["week_days"]), figures.top_projects(data["top_projects"])):
        go.Figure(figure)  # raises on a property plotly does not have
    assert figures.per_day(data["per_day"], "cost")["data"][0]["y"] == data["per_day"]["series"][0]["cost"]


def test_projects_split_the_reports_project_cost_by_model_and_branch(copies):
    reports, history = copies
    data = pages.projects(reports, history, pages.Filters())["projects"]
    listed = {p["project"]: p for p in report(reports, "projects")["projects"]}
    assert {p["project"] for p in data} == set(listed)
    for project in data:
        assert project["cost"] == listed[project["project"]]["totalCost"]
        assert sum(m["cost"] for m in project["models"]) == pytest.approx(project["cost"])
        assert sum(b["cost"] for b in project["branches"]) == pytest.approx(project["cost"])
        assert sum(b["tokens"] for b in project["branches"]) == project["tokens"]
    claude = next(p for p in data if p["project"] == SLUG)
    branches = {b["branch"]: b for b in claude["branches"]}
    assert (branches["main"]["sessions"], branches["billing"]["sessions"]) == (2, 1)  # WORK and RECENT; RESUMED
    tools = {t["tool"]: t for t in claude["tools"]}
    assert (tools["Bash"]["calls"], tools["Bash"]["errors"]) == (1, 1)
    assert {"Edit", "Task", "WebFetch", "Read"} <= set(tools)
    assert branches["billing"]["tools"] == [{"tool": "Read", "calls": 2, "errors": 0}]
    assert {t["tool"] for t in branches["main"]["tools"]} == {"Edit", "Bash", "Task", "WebFetch"}
    assert branches["main"]["models"] == branches["billing"]["models"] == ["claude-opus-4-6"]


def test_sessions_list_sorts_filters_and_masks(copies):
    reports, history = copies
    data = pages.sessions(history, pages.Filters(), None)
    assert data["count"] == 4
    assert data["cost"] == pytest.approx(sum(s["totalCost"] for s in report(reports, "session")["sessions"]))
    by_cost = pages.sessions(history, pages.Filters(), None, sort="cost", order="desc")["sessions"]
    assert [s["cost_usd"] or 0 for s in by_cost] == sorted([s["cost_usd"] or 0 for s in by_cost], reverse=True)
    work = next(s for s in data["sessions"] if s["session_id"] == WORK)
    assert AWS_KEY not in work["first_prompt"] and "[secret:" in work["first_prompt"]
    assert (work["tool_calls"], work["tool_errors"]) == (4, 1)  # Edit, Bash (failed), Task, and the subagent's WebFetch
    day = pages.sessions(history, pages.Filters(since="2026-03-02", until="2026-03-02"), None)
    assert [s["session_id"] for s in day["sessions"]] == [RESUMED]
    codex = pages.sessions(history, pages.Filters(source="codex"), None)
    assert [s["session_id"] for s in codex["sessions"]] == [CODEX_SESSION]
    with pytest.raises(pages.PageError, match="sort 'cost; DROP TABLE sessions'"):
        pages.sessions(history, pages.Filters(), None, sort="cost; DROP TABLE sessions")
    with pytest.raises(pages.PageError, match="order"):
        pages.sessions(history, pages.Filters(), None, order="sideways")


def test_session_page_nests_the_subagent_under_its_call_and_links_the_resume(copies):
    reports, history = copies
    data = pages.session_detail(history, "claude_code", WORK)
    session = data["session"]
    assert session["resume"] == f"claude --resume {WORK}"
    cost = next(s for s in report(reports, "session")["sessions"] if s["sessionId"] == WORK)["totalCost"]
    assert session["cost_usd"] == pytest.approx(cost)
    assert data["continued_by"] == [RESUMED] and data["continues"] == []
    assert pages.session_detail(history, "claude_code", RESUMED)["continues"] == [WORK]
    assert len(data["compactions"]) == 1
    kinds = [e["entry"] for e in data["timeline"]]
    assert kinds.index("compaction") > kinds.index("tool_call")
    task = next(e for e in data["timeline"] if e.get("call_id") == TASK_CALL)
    assert task["subagent"]["agent_id"] == AGENT and task["subagent"]["subagent_type"] == "Explore"
    nested = task["subagent"]["entries"]
    assert [e["tool"] for e in nested if e["entry"] == "tool_call"] == ["WebFetch"]
    assert [e for e in nested if e["entry"] == "api_call"][0]["cost_usd"] > 0
    assert all(e.get("agent_id") is None for e in data["timeline"])  # subagent entries only nested
    api_costs = [e["cost_usd"] for e in data["timeline"] if e["entry"] == "api_call"] + [task["subagent"]["cost_usd"]]
    assert sum(api_costs) == pytest.approx(cost)
    bash = next(e for e in data["timeline"] if e.get("tool") == "Bash")
    assert bash["status"] == "failed" and AWS_KEY not in bash["error"] and "[secret:" in bash["error"]
    assert AWS_KEY not in json.dumps(data, default=str)
    with pytest.raises(pages.NotFoundError, match="no claude_code session 'nope'"):
        pages.session_detail(history, "claude_code", "nope")


def test_tools_and_files(copies):
    _, history = copies
    data = pages.tools_and_files(history, pages.Filters(), None)
    bash = next(t for t in data["by_tool"] if t["tool"] == "Bash")
    assert (bash["calls"], bash["failed"], bash["failure_rate"]) == (1, 1, 1.0)
    assert data["by_tool"][0]["tool"] == "Bash"  # the most failures first
    (failing,) = data["by_project"]
    assert failing["project"] == "/home/u/proj" and failing["examples"][0]["session_id"] == WORK
    assert AWS_KEY not in failing["examples"][0]["error"] and "deploy failed" in failing["examples"][0]["error"]
    assert [f["path"] for f in data["most_edited"]] == ["/home/u/proj/src/app.py"]
    read = {f["path"]: f for f in data["most_read"]}
    assert set(read) == {"/home/u/proj/src/app.py", "[secret]"}  # the file named by the key is read, not named
    assert read["/home/u/proj/src/app.py"]["sessions"] == 2
    touched = pages.file_sessions(history, "/home/u/proj/src/app.py", pages.Filters(), None)
    assert {s["session_id"] for s in touched["sessions"]} == {WORK, RESUMED}
    assert {c["tool"] for c in touched["calls"]} == {"Edit", "Read"}
    later = pages.file_sessions(history, "/home/u/proj/src/app.py", pages.Filters(since="2026-03-02"), None)
    assert [s["session_id"] for s in later["sessions"]] == [RESUMED]
    assert pages.tools_and_files(history, pages.Filters(source="codex"), None)["by_tool"] == []


def test_search_hits_link_sessions_and_never_show_the_key(copies):
    _, history = copies
    hits = pages.search_hits(history, "invoice export", "lexical", pages.Filters(), None)
    assert hits[0]["session_id"] in (WORK, RESUMED)
    assert all(AWS_KEY not in hit["snippet"] for hit in pages.search_hits(history, AWS_KEY, "lexical", pages.Filters(), None))
    with pytest.raises(pages.PageError, match="mode 'fuzzy'"):
        pages.search_hits(history, "invoice", "fuzzy", pages.Filters(), None)


@pytest.fixture
def client(box):
    return TestClient(create_app(box.warehouse, timezone="UTC"), base_url="http://127.0.0.1")


PAGES = ["/", "/?stack=source", "/projects", "/sessions", "/sessions?sort=cost&order=asc", f"/sessions/claude_code/{WORK}",
         f"/sessions/claude_code/{RESUMED}",
         "/tools", "/files?path=/home/u/proj/src/app.py", "/search?q=invoice+export", "/search?q=deploy+credentials"]


def test_every_page_serves_html_without_the_key(client):
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[-2000:])
        assert response.headers["content-type"].startswith("text/html")
        assert AWS_KEY not in response.text, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "[secret:" in client.get(f"/sessions/claude_code/{WORK}").text
    hits = client.get("/search?q=deploy+credentials&mode=lexical").text
    assert f"/sessions/claude_code/{WORK}" in hits and "<mark>deploy</mark>" in hits and "[secret:" in hits
    typed = client.get(f"/search?q={AWS_KEY}&mode=lexical").text  # the key was masked before it was indexed
    assert 'id="no-hits"' in typed and 'id="hits"' not in typed


def test_the_overviews_figures_are_in_its_html(client, box):
    reports = duckdb.connect(str(published_copy_path(box.warehouse)), read_only=True, config=READER_CONFIG)
    try:
        expected = report(reports, "daily")["totals"]
    finally:
        reports.close()
    html = client.get("/").text
    shown = float(html.split('id="total-cost" data-value="')[1].split('"')[0])
    assert shown == pytest.approx(expected["totalCost"], abs=1e-12)
    assert f'id="total-cost" data-value="{shown}">${expected["totalCost"]:,.2f}<' in html
    assert f'id="total-tokens" data-value="{expected["totalTokens"]}">{expected["totalTokens"]:,}<' in html
    assert 'id="block-cost"' in html and 'src="/static/plotly.min.js"' in html
    script = client.get("/static/plotly.min.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert len(script.content) > 1_000_000  # plotly.js itself, from the plotly package
    assert client.get("/static/../copies.py").status_code == 404


def test_bad_input_gets_a_page_that_says_what_to_pass(client):
    for path, status, message in [
        ("/?since=yesterday", 400, "since &#39;yesterday&#39;: not a date; use YYYYMMDD or YYYY-MM-DD"),
        ("/sessions?until=2026-02-30", 400, "until &#39;2026-02-30&#39;: not a date"),
        ("/sessions?source=vim", 400, "source &#39;vim&#39;: not a source; use one of claude_code, codex"),
        ("/?project=nowhere", 400, "project &#39;nowhere&#39;: no such project; the Projects page lists them"),
        ("/sessions?sort=cost%3B+DROP", 400, "sort &#39;cost; DROP&#39;: use one of"),
        ("/?tz=Mars%2FOlympus", 400, "tz &#39;Mars/Olympus&#39;: not a time zone"),
        ("/sessions/claude_code/nope", 404, "no claude_code session &#39;nope&#39;"),
        ("/sessions?page=x", 400, "page &#39;x&#39;: use a whole number"),
    ]:
        response = client.get(path)
        assert response.status_code == status and message in response.text, (path, response.text[-800:])


def test_another_host_name_is_refused(client):
    """A web page elsewhere cannot read the dashboard through a DNS name that resolves to 127.0.0.1."""
    assert client.get("/", headers={"host": "attacker.example"}).status_code == 400
    assert client.get("/", headers={"host": "localhost:8484"}).status_code == 200


def test_the_dashboard_reads_the_published_copies_only(box, tmp_path):
    """With the warehouse itself gone (or held by a run), every page still answers from the copies; without
    copies, a page says how to make them."""
    only = tmp_path / "w" / "warehouse.duckdb"
    only.parent.mkdir()
    for copy in (published_copy_path, search_copy_path):
        shutil.copy(copy(box.warehouse), copy(only))
    client = TestClient(create_app(only, timezone="UTC"), base_url="http://127.0.0.1")
    for path in PAGES:
        assert client.get(path).status_code == 200, path
    assert not only.exists()
    os.remove(search_copy_path(only))
    missing = client.get("/sessions")
    assert missing.status_code == 503 and "not published yet" in missing.text and "star-pipeline build" in missing.text
    assert client.get("/").status_code == 200  # the overview reads the report copy only


def test_sessions_are_paged(copies, monkeypatch):
    _, history = copies
    every = [s["session_id"] for s in pages.sessions(history, pages.Filters(), None, sort="start")["sessions"]]
    monkeypatch.setattr(pages, "SESSIONS_PER_PAGE", 1)
    second = pages.sessions(history, pages.Filters(), None, sort="start", page=2)
    assert [s["session_id"] for s in second["sessions"]] == every[1:2]
    assert (second["pages"], second["page_links"]) == (4, [1, 2, 3, 4])
    assert pages.sessions(history, pages.Filters(), None, page=9)["sessions"] == []


def test_serve_listens_on_loopback_unless_told_otherwise(capsys):
    import socket

    from star_pipeline.cli import main

    assert main(["serve", "--host", "0.0.0.0"]) == 2
    refused = capsys.readouterr().err
    assert "--host 0.0.0.0" in refused and "--allow-network" in refused  # it names the flag that allows it
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
        assert f"--port {port}: cannot listen there" in capsys.readouterr().err
    assert main(["serve", "--port", "70000"]) == 2


def test_allow_network_serves_on_the_host_asked_for(box, monkeypatch, capsys):
    """`serve --host 0.0.0.0 --allow-network` hands uvicorn that address and answers any Host name (the machine's
    name on the network); the default stays on 127.0.0.1 and refuses other names. uvicorn.run is replaced: nothing
    listens and no request leaves the process (the Host names are tried with Starlette's in-process test client)."""
    import socket

    import uvicorn

    from star_pipeline.cli import main

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **settings: served.append((app, settings)))
    with socket.socket() as probe:  # a port free now, for the address check serve makes before uvicorn
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["serve", "--host", "0.0.0.0", "--port", str(port), "--allow-network"]) == 0
    assert main(["serve", "--port", str(port)]) == 0
    assert "http://0.0.0.0:" in capsys.readouterr().out
    (network_app, network), (local_app, local) = served
    assert (network["host"], network["port"]) == ("0.0.0.0", port)
    assert (local["host"], local["port"]) == ("127.0.0.1", port)
    lan_name = {"host": f"dashboard.lan:{port}"}
    assert TestClient(network_app, base_url="http://127.0.0.1").get("/", headers=lan_name).status_code == 200
    assert TestClient(local_app, base_url="http://127.0.0.1").get("/", headers=lan_name).status_code == 400


def test_the_dashboard_imports_neither_dagster_nor_plotlys_python(box):
    """It starts in well under a second: no dagster, and plotly only as the file of plotly.js it serves."""
    import subprocess
    import sys

    code = ("import sys; from starlette.testclient import TestClient; from star_pipeline.dashboard.app import create_app; "
            f"client = TestClient(create_app({str(box.warehouse)!r}), base_url='http://127.0.0.1'); "
            "assert all(client.get(p).status_code == 200 for p in ('/', '/projects', '/sessions', '/tools')); "
            "print(sorted(m for m in ('dagster', 'plotly') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
