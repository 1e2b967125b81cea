"""Crush's tool calls take the outcome its tool_result parts record: is_error, Crush's own words for a call the
user denied or cancelled, the "Exit code N" line a failed command's output closes with (is_error stays false
there) and the start and end times of a command's metadata."""

import json
import sqlite3

from star_pipeline_tests.conftest import materialize_all, query
from star_pipeline_tests.sources.test_crush_aider import AUG_10, CRUSH_SCHEMA, parts


def _call(call_id: str, name: str, **arguments) -> tuple:
    return ("tool_call", {"id": call_id, "name": name, "input": json.dumps(arguments), "finished": True})


def _result(call_id: str, content: str, is_error: bool, metadata: dict | None = None) -> tuple:
    return ("tool_result", {"tool_call_id": call_id, "name": "", "content": content, "is_error": is_error,
                            "metadata": json.dumps(metadata) if metadata else ""})


def test_each_tool_call_takes_the_outcome_crush_recorded(sandbox):
    start = (AUG_10 + 100) * 1000  # bash metadata times are epoch milliseconds
    path = sandbox.home / "projects" / "app" / ".crush" / "crush.db"
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.executescript(CRUSH_SCHEMA)
    db.execute("INSERT INTO sessions VALUES ('s1', NULL, 'Fix it', 4, 100, 10, 0.01, ?, ?, NULL)", [AUG_10 + 900, AUG_10])
    rows = [
        ("m1", "assistant", parts(_call("c1", "view", file_path="/p/a.py"), _call("c2", "edit", file_path="/p/a.py"),
                                  _call("c3", "bash", command="make test"), _call("c4", "bash", command="ls"),
                                  ("finish", {"reason": "tool_use", "time": AUG_10 + 101})), 100),
        ("m2", "tool", parts(
            _result("c1", "def a(): ...", False),
            _result("c2", "old_string not found in file. Make sure it matches exactly", True),
            # the exit code is the line Crush closes the output with, not a code the command printed
            _result("c3", "Exit code 9 (printed)\nFAIL\nExit code 2\n\n<cwd>/p</cwd>", False,
                    {"start_time": start, "end_time": start + 2500, "output": "Exit code 9 (printed)\nFAIL\nExit code 2"}),
            _result("c4", "a.py\n\n<cwd>/p</cwd>", False, {"start_time": start, "end_time": start + 40, "output": "a.py"})), 200),
        ("m3", "assistant", parts(_call("c5", "write", file_path="/p/b.py"), _call("c6", "edit", file_path="/p/a.py"),
                                  ("finish", {"reason": "permission_denied", "time": AUG_10 + 301})), 300),
        ("m4", "tool", parts(_result("c5", "Permission denied", True),
                             _result("c6", "Tool execution canceled by user", True)), 400),
        ("m5", "assistant", parts(_call("c7", "bash", command="make"), ("finish", {"reason": "canceled", "time": AUG_10 + 501})),
         500),
        ("m6", "tool", parts(_result("c7", "Tool execution canceled by user", True)), 600),
        ("m7", "assistant", parts(_call("c8", "view", file_path="/p/c.py")), 700),  # its result not written yet
    ]
    for message_id, role, body, offset in rows:
        db.execute("INSERT INTO messages VALUES (?, 's1', ?, ?, 'gpt-5', ?, ?, NULL, 'openai')",
                   [message_id, role, body, AUG_10 + offset, AUG_10 + offset])
    db.commit()
    db.close()
    materialize_all(sandbox)

    assert query(sandbox, "SELECT call_id, tool_name, status, exit_code, status_reason, duration_ms, duration_source "
                          "FROM normalized.normalized_tool_calls WHERE source = 'crush' ORDER BY call_id") == [
        ("c1", "view", "ok", None, "flag", 100_000, "timestamps"),
        ("c2", "edit", "failed", None, "flag", 100_000, "timestamps"),
        ("c3", "bash", "failed", 2, "exit code", 2500, "recorded"),
        ("c4", "bash", "ok", None, "flag", 40, "recorded"),
        ("c5", "write", "rejected", None, "permission denied", 100_000, "timestamps"),
        ("c6", "edit", "interrupted", None, "canceled by user", 100_000, "timestamps"),  # not run: c5 was denied
        ("c7", "bash", "interrupted", None, "canceled by user", 100_000, "timestamps"),
        ("c8", "view", "pending", None, None, None, None),
    ]
