"""Tool calls' outcomes as the files record them, on small files written here: a Codex rollout with every shape
its outputs take (JSON metadata, the 'Exit code' and 'Process exited' headers, worded failures, rejections,
aborts, outputs with no outcome) and a Claude Code session with errors, a rejection and an interruption; then the
same calls as `star-pipeline report tools --json` and the MCP tool_failures tool show them (masked)."""

import json
import shutil

import pytest

from star_pipeline.cli import main
from star_pipeline_tests.builders import (
    CODEX_SESSION, SESSION, assistant, codex_file, cx, session_file, session_meta, tool_result, tool_use, turn_context,
    usage, user, write_jsonl)
from star_pipeline_tests.conftest import REPO_ROOT, build_once, query, use_sandbox

AWS_KEY = "AKIAPOIUYTREWQLKJHGF"  # AKIA + 16 uppercase alnum: the secret classifier's pattern

# (call id, tool, output as Codex writes it) -> (status, exit code, duration ms, status_reason)
CODEX_OUTPUTS = [
    ("call_json_ok", "shell", json.dumps({"output": "ok\n", "metadata": {"exit_code": 0, "duration_seconds": 1.2}}),
     ("ok", 0, 1200, "exit code")),
    ("call_json_fail", "shell", json.dumps({"output": "boom\n", "metadata": {"exit_code": 2, "duration_seconds": 0.3}}),
     ("failed", 2, 300, "exit code")),
    ("call_sandbox", "shell", "failed in sandbox LinuxSeccomp with execution error: sandbox denied exec error, exit code: 1",
     ("failed", None, None, "failed in sandbox")),
    ("call_patch_error", "shell", "error: Failed to find expected lines in src/app.py:\nold line",
     ("failed", None, None, "error")),
    ("call_freeform", "shell_command", "Exit code: 1\nWall time: 0.5 seconds\nOutput:\npytest: 3 failed",
     ("failed", 1, 500, "exit code")),
    ("call_exec_ok", "exec_command",
     "Chunk ID: 4f2a\nWall time: 2.0031 seconds\nProcess exited with code 0\nOriginal token count: 3\nOutput:\n"
     "Exit code: 9 is what the program printed", ("ok", 0, 2003, "exit code")),
    ("call_exec_fail", "exec_command", f"Chunk ID: 4f2b\nWall time: 0.0100 seconds\nProcess exited with code 127\nOutput:\n"
     f"deploy: credentials {AWS_KEY} rejected", ("failed", 127, 10, "exit code")),
    ("call_running", "write_stdin", "Chunk ID: 4f2c\nWall time: 30.0002 seconds\nProcess running with session ID 7\n"
     "Output:\nwaiting", ("unknown", None, 30000, None)),
    ("call_exec_rejected", "exec_command", "exec command rejected by user", ("rejected", None, None, "rejected by user")),
    ("call_stdin_failed", "write_stdin", "write_stdin failed: UnknownProcessId { process_id: \"7\" }",
     ("failed", None, None, "write_stdin failed")),
    ("call_aborted", "shell", "aborted", ("interrupted", None, None, "aborted")),
    ("call_plan", "update_plan", "Plan updated", ("ok", None, None, "plan updated")),
    ("call_mcp", "mcp__docs__search", "[REDACTED_OUTPUT len=102]", ("unknown", None, None, None)),
]


def write_codex(box) -> None:
    records = [session_meta(CODEX_SESSION), turn_context(0.5, "gpt-5.3-codex")]
    for n, (call_id, tool, output, _) in enumerate(CODEX_OUTPUTS):
        records.append(cx(1 + 2 * n, "response_item", {"type": "function_call", "name": tool, "call_id": call_id,
                                                       "arguments": json.dumps({"command": ["bash", "-lc", "make"]})}))
        # the output's line written a minute later: a duration from line times would be 60,000 ms
        records.append(cx(61 + 2 * n, "response_item", {"type": "function_call_output", "call_id": call_id,
                                                        "output": output}))
    records.append(cx(100, "response_item", {"type": "custom_tool_call", "name": "apply_patch", "call_id": "call_patch",
                                             "input": "*** Begin Patch\n*** End Patch"}))
    records.append(cx(101, "response_item", {"type": "custom_tool_call_output", "call_id": "call_patch",
                                             "output": "patch rejected by user"}))
    records.append(cx(102, "response_item", {"type": "function_call", "name": "shell", "call_id": "call_pending",
                                             "arguments": "{}"}))
    write_jsonl(codex_file(box, CODEX_SESSION), records)


