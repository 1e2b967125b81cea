"""pi and OpenClaw: every assistant reply is one call, counted once as the session file grows, with the cost pi
recorded (also where no price table knows the model); a broken line is a parse error of its own."""

from star_pipeline_tests.builders import (
    CWD,
    PI_SESSION,
    pi_entry,
    pi_header,
    pi_reply,
    pi_session_file,
    write_jsonl,
)
from star_pipeline_tests.conftest import materialize_all, query

KIMI = "moonshotai/kimi-k2.5"
LOCAL = "qwen3-coder:30b"  # an ollama model: no price in the price table, pi records cost 0
OPENCLAW_SESSION = "7d1f0c2a-9b4e-4c1d-8e2f-3a4b5c6d7e8f"


def test_each_reply_counts_as_the_file_grows_aborted_ones_too_with_the_cost_pi_recorded(sandbox):
    path = pi_session_file(sandbox)
    write_jsonl(path, [
        pi_header(),
        pi_entry(1, 1, "model_change", provider="openrouter", modelId=KIMI),
        pi_entry(2, 2, "message", message={"role": "user", "content": [{"type": "text", "text": "read the notes"}]}),
        pi_reply(3, 3, KIMI, (2000, 50, 1000, 0), 0.0042, stop="toolUse",
                 content=[{"type": "toolCall", "id": "functions.read:0", "name": "read", "arguments": {"path": "notes.md"}}]),
        pi_entry(4, 4, "message", message={"role": "toolResult", "toolCallId": "functions.read:0", "toolName": "read",
                                           "content": [{"type": "text", "text": "# notes"}], "isError": False}),
    ])
    materialize_all(sandbox)
    write_jsonl(path, [
        pi_reply(5, 5, KIMI, (0, 0, 0, 0), 0, stop="aborted"),  # an aborted reply: all-zero usage, still a reply
        pi_reply(6, 6, LOCAL, (3000, 80, 0, 0), 0),
    ], append=True)
    materialize_all(sandbox)

    assert query(sandbox, "SELECT session_id, model, input_tokens, output_tokens, cache_read_input_tokens, cost_usd, "
                          "cost_source, project_id FROM aggregate.fact_token_usage WHERE source = 'pi' ORDER BY event_ts") == [
        (PI_SESSION, KIMI, 2000, 50, 1000, 0.0042, "recorded", CWD),
        (PI_SESSION, KIMI, 0, 0, 0, 0.0, "recorded", CWD),
        (PI_SESSION, LOCAL, 3000, 80, 0, 0.0, "recorded", CWD),
    ]
    assert query(sandbox, "SELECT tool_name, status, target_path FROM normalized.normalized_tool_calls "
                          "WHERE source = 'pi'") == [("read", "ok", "notes.md")]


def test_openclaw_sessions_and_a_broken_line_kept_apart(sandbox):
    path = pi_session_file(sandbox)
    write_jsonl(path, [pi_header(), pi_reply(1, 1, KIMI, (100, 10, 0, 0), 0.001), b'{"type":"message","id":"00000002",',
                       pi_reply(3, 3, KIMI, (200, 20, 0, 0), 0.002)])
    openclaw = sandbox.home / ".openclaw" / "agents" / "main" / "sessions" / f"{OPENCLAW_SESSION}.jsonl"
    write_jsonl(openclaw, [pi_header(OPENCLAW_SESSION), pi_reply(1, 10, KIMI, (5, 1, 0, 0), 0.0001)])
    (openclaw.parent / "sessions.json").write_text('{"main": {"sessionFile": "x"}}')  # the index: not a session
    materialize_all(sandbox)

    assert query(sandbox, "SELECT session_id, count(*), sum(input_tokens), sum(recorded_cost_usd) FROM normalized.normalized_usage "
                          "WHERE source = 'pi' GROUP BY 1 ORDER BY 1") == [
        (PI_SESSION, 2, 300, 0.003), (OPENCLAW_SESSION, 1, 5, 0.0001)]
    assert query(sandbox, "SELECT source, path, line_number FROM normalized.normalized_parse_errors") == [
        ("pi", str(path), 3)]


def _call(call_id: str, name: str, **arguments) -> dict:
    return {"type": "toolCall", "id": call_id, "name": name, "arguments": arguments}


def _result(n: int, ts: float, call_id: str, name: str, text: str, is_error: bool) -> dict:
    return pi_entry(n, ts, "message", message={"role": "toolResult", "toolCallId": call_id, "toolName": name,
                                               "content": [{"type": "text", "text": text}], "isError": is_error,
                                               "timestamp": 0})


def test_each_tool_call_takes_the_outcome_pi_recorded(sandbox):
    """isError false ok, true failed (a bash result's closing "Command exited with code N" its exit code); pi's
    "Command aborted" / "Operation aborted" and the calls of a reply that was aborted (pi writes no result for
    them) are interrupted; a call whose result is not written yet is pending; durations from the lines' times."""
    write_jsonl(pi_session_file(sandbox), [
        pi_header(),
        pi_reply(1, 1, KIMI, (100, 10, 0, 0), 0, stop="toolUse", content=[
            _call("functions.read:0", "read", path="notes.md"), _call("functions.read:1", "read", path="gone.md"),
            _call("functions.bash:2", "bash", command="make test"), _call("functions.bash:3", "bash", command="sleep 99")]),
        _result(2, 1.5, "functions.read:0", "read", "# notes", False),
        _result(3, 2, "functions.read:1", "read", "ENOENT: no such file or directory, access 'gone.md'", True),
        # the exit code is the line pi closes the output with, not a code the command printed
        _result(4, 5, "functions.bash:2", "bash", "Command exited with code 9 (printed)\nFAIL\n\nCommand exited with code 2",
                True),
        _result(5, 9, "functions.bash:3", "bash", "partial output\n\nCommand aborted", True),
        pi_reply(6, 10, KIMI, (0, 0, 0, 0), 0, stop="aborted", content=[_call("functions.bash:4", "bash", command="ls")]),
        pi_reply(7, 20, KIMI, (100, 10, 0, 0), 0, stop="toolUse", content=[_call("functions.edit:5", "edit", path="a.py")]),
    ])
    materialize_all(sandbox)

    assert query(sandbox, "SELECT call_id, tool_name, status, exit_code, status_reason, duration_ms, duration_source "
                          "FROM normalized.normalized_tool_calls WHERE source = 'pi' ORDER BY call_id") == [
        ("functions.bash:2", "bash", "failed", 2, "exit code", 4000, "timestamps"),
        ("functions.bash:3", "bash", "interrupted", None, "aborted", 8000, "timestamps"),
        ("functions.bash:4", "bash", "interrupted", None, "reply aborted", None, None),
        ("functions.edit:5", "edit", "pending", None, None, None, None),
        ("functions.read:0", "read", "ok", None, "flag", 500, "timestamps"),
        ("functions.read:1", "read", "failed", None, "flag", 1000, "timestamps"),
    ]
