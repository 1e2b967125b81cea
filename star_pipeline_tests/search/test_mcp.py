"""The agent reads its own history: `star-pipeline mcp` (spoken to as an agent would, over stdio, with the
official SDK's client), `install-mcp` for Claude Code and Codex, and the SessionStart brief."""

import io
import json
import os
import subprocess
import sys

import anyio
import pytest

from star_pipeline.agent_side.brief import brief_for
from star_pipeline.cli import main
from star_pipeline.agent_side.install_mcp import install_mcp
from star_pipeline.storage.brief_files import brief_file, briefs_dir
from star_pipeline_tests.builders import assistant, session_file, tool_result, tool_use, usage, user, write_jsonl
from star_pipeline_tests.classified.test_classifiers import ANTHROPIC_KEY, AWS_KEY
from star_pipeline_tests.conftest import build_once, use_sandbox

WORK = "2b3c4d5e-0000-4000-8000-00000000b001"
LATER = "3c4d5e6f-0000-4000-8000-00000000b002"
DEPLOY = f"curl -fsS -H 'x-api-key: {ANTHROPIC_KEY}' https://api.anthropic.com/v1/models && ./deploy.sh"
TOOLS = {"search_history", "usage", "session_timeline", "tool_failures", "file_history", "project_summary",
         "budget_status"}


@pytest.fixture(scope="module")
def built_history(tmp_path_factory):
    """Two sessions in /home/u/proj: one edits src/app.py and then fails a shell call whose command holds a key
    and whose output holds another.
    Built once for the module; the tests only read it."""
    return build_once(tmp_path_factory, "history", write_history)


@pytest.fixture
def history(built_history, monkeypatch):
    return use_sandbox(built_history, monkeypatch)


def write_history(sandbox) -> None:
    write_jsonl(session_file(sandbox, WORK), [
        user(WORK, 0, "Make the invoice export write CSV with a header row"),
        assistant(WORK, 1, "msg_b1", "req_b1", usage(3, 20), content=[
            {"type": "text", "text": "I will edit the exporter."},
            tool_use("toolu_edit", "Edit", file_path="/home/u/proj/src/app.py", old_string="a", new_string="b")]),
        user(WORK, 2, [tool_result("toolu_edit", "edited")]),
        assistant(WORK, 3, "msg_b2", "req_b2", usage(3, 20), content=[
            tool_use("toolu_bash", "Bash", command=DEPLOY)]),
        user(WORK, 60, [tool_result("toolu_bash", f"deploy failed: credentials {AWS_KEY} rejected", is_error=True)]),
    ])
    write_jsonl(session_file(sandbox, LATER), [
        user(LATER, 86400, "Rename the billing module"),
        assistant(LATER, 86401, "msg_b3", "req_b3", usage(3, 20), content=[{"type": "text", "text": "Renamed."}]),
    ])


