"""Goose: a session's usage is the running total its sessions row holds, counted once as last written, at
the session's start; a session with NULL tokens counts nothing (the real schema-v5 sample has one)."""

import json
import sqlite3

from star_pipeline_tests.conftest import materialize_all, query

SCHEMA = """
CREATE TABLE sessions (id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', description TEXT NOT NULL DEFAULT '',
    user_set_name BOOLEAN DEFAULT FALSE, session_type TEXT NOT NULL DEFAULT 'user', working_dir TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    extension_data TEXT DEFAULT '{}', total_tokens INTEGER, input_tokens INTEGER, output_tokens INTEGER,
    accumulated_total_tokens INTEGER, accumulated_input_tokens INTEGER, accumulated_output_tokens INTEGER,
    schedule_id TEXT, recipe_json TEXT, user_recipe_values_json TEXT);
CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL REFERENCES sessions(id),
    role TEXT NOT NULL, content_json TEXT NOT NULL, created_timestamp INTEGER NOT NULL,
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP, tokens INTEGER, metadata_json TEXT);
"""


def test_the_last_running_total_counts_once_and_null_tokens_nothing(sandbox):
    path = sandbox.home / ".local" / "share" / "goose" / "sessions" / "sessions.db"
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(SCHEMA)
    db.execute("INSERT INTO sessions (id, name, working_dir, created_at, accumulated_input_tokens, accumulated_output_tokens, "
               "input_tokens, output_tokens) VALUES ('20260301_1', 'CLI Session', '/home/u/proj', '2026-03-01 23:58:55', "
               "1000, 100, 600, 60)")
    db.execute("INSERT INTO sessions (id, working_dir, created_at) VALUES ('20260301_2', '/home/u/proj', '2026-03-01 10:00:00')")
    db.execute("INSERT INTO messages (session_id, role, content_json, created_timestamp) VALUES ('20260301_1', 'user', "
               "'[{\"type\": \"text\", \"text\": \"list the files\"}]', 1772409535)")
    assert materialize_all(sandbox).success
    db.execute("UPDATE sessions SET accumulated_input_tokens = 2500, accumulated_output_tokens = 180 WHERE id = '20260301_1'")
    assert materialize_all(sandbox).success

    assert query(sandbox, "SELECT session_id, strftime(event_ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S'), input_tokens, "
                          "output_tokens FROM normalized.normalized_usage WHERE source = 'goose'") == [
        ("20260301_1", "2026-03-01 23:58:55", 2500, 180)]
    assert query(sandbox, "SELECT message_text FROM normalized.normalized_messages WHERE source = 'goose' "
                          "AND record_type = 'messages'") == [("list the files",)]
    db.close()


def test_tool_calls_take_the_status_of_their_responses(sandbox):
    """A toolRequest paired with its toolResponse by id: toolResult.status success is ok, error failed; a request
    without a response is pending."""
    path = sandbox.home / ".local" / "share" / "goose" / "sessions" / "sessions.db"
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(SCHEMA)
    db.execute("INSERT INTO sessions (id, working_dir, created_at) VALUES ('20260301_1', '/home/u/proj', '2026-03-01 10:00:00')")

    def request(call_id, command):
        return {"type": "toolRequest", "id": call_id,
                "toolCall": {"status": "success", "value": {"name": "developer__shell", "arguments": {"command": command}}}}

    def response(call_id, status, value):
        return {"type": "toolResponse", "id": call_id, "toolResult": {"status": status, "value": value}}

    rows = [("assistant", [request("call_ls", "ls"), request("call_make", "make"), request("call_long", "sleep 99")]),
            ("user", [response("call_ls", "success", [{"type": "text", "text": "a.py"}])]),
            ("user", [response("call_make", "error", "Command failed: make: *** No targets")])]
    for n, (role, items) in enumerate(rows):
        db.execute("INSERT INTO messages (session_id, role, content_json, created_timestamp) VALUES (?, ?, ?, ?)",
                   ["20260301_1", role, json.dumps(items), 1772359200 + n])
    assert materialize_all(sandbox).success

    assert query(sandbox, "SELECT call_id, tool_name, status, status_reason, command FROM normalized.normalized_tool_calls "
                          "WHERE source = 'goose' ORDER BY call_id") == [
        ("call_long", "developer__shell", "pending", None, "sleep 99"),
        ("call_ls", "developer__shell", "ok", "status field", "ls"),
        ("call_make", "developer__shell", "failed", "status field", "make")]
    db.close()