def write_claude(box) -> None:
    s = SESSION
    write_jsonl(session_file(box, s), [
        user(s, 0, "Run the tests."),
        assistant(s, 1, "msg_01A", "req_01A", usage(3, 40), content=[
            tool_use("toolu_bash_fail", "Bash", command="pytest"), tool_use("toolu_sibling", "Read", file_path="/p/a")]),
        user(s, 3, [tool_result("toolu_bash_fail", "Exit code 1\n2 failed", is_error=True)]),
        user(s, 3.1, [tool_result("toolu_sibling", "<tool_use_error>Sibling tool call errored</tool_use_error>",
                                  is_error=True)]),
        assistant(s, 4, "msg_01B", "req_01B", usage(3, 40), content=[tool_use("toolu_write", "Write", file_path="/p/b")]),
        user(s, 9, [tool_result("toolu_write", "The user doesn't want to proceed with this tool use. The tool use was "
                                               "rejected (eg. if it was a file edit, the new_string was NOT written).",
                                is_error=True)]),
        assistant(s, 10, "msg_01C", "req_01C", usage(3, 40), content=[tool_use("toolu_sleep", "Bash", command="sleep 99")]),
        user(s, 12, [tool_result("toolu_sleep", "[Request interrupted by user for tool use]", is_error=True)]),
        assistant(s, 13, "msg_01D", "req_01D", usage(3, 40), content=[tool_use("toolu_ok", "Read", file_path="/p/c")]),
        user(s, 13.25, [{"type": "tool_result", "tool_use_id": "toolu_ok", "content": "text"}]),  # no is_error: ok
    ])


def use_classifier_on_outcomes(box) -> None:
    """The default classifiers, with a first tool_practices rule of the user's that reads the outcome."""
    folder = box.root / "classifiers"
    folder.mkdir()
    for path in (REPO_ROOT / "config" / "classifiers").glob("*.yaml"):
        shutil.copy(path, folder)
    practices = folder / "tool_practices.yaml"
    practices.write_text(practices.read_text().replace("rules:\n", "rules:\n  - family: failed_command\n"
                         "    when: {status: {in: [failed]}, exit_code: {is_null: false}}\n", 1))
    box.write_config(extra=f"classified:\n  classifiers_dir: {folder}\n")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_once(tmp_path_factory, "tool-outcomes",
                      lambda box: (use_classifier_on_outcomes(box), write_codex(box), write_claude(box)))


def test_every_codex_output_shape_gives_its_status_exit_code_and_recorded_duration(built):
    rows = {r[0]: r[1:] for r in query(built, """
        SELECT call_id, status, exit_code, duration_ms, status_reason, is_error, duration_source
        FROM normalized.normalized_tool_calls WHERE source = 'codex'""")}
    for call_id, _, _, (status, code, duration, reason) in CODEX_OUTPUTS:
        assert rows[call_id][:4] == (status, code, duration, reason), call_id
        assert rows[call_id][4] is (None if status == "unknown" else status == "failed"), call_id
        assert rows[call_id][5] == ("recorded" if duration is not None else None), call_id  # never the lines' minute
    assert rows["call_patch"][:4] == ("rejected", None, None, "rejected by user")
    assert rows["call_pending"][0] == "pending" and rows["call_pending"][4] is None


def test_claude_code_errors_rejections_and_interruptions_are_told_apart(built):
    rows = {r[0]: r[1:] for r in query(built, """
        SELECT call_id, status, exit_code, status_reason, duration_ms, duration_source
        FROM normalized.normalized_tool_calls WHERE source = 'claude_code'""")}
    assert rows == {
        "toolu_bash_fail": ("failed", 1, "flag", 2000, "timestamps"),
        "toolu_sibling": ("interrupted", None, "cancelled: a parallel call failed", 2100, "timestamps"),
        "toolu_write": ("rejected", None, "rejected by user", 5000, "timestamps"),
        "toolu_sleep": ("interrupted", None, "interrupted by user", 2000, "timestamps"),
        "toolu_ok": ("ok", None, "flag", 250, "timestamps"),
    }


def test_the_aggregates_carry_the_same_outcomes(built):
    assert query(built, """
        SELECT tool_name, calls, ok, failed, rejected, interrupted, unknown, pending, round(failure_rate, 4),
               p50_duration_ms, p90_duration_ms
        FROM aggregate.derived_tool_stats WHERE source = 'codex' AND tool_name IN ('shell', 'exec_command')
        ORDER BY tool_name""") == [
        ("exec_command", 3, 1, 1, 1, 0, 0, 0, round(1 / 3, 4), 1006.5, 1803.7),
        ("shell", 6, 1, 3, 0, 1, 0, 1, 0.6, 750.0, 1110.0),
    ]
    assert query(built, "SELECT status, exit_code, duration_ms FROM aggregate.fact_tool_call WHERE call_id = 'call_exec_fail'") \
        == [("failed", 127, 10)]