def call_server(sandbox, calls: list[tuple[str, dict]]) -> tuple[set[str], list]:
    """Start `star-pipeline mcp` as an agent would and make `calls`; (tool names, results)."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    server = StdioServerParameters(command=sys.executable, args=["-m", "star_pipeline.cli", "mcp"],
                                   env={"STAR_PIPELINE_CONFIG": str(sandbox.config_path), "HOME": os.environ["HOME"]})

    async def session():
        with open(sandbox.root / "mcp-stderr.log", "w") as errlog:  # the server's stderr (pytest's has no file)
            async with Client(stdio_client(server, errlog=errlog), read_timeout_seconds=60) as client:
                names = {tool.name for tool in (await client.list_tools()).tools}
                return names, [await client.call_tool(name, arguments) for name, arguments in calls]

    return anyio.run(session)


def answer(result) -> dict:
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


@pytest.mark.slow
def test_an_agent_calls_every_tool_over_stdio_and_never_sees_a_secret(history, capsys):
    names, results = call_server(history, [
        ("search_history", {"query": "invoice export csv", "mode": "lexical"}),
        ("usage", {"report": "daily"}),
        ("session_timeline", {"session_id": WORK[:13]}),
        ("tool_failures", {"project": "proj"}),
        ("file_history", {"path": "src/app.py"}),
        ("project_summary", {"project": "proj"}),
        ("project_summary", {}),
        ("session_timeline", {"session_id": "no-such-session"}),
        ("session_timeline", {"session_id": WORK, "limit": 100000}),
        ("tool_failures", {"project": "/nowhere"}),
    ])
    assert names == TOOLS
    search, usage_, timeline, failures, files, summary, projects, unknown, too_many, nowhere = results
    assert answer(search)["hits"][0]["session_id"] == WORK
    assert answer(search)["hits"][0]["resume"] == f"claude --resume {WORK}"

    assert main(["report", "daily", "--json"]) == 0
    assert answer(usage_) == json.loads(capsys.readouterr().out)  # the same JSON as the report

    timeline = answer(timeline)
    assert timeline["session"]["session_id"] == WORK and timeline["session"]["tool_errors"] == 1
    calls = {e["tool"]: e for e in timeline["entries"] if e["entry"] == "tool_call"}
    assert calls["Edit"]["status"] == "ok" and calls["Edit"]["target_path"] == "/home/u/proj/src/app.py"
    assert calls["Bash"]["status"] == "failed" and calls["Bash"]["duration_ms"] == 57000
    assert "[secret:aws_access_key_id]" in calls["Bash"]["error"]
    assert [e["text"] for e in timeline["entries"] if e["entry"] == "message"][0].startswith("Make the invoice export")
    assert sum(e["entry"] == "api_call" for e in timeline["entries"]) == 2

    bash = answer(failures)["tools"][0]
    assert (bash["tool"], bash["calls"], bash["failed"], bash["project"]) == ("Bash", 1, 1, "/home/u/proj")
    assert bash["examples"][0]["session_id"] == WORK and "deploy failed" in bash["examples"][0]["error"]

    files = answer(files)
    assert [(s["session_id"], s["edits"]) for s in files["sessions"]] == [(WORK, 1)]
    assert files["sessions"][0]["first_prompt"].startswith("Make the invoice export")

    summary = answer(summary)
    assert summary["sessions"] == 2 and {t["tool"] for t in summary["top_tools"]} == {"Edit", "Bash"}
    assert summary["most_edited_files"][0]["target_path"] == "/home/u/proj/src/app.py"
    assert summary["recent_sessions"][0]["session_id"] == LATER  # latest first
    assert answer(projects)["projects"][0]["project"] == "/home/u/proj"

    assert unknown.is_error and "no session 'no-such-session'" in unknown.content[0].text
    assert too_many.is_error  # the SDK validates the input against the tool's schema
    assert nowhere.is_error and "no project '/nowhere'" in nowhere.content[0].text and "/home/u/proj" in nowhere.content[0].text
    everything = json.dumps([r.content[0].text for r in results])
    assert AWS_KEY not in everything and ANTHROPIC_KEY not in everything


def test_a_timeline_shows_a_tool_input_masked(history):
    """The Bash call's command held an API key: session_timeline shows the command with the key masked, never the
    key. Called in process: the stdio test above speaks the protocol, more slowly."""
    from star_pipeline.search.mcp_server import build_server

    result = anyio.run(build_server(history.warehouse).call_tool, "session_timeline", {"session_id": WORK})
    bash = [e for e in answer(result)["entries"] if e.get("tool") == "Bash"]
    assert len(bash) == 1 and ANTHROPIC_KEY not in result.content[0].text
    assert "x-api-key: [secret:anthropic_api_key]" in bash[0]["text"]


def test_answers_are_bounded():
    from star_pipeline.search.mcp_server import MAX_ANSWER_CHARS, bounded

    big = {"entries": [{"text": "x" * 300}] * 1000, "total_entries": 1000}
    out = bounded(big)
    assert len(json.dumps(out)) <= MAX_ANSWER_CHARS and out["truncated"] and 0 < len(out["entries"]) < 1000
    assert out["total_entries"] == 1000


def test_install_mcp_registers_for_both_agents_once_and_removes_cleanly(tmp_path, monkeypatch):
    monkeypatch.setenv("STAR_PIPELINE_CONFIG", str(tmp_path / "my.yaml"))
    claude, codex = tmp_path / ".claude.json", tmp_path / ".codex" / "config.toml"
    claude.write_text(json.dumps({"numStartups": 7, "mcpServers": {"other": {"command": "x"}}}))
    codex.parent.mkdir()
    codex.write_text('# my settings\nmodel = "gpt-5"\n\n[mcp_servers.other]\ncommand = "x"  # keep me\n')
    before = codex.read_text()

    out = io.StringIO()
    assert install_mcp(claude, codex, out=out, executable="/opt/bin/star-pipeline") == 0
    entry = json.loads(claude.read_text())["mcpServers"]["star-pipeline"]
    assert entry == {"type": "stdio", "command": "/opt/bin/star-pipeline", "args": ["mcp"],
                     "env": {"STAR_PIPELINE_CONFIG": str(tmp_path / "my.yaml")}}
    assert json.loads(claude.read_text())["numStartups"] == 7
    text = codex.read_text()
    assert text.startswith(before) and '[mcp_servers.star-pipeline]\ncommand = "/opt/bin/star-pipeline"\nargs = ["mcp"]' in text
    import tomllib

    assert tomllib.loads(text)["mcp_servers"]["star-pipeline"]["env"] == {"STAR_PIPELINE_CONFIG": str(tmp_path / "my.yaml")}
    backups = sorted(p.name for p in tmp_path.rglob("*star-pipeline-backup-*"))
    assert len(backups) == 2 and all(oct(p.stat().st_mode & 0o777) == "0o600" for p in tmp_path.rglob("*backup*"))

    again = io.StringIO()
    assert install_mcp(claude, codex, out=again, executable="/opt/bin/star-pipeline") == 0
    assert again.getvalue().count("already up to date") == 2 and len(list(tmp_path.rglob("*backup*"))) == 2

    assert install_mcp(claude, codex, uninstall=True, out=io.StringIO(), executable="/opt/bin/star-pipeline") == 0
    assert json.loads(claude.read_text())["mcpServers"] == {"other": {"command": "x"}}
    assert codex.read_text() == before
    assert len(list(tmp_path.rglob("*backup*"))) == 4  # every change backed up, none overwritten


def test_install_mcp_leaves_a_file_it_cannot_read_alone(tmp_path, capsys):
    claude, codex = tmp_path / ".claude.json", tmp_path / "config.toml"
    claude.write_text("{not json")
    codex.write_text("[mcp_servers\n")
    assert install_mcp(claude, codex, out=io.StringIO(), executable="star-pipeline") == 2
    assert claude.read_text() == "{not json" and codex.read_text() == "[mcp_servers\n"
    err = capsys.readouterr().err
    assert f"{claude}: cannot update Claude Code's MCP configuration" in err and f"{codex}: cannot update Codex's" in err


def test_the_brief_tells_a_new_session_what_happened_lately_in_its_project(history):
    folder = briefs_dir(history.warehouse)
    brief = brief_file(folder, "/home/u/proj")
    assert oct(folder.stat().st_mode & 0o777) == "0o700" and oct(brief.stat().st_mode & 0o777) == "0o600"

    payload = {"session_id": "new", "cwd": "/home/u/proj/src", "source": "startup", "hook_event_name": "SessionStart"}
    started = subprocess.run([sys.executable, "-m", "star_pipeline.cli", "brief", "--dir", str(folder)],
                             input=json.dumps(payload), capture_output=True, text=True, timeout=60)
    assert started.returncode == 0 and started.stderr == ""
    text = started.stdout
    assert text.startswith("Recent work in /home/u/proj")
    assert text.index("Rename the billing module") < text.index("Make the invoice export")  # latest first
    assert "/home/u/proj/src/app.py (1)" in text  # the file edited lately
    assert "Bash: 1 of 1 calls failed" in text and "[secret:aws_access_key_id]" in text and AWS_KEY not in text
    assert f"ended on a failed tool call: claude --resume {WORK}" in text  # unfinished work, with how to resume it

    assert brief_for({**payload, "source": "resume"}, folder) is None  # its context already has the brief
    assert brief_for({**payload, "cwd": "/elsewhere"}, folder) is None
    assert brief_for({**payload, "cwd": "/home/u/proj/.claude/worktrees/fix-1"}, folder) == text
    assert brief_for({**payload, "cwd": "/home/u/proj-worktrees/fix-2/src"}, folder) == text
    for stdin in ("not json", ""):
        quiet = subprocess.run([sys.executable, "-m", "star_pipeline.cli", "brief", "--dir", str(folder)],
                               input=stdin, capture_output=True, text=True, timeout=60)
        assert (quiet.returncode, quiet.stderr) == (0, "")


def test_install_hooks_adds_the_brief_to_session_start_once(sandbox, tmp_path, capsys):
    settings = tmp_path / "settings.json"
    assert main(["install-hooks", "--settings", str(settings), "--brief"]) == 0
    session_start = json.loads(settings.read_text())["hooks"]["SessionStart"]
    commands = [h["command"] for group in session_start for h in group["hooks"]]
    assert len(commands) == 2 and any(f" brief --dir {briefs_dir(sandbox.warehouse)}" in c for c in commands)
    capsys.readouterr()
    assert main(["install-hooks", "--settings", str(settings), "--brief"]) == 0
    assert "already up to date" in capsys.readouterr().out
    assert main(["install-hooks", "--settings", str(settings)]) == 0  # without --brief: the brief stays
    assert len(json.loads(settings.read_text())["hooks"]["SessionStart"]) == 2
    assert main(["install-hooks", "--settings", str(settings), "--uninstall"]) == 0
    assert "hooks" not in json.loads(settings.read_text())
