"""Gemini CLI: cached inside input and thoughts outside output become our columns; a reply appended again
with the same id (.jsonl), a chat rewritten after every turn (.json) and a session split over two files
each count every call once; a sub-agent's chat belongs to its parent session; a rewrite stores the
changed messages, not the chat again."""

import json

from star_pipeline_tests.builders import gemini_chats, gemini_message, gemini_tool_call, write_gemini_chat
from star_pipeline_tests.conftest import materialize_all, materialize_usage, query

SESSION = "213a691a-a885-435f-ba58-41253473770f"
JSONL_SESSION = "75aa5d22-c4b2-4611-85a8-c672689ec935"
PRO, FLASH = "gemini-2.5-pro", "gemini-2.5-flash"


def usage(sandbox) -> list[tuple]:
    return query(sandbox, "SELECT session_id, model, input_tokens, output_tokens, cache_read_input_tokens, "
                          "reasoning_output_tokens, is_sidechain FROM normalized.normalized_usage WHERE source = 'gemini' "
                          "ORDER BY event_ts")


def test_every_shape_counts_each_call_once_in_our_token_semantics(sandbox):
    chats = gemini_chats(sandbox)
    read = gemini_tool_call("read_file", {"file_path": "/p/a.py"})
    failed = gemini_tool_call("run_shell_command", {"command": "make"}, status="error", output="exit 2")
    write_gemini_chat(chats / "session-2026-03-01T10-00-213a691a.json", SESSION, [
        gemini_message(0, "user", [{"text": "fix it"}]),
        gemini_message(1, "gemini", "Reading.", model=PRO, tokens=(35811, 111, 33650, 982, 5), toolCalls=[read, failed]),
        gemini_message(2, "gemini", "", model=PRO),  # cancelled: no tokens
        gemini_message(3, "info", "Request cancelled."),
    ])
    # the same session continued in a second file a minute later, with other messages
    write_gemini_chat(chats / "session-2026-03-01T10-01-213a691a.json", SESSION, [
        gemini_message(4, "gemini", "Done.", model=FLASH, tokens=(5015, 64, 0, 89, 0)),
    ])
    write_gemini_chat(chats / SESSION / "xs82vp.json", "xs82vp", [
        gemini_message(5, "gemini", "Sub.", model=FLASH, tokens=(200, 10, 100, 0, 0)),
    ], kind="subagent")
    reply = gemini_message(6, "gemini", "On it.", model=PRO)
    lines = [{"sessionId": JSONL_SESSION, "projectHash": "80f4", "startTime": "2026-03-01T10:00:06.000Z", "kind": "main"},
             gemini_message(6, "user", [{"text": "npm run dev"}]), {"$set": {"lastUpdated": "2026-03-01T10:00:06.000Z"}},
             reply, reply | {"tokens": {"input": 400, "output": 20, "cached": 300, "thoughts": 7, "tool": 0, "total": 427}}]
    (chats / "session-2026-03-01T10-06-75aa5d22.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (chats.parent / "logs.json").write_text(json.dumps([{"sessionId": SESSION, "type": "user", "message": "fix it"}]))
    assert materialize_all(sandbox).success

    assert usage(sandbox) == [
        (SESSION, PRO, 35811 - 33650 + 5, 111 + 982, 33650, 982, False),
        (SESSION, FLASH, 5015, 64 + 89, 0, 89, False),
        (SESSION, FLASH, 100, 10, 100, 0, True),
        (JSONL_SESSION, PRO, 100, 27, 300, 7, False),
    ]
    assert query(sandbox, "SELECT session_key, file_kind, parent_session_id, file_count FROM normalized.normalized_sessions "
                          "WHERE source = 'gemini' ORDER BY session_key") == [
        (SESSION, "main", None, 2), (f"{SESSION}:xs82vp", "subagent", SESSION, 1), (JSONL_SESSION, "main", None, 1)]
    assert query(sandbox, "SELECT tool_name, status, target_path FROM normalized.normalized_tool_calls "
                          "WHERE source = 'gemini' ORDER BY tool_name") == [
        ("read_file", "ok", "/p/a.py"), ("run_shell_command", "failed", None)]
    assert query(sandbox, "SELECT count(*) FROM raw.gemini_files WHERE path LIKE '%logs.json'") == [(0,)]


def test_a_chat_rewritten_after_every_turn_stores_the_new_messages_and_counts_each_call_once(sandbox):
    path = gemini_chats(sandbox) / "session-2026-03-01T10-00-213a691a.json"
    messages = []
    for turn in range(3):
        messages += [gemini_message(10 * turn, "user", [{"text": f"turn {turn} " + "x" * 5000}]),
                     gemini_message(10 * turn + 1, "gemini", "ok", model=PRO, tokens=(1000 + turn, 10, 500, 0, 0))]
        write_gemini_chat(path, SESSION, messages)
        assert materialize_all(sandbox).success

    assert [row[2] for row in usage(sandbox)] == [500, 501, 502]
    # each version stored its skeleton and its two new messages, never the earlier ones again
    assert query(sandbox, "SELECT file_version, count(*) FROM raw.gemini_lines GROUP BY 1 ORDER BY 1") == [
        (1, 3), (2, 3), (3, 3)]


def test_a_reply_appended_again_with_more_tokens_counts_once_as_last_written(sandbox):
    """A .jsonl chat appends a reply again, same id, each time it grows (here its tokens grow: the first copy
    was written mid-turn) and keeps going after a `$rewindTo`: each reply counts once, its last copy's tokens.
    The reply the rewind took back out of the conversation was still paid for, so it counts too."""
    prompt, again = gemini_message(0, "user", [{"text": "fix it"}]), gemini_message(10, "user", [{"text": "and test it"}])
    reply = gemini_message(1, "gemini", "Reading.", model=PRO, tokens=(1000, 10, 600, 5, 0))
    rewound = gemini_message(11, "gemini", "Testing.", model=PRO, tokens=(3000, 30, 2000, 0, 0))
    lines = [{"sessionId": JSONL_SESSION, "projectHash": "80f4", "startTime": "2026-03-01T10:00:00.000Z", "kind": "main"},
             prompt, {"$set": {"lastUpdated": "2026-03-01T10:00:00.000Z"}},
             reply, {"$set": {"lastUpdated": "2026-03-01T10:00:01.000Z"}},
             gemini_message(1, "gemini", "Reading.", id=reply["id"], model=PRO, tokens=(1000, 70, 600, 9, 0),
                            toolCalls=[gemini_tool_call("read_file", {"file_path": "/p/a.py"})]),
             again, rewound,
             {"$rewindTo": again["id"]},
             gemini_message(20, "user", [{"text": "just test it"}]),
             gemini_message(21, "gemini", "Tested.", model=FLASH, tokens=(4000, 40, 3500, 4, 0))]
    chat = gemini_chats(sandbox) / "session-2026-03-01T10-00-75aa5d22.jsonl"
    chat.parent.mkdir(parents=True)
    chat.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert materialize_usage(sandbox, "gemini").success

    assert [row[1:6] for row in usage(sandbox)] == [
        (PRO, 1000 - 600, 70 + 9, 600, 9),  # the reply's last copy, once
        (PRO, 3000 - 2000, 30, 2000, 0),  # rewound, but paid for
        (FLASH, 4000 - 3500, 40 + 4, 3500, 4),
    ]
