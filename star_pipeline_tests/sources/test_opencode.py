"""OpenCode: one call per assistant message, counted once whatever repeats it (the step-finish part, the
event log, the session's sums, a later update of the row, the pre-1.2 JSON file of the same message);
reasoning is added to output; a child session belongs to its parent; tool parts pair call and result."""

import json

from star_pipeline_tests.builders import CWD, epoch_ms, opencode_assistant, opencode_db, opencode_folder
from star_pipeline_tests.conftest import materialize_all, query

GLM, KIMI = "glm-4.7-free", "moonshotai/kimi-k2.6"


def usage(sandbox) -> list[tuple]:
    return query(sandbox, "SELECT session_id, agent_id, model, input_tokens, output_tokens, cache_read_input_tokens, "
                          "cache_creation_input_tokens, reasoning_output_tokens FROM normalized.normalized_usage "
                          "WHERE source = 'opencode' ORDER BY event_ts")


def part(db, part_id: str, message_id: str, session: str, data: dict) -> None:
    db.execute("INSERT INTO part VALUES (?, ?, ?, 1, 1, ?)", [part_id, message_id, session, json.dumps(data)])


def test_each_assistant_message_counts_once_in_our_token_semantics(sandbox):
    folder = opencode_folder(sandbox)
    db = opencode_db(folder / "opencode.db")
    db.execute("INSERT INTO session VALUES ('ses_1', 'global', NULL, 'eager', ?, 'Greeting', '1.17.3', ?, ?, 88, 130)",
               [CWD, epoch_ms(0), epoch_ms(9)])
    db.execute("INSERT INTO session VALUES ('ses_child', 'global', 'ses_1', 'sub', ?, 'Explore', '1.17.3', ?, ?, 5, 2)",
               [CWD, epoch_ms(3), epoch_ms(4)])
    streaming = opencode_assistant(1, KIMI, None)
    db.execute("INSERT INTO message VALUES ('msg_a', 'ses_1', 1, 1, ?)", [json.dumps(streaming)])
    assert materialize_all(sandbox).success
    done = opencode_assistant(1, KIMI, (88, 100, 30, 41092, 5))
    db.execute("UPDATE message SET data = ? WHERE id = 'msg_a'", [json.dumps(done)])
    part(db, "prt_1", "msg_a", "ses_1", {"type": "tool", "tool": "read", "callID": "functions.read:0",
                                         "state": {"status": "completed", "input": {"filePath": f"{CWD}/a.py"}, "output": "x"}})
    part(db, "prt_2", "msg_a", "ses_1", {"type": "tool", "tool": "bash", "callID": "functions.bash:1",
                                         "state": {"status": "error", "input": {"command": "make"}, "error": "exit 2"}})
    part(db, "prt_3", "msg_a", "ses_1", {"type": "step-finish", "reason": "stop", "tokens": done["tokens"], "cost": 0.01})
    db.execute("INSERT INTO event VALUES ('e1', 'ses_1', 1, 'message.updated.1', ?)", [json.dumps(done)])
    db.execute("INSERT INTO message VALUES ('msg_b', 'ses_child', 1, 1, ?)", [json.dumps(opencode_assistant(3, KIMI, (5, 2, 0, 0, 0)))])
    part(db, "prt_4", "msg_b", "ses_child", {"type": "tool", "tool": "read", "callID": "functions.read:0",
                                             "state": {"status": "running", "input": {"filePath": f"{CWD}/b.py"}}})
    # OpenCode before 1.2: the same message as a JSON file (the database's copy wins), and a session only there
    legacy = folder / "storage"
    (legacy / "message" / "ses_1").mkdir(parents=True)
    (legacy / "message" / "ses_1" / "msg_a.json").write_text(json.dumps(
        {"id": "msg_a", "sessionID": "ses_1"} | opencode_assistant(1, KIMI, (1, 1, 0, 0, 0)), indent=2))
    (legacy / "session" / "global").mkdir(parents=True)
    (legacy / "session" / "global" / "ses_old.json").write_text(json.dumps(
        {"id": "ses_old", "slug": "eager-rocket", "version": "1.1.48", "projectID": "global", "directory": CWD,
         "title": "Old", "time": {"created": epoch_ms(-100), "updated": epoch_ms(-50)}}, indent=2))
    (legacy / "message" / "ses_old").mkdir(parents=True)
    (legacy / "message" / "ses_old" / "msg_old.json").write_text(json.dumps(
        {"id": "msg_old", "sessionID": "ses_old"} | opencode_assistant(-90, GLM, (11234, 444, 270, 477, 0)), indent=2))
    assert materialize_all(sandbox).success

    assert usage(sandbox) == [
        ("ses_old", None, GLM, 11234, 444 + 270, 477, 0, 270),
        ("ses_1", None, KIMI, 88, 130, 41092, 5, 30),
        ("ses_1", "ses_child", KIMI, 5, 2, 0, 0, 0),
    ]
    assert query(sandbox, "SELECT session_key, file_kind, parent_session_id FROM normalized.normalized_sessions "
                          "WHERE source = 'opencode' ORDER BY session_key") == [
        ("ses_1", "main", None), ("ses_1:ses_child", "subagent", "ses_1"), ("ses_old", "main", None)]
    assert query(sandbox, "SELECT tool_name, status, target_path FROM normalized.normalized_tool_calls "
                          "WHERE source = 'opencode' ORDER BY call_id") == [
        ("read", "ok", f"{CWD}/a.py"), ("bash", "failed", None), ("read", "pending", f"{CWD}/b.py")]
    db.close()


def test_the_cost_opencode_recorded_is_the_calls_cost_and_a_zero_one_is_priced_from_the_tokens(sandbox):
    """As ccusage's OpenCode reader does: OpenCode writes 0 where it knows no price (its free and unknown models)."""
    db = opencode_db(opencode_folder(sandbox) / "opencode.db")
    db.execute("INSERT INTO session VALUES ('ses_1', 'global', NULL, 'eager', ?, 'Greeting', '1.17.3', ?, ?, 0, 0)",
               [CWD, epoch_ms(0), epoch_ms(9)])
    for message, ts, cost in (("msg_a", 1, 0.25), ("msg_b", 2, 0)):
        db.execute("INSERT INTO message VALUES (?, 'ses_1', 1, 1, ?)",
                   [message, json.dumps(opencode_assistant(ts, KIMI, (1000, 100, 0, 0, 0)) | {"cost": cost})])
    assert materialize_all(sandbox).success
    db.close()

    rows = query(sandbox, "SELECT recorded_cost_usd, cost_source, cost_usd, computed_cost_usd FROM aggregate.fact_token_usage "
                          "WHERE source = 'opencode' ORDER BY event_ts")
    assert [row[:3] for row in rows] == [(0.25, "recorded", 0.25), (None, "computed", rows[1][3])]
    assert rows[1][3] > 0 and rows[0][3] == rows[1][3]  # the same tokens priced alike