def test_report_tools_json_reads_the_same_outcomes_masked(built, monkeypatch, capsys):
    use_sandbox(built, monkeypatch)
    assert main(["report", "tools", "--json", "--source", "codex"]) == 0
    report = json.loads(capsys.readouterr().out)
    tools = {t["tool"]: t for t in report["tools"]}
    shell = tools["shell"]
    assert (shell["calls"], shell["ok"], shell["failed"], shell["interrupted"], shell["pending"]) == (6, 1, 3, 1, 1)
    assert shell["failureRate"] == pytest.approx(0.6) and shell["medianDurationMs"] == 750.0
    assert [(e["status"], e["exitCode"], e["reason"]) for e in shell["latestErrors"]] == [
        ("interrupted", None, "aborted"), ("failed", None, "error"), ("failed", None, "failed in sandbox")]
    assert tools["write_stdin"]["unknown"] == 1 and tools["write_stdin"]["failureRate"] == 1.0  # of the one known
    assert tools["mcp__docs__search"]["unknown"] == 1 and tools["mcp__docs__search"]["failureRate"] is None
    (failure,) = tools["exec_command"]["latestErrors"][1:]
    assert failure["exitCode"] == 127 and AWS_KEY not in failure["error"] and "[secret:" in failure["error"]
    assert report["totals"]["calls"] == 15 and report["totals"]["rejected"] == 2
    assert main(["report", "tools", "--source", "claude_code"]) == 0
    table = capsys.readouterr().out
    assert "Bash" in table and "rejected (rejected by user)" in table and "failed (exit 1)" in table


def test_mcp_tool_failures_reads_the_same_outcomes(built):
    from star_pipeline.search import history
    from star_pipeline.search.query import open_search_copy

    conn = open_search_copy(built.warehouse)
    try:
        answer = history.tool_failures(conn, source="codex", limit=10, examples=3)
        timeline = history.session_timeline(conn, CODEX_SESSION, limit=50)
    finally:
        conn.close()
    shell = next(t for t in answer["tools"] if t["tool"] == "shell")
    assert (shell["calls"], shell["failed"], shell["interrupted"], shell["failure_rate"]) == (6, 3, 1, 0.6)
    calls = {e["tool"]: e for e in timeline["entries"] if e["entry"] == "tool_call" and e["status"] == "failed"}
    assert (calls["shell_command"]["exit_code"], calls["shell_command"]["duration_ms"]) == (1, 500)
    assert {t["tool"] for t in answer["tools"]} == {"shell", "shell_command", "exec_command", "write_stdin", "apply_patch"}  # update_plan, mcp: none failed


def test_the_tool_practices_classifier_reads_the_outcome(built):
    """A rule on status and exit_code: the calls that failed with an exit code, and only those."""
    assert sorted(r[0] for r in query(built, "SELECT call_id FROM classified.derived_tool_practices "
                                              "WHERE family = 'failed_command'")) == \
        ["call_exec_fail", "call_freeform", "call_json_fail", "toolu_bash_fail"]


def test_a_search_copy_published_before_tool_outcomes_says_to_build_again():
    import duckdb

    from star_pipeline.search.query import SearchError
    from star_pipeline.search.tool_stats import tool_outcomes

    conn = duckdb.connect()
    conn.execute("CREATE TABLE tool_calls AS SELECT 'codex' AS source, 's1' AS session_id, 'shell' AS tool_name, "
                 "'error' AS status, 5 AS duration_ms")  # the columns of a copy of the version before
    with pytest.raises(SearchError, match="predates tool outcomes .* run `star-pipeline build`"):
        tool_outcomes(conn)


def test_the_session_page_shows_each_call_s_exit_code(built):
    import duckdb

    from star_pipeline.dashboard import pages
    from star_pipeline.storage.published_copies import search_copy_path

    history = duckdb.connect(str(search_copy_path(built.warehouse)), read_only=True)
    try:
        entries = pages.session_detail(history, "codex", CODEX_SESSION)["timeline"]
    finally:
        history.close()
    calls = {e["call_id"]: e for e in entries if e["entry"] == "tool_call"}
    assert (calls["call_exec_fail"]["status"], calls["call_exec_fail"]["exit_code"]) == ("failed", 127)
    assert calls["call_mcp"]["status"] == "unknown" and calls["call_mcp"]["exit_code"] is None
