"""GitHub Copilot CLI: a run's usage at its shutdown, per model, with the cache taken out of the input;
compactions counted apart and booked to the session's model; a run killed before its shutdown has none."""

from star_pipeline_tests.builders import copilot_event, copilot_file, copilot_shutdown, write_jsonl
from star_pipeline_tests.conftest import materialize_all, query

S = "252d6b6b-aaad-4790-8254-7ada091ee9fc"
KILLED = "9a493a94-a307-489e-8bc7-d16f4afcd992"


def test_shutdown_totals_per_model_and_compactions_apart(sandbox):
    write_jsonl(copilot_file(sandbox, S), [
        copilot_event(0, "session.start", {"sessionId": S, "copilotVersion": "1.0.60", "selectedModel": "claude-haiku-4.5",
                                           "context": {"cwd": "/home/u/proj", "branch": "main"}}),
        copilot_event(1, "user.message", {"content": "fix the typos"}),
        copilot_event(40, "session.compaction_complete", {"success": True, "requestId": "req-compact",
                      "compactionTokensUsed": {"input": 176397, "output": 1807, "cachedInput": 0}}),
        copilot_shutdown(600, {"claude-haiku-4.5": (1884297, 6391, 1495724, 0, 0),
                               "claude-sonnet-4.6": (363143, 2314, 321789, 37826, 328)}),
        copilot_event(700, "session.resume", {}),
        copilot_shutdown(800, {}),  # a resumed run that made no call
    ])
    write_jsonl(copilot_file(sandbox, KILLED), [
        copilot_event(0, "session.start", {"sessionId": KILLED, "selectedModel": "claude-sonnet-4.6"}),
        copilot_event(1, "assistant.message", {"model": "claude-sonnet-4.6", "content": "on it", "outputTokens": 12}),
    ])
    materialize_all(sandbox)

    rows = query(sandbox, "SELECT model, input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens, "
                          "reasoning_output_tokens FROM normalized.normalized_usage WHERE source = 'copilot' "
                          "ORDER BY event_ts, model")
    assert rows == [
        ("claude-haiku-4.5", 176397, 1807, 0, 0, 0),  # the compaction, at its own time, the session's model
        ("claude-haiku-4.5", 1884297 - 1495724, 6391, 0, 1495724, 0),
        ("claude-sonnet-4.6", 363143 - 321789 - 37826, 2314, 37826, 321789, 328),
    ]


def test_the_session_folder_and_the_history_files_are_kept_and_read(sandbox):
    import json
    import os
    import sqlite3

    folder = copilot_file(sandbox, S).parent
    write_jsonl(folder / "events.jsonl", [copilot_event(0, "session.start", {"sessionId": S})])
    workspace = folder / "workspace.yaml"
    workspace.write_text(f"id: {S}\ncwd: /home/u/proj\ngit_root: /home/u/proj\nrepository: u/proj\nbranch: fix-typos\n"
                         "name: hi\ncreated_at: 2026-03-01T10:00:00.000Z\n")
    os.utime(workspace, (1, 1))  # YAML is never whole JSON: it is stored once it has been quiet
    db = sqlite3.connect(folder / "session.db")
    db.executescript("CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, status TEXT);"
                     "INSERT INTO todos VALUES ('t1', 'Fix the typos', 'pending');")
    db.commit()
    db.close()
    history = sandbox.home / ".copilot" / "history-session-state" / "session_e02997e2-e7e7-46ae-8027-b1a73e0cb908_1761492781060.json"
    history.parent.mkdir(parents=True)
    history.write_text(json.dumps({"sessionId": "e02997e2-e7e7-46ae-8027-b1a73e0cb908", "startTime": "2025-10-26T15:33:01.060Z",
        "chatMessages": [{"role": "user", "content": "is the essay system done?"},
                         {"role": "assistant", "content": "", "tool_calls": [{"id": "call_a", "type": "function",
                          "function": {"name": "get_file_contents", "arguments": "{\"path\": \"/README.md\"}"}}]},
                         {"role": "tool", "tool_call_id": "call_a", "content": "# Learning Notebook"}],
        "timeline": [{"id": "t-1", "timestamp": "2025-10-26T15:33:04.316Z", "type": "info", "text": "Connected"}],
        "selectedModel": "gpt-5"}, indent=2))
    assert materialize_all(sandbox).success

    assert query(sandbox, "SELECT session_id, project_cwd, git_branch FROM normalized.normalized_sessions "
                          "WHERE source = 'copilot' ORDER BY 1") == [
        (S, "/home/u/proj", "fix-typos"), ("e02997e2-e7e7-46ae-8027-b1a73e0cb908", None, None)]
    assert query(sandbox, "SELECT tool_name, status, target_path FROM normalized.normalized_tool_calls "
                          "WHERE source = 'copilot'") == [("get_file_contents", "unknown", "/README.md")]  # no outcome kept
    assert query(sandbox, "SELECT record_type, message_text FROM normalized.normalized_messages WHERE source = 'copilot' "
                          "AND record_type IN ('history.message', 'session_db.todos') AND message_text <> '' ORDER BY 1") == [
        ("history.message", "is the essay system done?"), ("session_db.todos", "Fix the typos")]
    assert query(sandbox, "SELECT count(*) FROM normalized.normalized_parse_errors WHERE source = 'copilot'") == [(0,)]
