"""The token traps of FORMATS.md, end to end through the real Dagster assets.

Every test writes its own small transcript files (field names and nesting as
Claude Code and Codex write them), materializes everything in-process and
checks what a user would read in the normalized tables. Fixture numbers are
chosen so that each wrong rule (first line wins, sum every line, difference the
cumulative totals, count progress copies, ...) gives a different total.
"""

from __future__ import annotations

import io
import json
import shutil

import pytest

from star_pipeline.agent_side.hook import run_hook
from star_pipeline_tests.builders import (
    CWD, OPUS, SLUG, assistant, claude, codex_file, copied_into, cx, encode, session_file, session_meta, token_count,
    tool_result, tool_use, turn_context, usage, user, write_jsonl,
)
from star_pipeline_tests.conftest import Sandbox, materialize_all, query

# -- queries -------------------------------------------------------------------
def usage_rows(sandbox: Sandbox) -> list[tuple]:
    return query(sandbox, """
        SELECT session_id, message_id, input_tokens, output_tokens, cache_creation_input_tokens,
               cache_read_input_tokens, is_sidechain
        FROM normalized.normalized_usage ORDER BY event_ts, message_id""")


def totals(sandbox: Sandbox) -> tuple:
    return query(sandbox, """
        SELECT count(*), sum(input_tokens), sum(output_tokens), sum(cache_creation_input_tokens),
               sum(cache_read_input_tokens)
        FROM normalized.normalized_usage""")[0]


# == 1-6: Claude Code usage dedup ================================================
def test_split_message_keeps_the_line_with_the_largest_total(sandbox):
    s = "0b6e1f3c-2d4a-4c5b-9e8f-7a6b5c4d3e21"
    split = usage(3, 1, cc=1200, cr=15000, cc_1h=1200)  # placeholder output on the early lines
    write_jsonl(session_file(sandbox, s), [
        user(s, 0),
        assistant(s, 2, "msg_01SplitAAAA", "req_011SplitAAAA", split,
                  content=[{"type": "thinking", "thinking": "Look at the test first.", "signature": "EqMB"}]),
        assistant(s, 3, "msg_01SplitAAAA", "req_011SplitAAAA", split,
                  content=[{"type": "text", "text": "Reading the test."}]),
        assistant(s, 4, "msg_01SplitAAAA", "req_011SplitAAAA", usage(3, 412, cc=1200, cr=15000, cc_1h=1200),
                  content=[tool_use("toolu_01ReadA", "Read", file_path=f"{CWD}/test_app.py")]),
        user(s, 5, [tool_result("toolu_01ReadA", "def test_x(): ...")]),
        assistant(s, 7, "msg_01SingleBB", "req_011SingleBB", usage(9, 88, cr=16200)),
    ])
    materialize_all(sandbox)

    assert usage_rows(sandbox) == [
        (s, "msg_01SplitAAAA", 3, 412, 1200, 15000, False),
        (s, "msg_01SingleBB", 9, 88, 0, 16200, False),
    ]
    # first-line-wins would give 89 output tokens, summing every line 914
    assert totals(sandbox) == (2, 12, 500, 1200, 31200)
    assert query(sandbox, "SELECT cache_creation_1h_input_tokens FROM normalized.normalized_usage "
                          "WHERE message_id = 'msg_01SplitAAAA'") == [(1200,)]


def test_parent_copy_wins_over_sidechain_copy_with_equal_total(sandbox):
    s = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    same = usage(4, 230, cc=300, cr=9000)
    write_jsonl(session_file(sandbox, s), [
        user(s, 0, version="1.0.62"),
        # the sidechain copy comes first in the file: first-wins would keep it
        assistant(s, 2, "msg_01SharedCC", "req_011SharedCC", same, version="1.0.62", sidechain=True),
        assistant(s, 2, "msg_01SharedCC", "req_011SharedCC", same, version="1.0.62"),
        assistant(s, 6, "msg_01OtherDD", "req_011OtherDD", usage(5, 40, cr=9300), version="1.0.62"),
    ])
    materialize_all(sandbox)

    assert usage_rows(sandbox) == [
        (s, "msg_01SharedCC", 4, 230, 300, 9000, False),
        (s, "msg_01OtherDD", 5, 40, 0, 9300, False),
    ]
    assert totals(sandbox) == (2, 9, 270, 300, 18300)


def test_missing_request_id_dedups_by_message_id_alone(sandbox):
    s = "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"
    write_jsonl(session_file(sandbox, s), [
        user(s, 0, version="1.0.17"),
        assistant(s, 1, "msg_01NoReqEE", None, usage(6, 1, cr=4000), version="1.0.17",
                  content=[{"type": "text", "text": "Let me check."}]),
        assistant(s, 2, "msg_01NoReqEE", None, usage(6, 350, cr=4000), version="1.0.17",
                  content=[tool_use("toolu_01LsEE", "LS", path=CWD)]),
        user(s, 3, [tool_result("toolu_01LsEE", "- app.py")], version="1.0.17"),
        assistant(s, 4, "msg_01NoReqFF", None, usage(2, 60, cr=4400), version="1.0.17"),
    ])
    materialize_all(sandbox)

    assert usage_rows(sandbox) == [
        (s, "msg_01NoReqEE", 6, 350, 0, 4000, False),
        (s, "msg_01NoReqFF", 2, 60, 0, 4400, False),
    ]
    assert query(sandbox, "SELECT count(*) FROM normalized.normalized_usage WHERE request_id IS NULL") == [(2,)]
    assert totals(sandbox) == (2, 8, 410, 0, 8400)


def test_agent_progress_copies_and_task_summaries_are_not_counted(sandbox):
    s = "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a"
    agent = "a91c3e5"
    sub_tokens = usage(12, 900, cc=2500, cr=0)
    sub_record = assistant(s, 3, "msg_01SubGG", "req_011SubGG", sub_tokens, sidechain=True, agent_id=agent,
                           content=[{"type": "text", "text": "Found 3 call sites."}])
    progress = claude("progress", s, 3.5, data={
        "message": {"type": "assistant", "message": sub_record["message"], "requestId": "req_011SubGG",
                    "uuid": sub_record["uuid"], "timestamp": sub_record["timestamp"]},
        "normalizedMessages": [], "type": "agent_progress", "prompt": "", "agentId": agent,
    }, toolUseID="agent_msg_01SubGG", parentToolUseID="toolu_01TaskGG")
    write_jsonl(session_file(sandbox, s), [
        user(s, 0),
        assistant(s, 1, "msg_01MainGG", "req_011MainGG", usage(10, 20, cr=500),
                  content=[tool_use("toolu_01TaskGG", "Task", description="find callers", prompt="Find callers",
                                    subagent_type="Explore")]),
        progress,
        user(s, 5, [tool_result("toolu_01TaskGG", "Found 3 call sites.")], toolUseResult={
            "status": "completed", "agentId": agent, "totalDurationMs": 4100, "totalTokens": 3412,
            "totalToolUseCount": 2, "usage": usage(12, 900, cc=2500)}),
        assistant(s, 6, "msg_01MainHH", "req_011MainHH", usage(3, 15, cr=3420)),
    ])
    write_jsonl(sandbox.claude_root / SLUG / s / "subagents" / f"agent-{agent}.jsonl", [
        user(s, 2, "Find callers", sidechain=True, agent_id=agent),
        sub_record,
    ])
    materialize_all(sandbox)

    assert query(sandbox, "SELECT message_id, agent_id, output_tokens FROM normalized.normalized_usage "
                          "ORDER BY event_ts") == [
        ("msg_01MainGG", None, 20), ("msg_01SubGG", agent, 900), ("msg_01MainHH", None, 15)]
    # counting the progress copy (or the Task summary) would add 900 output / 2500 cache writes again
    assert totals(sandbox) == (3, 25, 935, 2500, 3920)


# A resumed session: its file sorts BEFORE the original's, and it starts with copies of the original's lines.
RESUMED_ORIGINAL = "9b2f4d6e-8a0c-4e2f-9a4c-6e8f0a2c4e6f"
RESUMED_COPY = "1c4e6a8c-0e2a-4c6e-8a0c-2e4a6c8e0a2c"


def read_call_and_result(session: str) -> tuple[dict, dict]:
    """A Read tool call with usage (msg_01ResumeXX) and its result, in `session`."""
    call = assistant(session, 5, "msg_01ResumeXX", "req_011ResumeXX", usage(4, 300, cc=2000),
                     content=[tool_use("toolu_01ReadXX", "Read", file_path=f"{CWD}/app.py")])
    return call, user(session, 6, [tool_result("toolu_01ReadXX", "print('hi')")])


def test_call_copied_into_resumed_session_counts_once_for_the_earlier_session(sandbox):
    original, resumed = RESUMED_ORIGINAL, RESUMED_COPY
    call_x, result_x = read_call_and_result(original)
    call_y = assistant(original, 10, "msg_01ResumeYY", "req_011ResumeYY", usage(6, 120, cr=2000))
    write_jsonl(session_file(sandbox, original), [user(original, 0), call_x, result_x, call_y])

    def copy(record: dict) -> dict:
        return copied_into(resumed, record)

    write_jsonl(session_file(sandbox, resumed), [
        copy(call_x), copy(result_x), copy(call_y),
        user(resumed, 3600, "Now add a test."),
        assistant(resumed, 3605, "msg_01ResumeZZ", "req_011ResumeZZ", usage(8, 77, cr=2100)),
    ])
    materialize_all(sandbox)

    assert usage_rows(sandbox) == [
        (original, "msg_01ResumeXX", 4, 300, 2000, 0, False),
        (original, "msg_01ResumeYY", 6, 120, 0, 2000, False),
        (resumed, "msg_01ResumeZZ", 8, 77, 0, 2100, False),
    ]
    per_session = dict(query(sandbox, "SELECT session_id, sum(output_tokens) FROM normalized.normalized_usage "
                                      "GROUP BY ALL"))
    assert per_session == {original: 420, resumed: 77}
    assert sum(per_session.values()) == totals(sandbox)[2] == 497  # counting both copies gives 917


def test_tool_call_and_resume_link_follow_the_session_that_started_first(sandbox):
    original, resumed = RESUMED_ORIGINAL, RESUMED_COPY
    call_x, result_x = read_call_and_result(original)
    write_jsonl(session_file(sandbox, original), [user(original, 0), call_x, result_x])
    write_jsonl(session_file(sandbox, resumed), [
        copied_into(resumed, call_x),
        copied_into(resumed, result_x),
        user(resumed, 3600, "Now add a test."),
    ])
    materialize_all(sandbox)

    seen = {
        "usage": query(sandbox, "SELECT session_id FROM normalized.normalized_usage"),
        "tool_calls": query(sandbox, "SELECT session_id, call_id, status FROM normalized.normalized_tool_calls"),
        "resume_links": query(sandbox, "SELECT from_session_key, to_session_key "
                                       "FROM normalized.normalized_session_links WHERE link_type = 'resume'"),
    }
    assert seen == {
        "usage": [(original,)],
        "tool_calls": [(original, "toolu_01ReadXX", "ok")],
        "resume_links": [(resumed, original)],
    }


def test_synthetic_zero_usage_message_is_not_an_api_call(sandbox):
    s = "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b"
    error = [{"type": "text", "text": "API Error: 529 Overloaded"}]
    synthetic = assistant(s, 2, "5a7c9e1b-3d5f-4a7c-9e1b-3d5f7a9c1e3b", None, usage(0, 0), model="<synthetic>",
                          content=error, isApiErrorMessage=True)
    # the same with a requestId, so this test does not lean on how calls without requestId are handled
    with_request = assistant(s, 4, "6b8d0f2c-4e6a-4b8d-8f2c-4e6a8b0d2f4c", "req_011SynthII", usage(0, 0),
                             model="<synthetic>", content=error, isApiErrorMessage=True)
    write_jsonl(session_file(sandbox, s), [
        user(s, 0),
        synthetic,
        with_request,
        user(s, 30, "continue"),
        assistant(s, 32, "msg_01RealII", "req_011RealII", usage(7, 64, cc=1500)),
    ])
    materialize_all(sandbox)

    assert query(sandbox, "SELECT message_id, model FROM normalized.normalized_usage") == [("msg_01RealII", OPUS)]
    assert totals(sandbox) == (1, 7, 64, 1500, 0)


# == 7: sessions by Claude Code version ==========================================
def test_subagent_compaction_and_inline_sidechain_sessions(sandbox):
    v10 = "5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c"
    v20 = "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d"
    v21 = "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"
    flat, sub, compact = "3f9a1c2e", "a4b5c6d", "acompact-7e8f9a"
    project = sandbox.claude_root / SLUG
    # 1.0.x: sidechain turns inline, no agentId
    write_jsonl(project / f"{v10}.jsonl", [
        user(v10, 0, version="1.0.62"),
        assistant(v10, 1, "msg_01V10A", "req_011V10A", usage(5, 50, cr=100), version="1.0.62"),
        user(v10, 2, "Search the repo", version="1.0.62", sidechain=True),
        assistant(v10, 3, "msg_01V10B", "req_011V10B", usage(6, 60, cr=200), version="1.0.62", sidechain=True),
        assistant(v10, 4, "msg_01V10C", "req_011V10C", usage(7, 70, cr=300), version="1.0.62"),
    ])
    # 2.0.x: flat agent-<8hex>.jsonl next to the session (a Warmup file)
    write_jsonl(project / f"{v20}.jsonl", [
        user(v20, 10, version="2.0.30"),
        assistant(v20, 11, "msg_01V20A", "req_011V20A", usage(8, 80, cr=400), version="2.0.30"),
    ])
    write_jsonl(project / f"agent-{flat}.jsonl", [
        user(v20, 9, "Warmup", version="2.0.30", sidechain=True, agent_id=flat),
        assistant(v20, 9.5, "msg_01V20W", "req_011V20W", usage(9, 90, cc=500), version="2.0.30", sidechain=True,
                  agent_id=flat),
    ])
    # 2.1.x: <sessionId>/subagents/agent-<id>.jsonl and agent-acompact-<hex>.jsonl
    main21 = [user(v21, 20), assistant(v21, 21, "msg_01V21A", "req_011V21A", usage(10, 100, cr=500))]
    write_jsonl(project / f"{v21}.jsonl", main21)
    write_jsonl(project / v21 / "subagents" / f"agent-{sub}.jsonl", [
        user(v21, 22, "Explore the tests", sidechain=True, agent_id=sub),
        assistant(v21, 23, "msg_01V21S", "req_011V21S", usage(11, 110, cc=600), sidechain=True, agent_id=sub),
    ])
    write_jsonl(project / v21 / "subagents" / f"agent-{compact}.jsonl", [
        user(v21, 30, "Summarize the conversation", sidechain=True, agent_id=compact, parent=main21[-1]["uuid"]),
        assistant(v21, 31, "msg_01V21K", "req_011V21K", usage(12, 120, cr=700), sidechain=True, agent_id=compact),
    ])
    materialize_all(sandbox)

    sessions = query(sandbox, """
        SELECT session_key, session_id, agent_id, file_kind, parent_session_id, record_count
        FROM normalized.normalized_sessions ORDER BY session_key""")
    assert sessions == sorted([
        (v10, v10, None, "main", None, 3),
        (f"{v10}:sidechain", v10, None, "inline_sidechain", v10, 2),
        (v20, v20, None, "main", None, 2),
        (f"{v20}:{flat}", v20, flat, "subagent", v20, 2),
        (v21, v21, None, "main", None, 2),
        (f"{v21}:{sub}", v21, sub, "subagent", v21, 2),
        (f"{v21}:{compact}", v21, compact, "compaction", v21, 2),
    ])
    links = query(sandbox, "SELECT link_type, from_session_key, to_session_key "
                           "FROM normalized.normalized_session_links ORDER BY ALL")
    assert links == sorted([
        ("subagent", f"{v10}:sidechain", v10),
        ("subagent", f"{v20}:{flat}", v20),
        ("subagent", f"{v21}:{sub}", v21),
        ("compaction", f"{v21}:{compact}", v21),
    ])
    # agent calls are attributed to the parent session and carry their agent id
    by_agent = query(sandbox, "SELECT session_id, agent_id, is_sidechain, sum(output_tokens) "
                              "FROM normalized.normalized_usage GROUP BY ALL ORDER BY ALL")
    assert by_agent == sorted([
        (v10, None, False, 120), (v10, None, True, 60),
        (v20, None, False, 80), (v20, flat, True, 90),
        (v21, None, False, 100), (v21, sub, True, 110), (v21, compact, True, 120),
    ], key=lambda r: (r[0], r[1] is None, r[1] or "", r[2]))
    assert totals(sandbox)[2] == 680


# == 8-9: Codex ================================================================
def test_codex_token_counts(sandbox):
    a = "0199a3c1-7e2b-7c50-9d4e-2f1a6b8c9d0e"
    b = "0199a3c2-1111-7222-8333-444455556666"
    write_jsonl(codex_file(sandbox, a), [
        session_meta(a, 0),
        turn_context(1, "gpt-5-codex"),
        cx(1.5, "event_msg", {"type": "user_message", "message": "fix the build", "images": []}),
        token_count(2, None),  # rate limits only
        token_count(3, (1000, 200, 50, 10)),
        token_count(4, None),
        token_count(5, (1000, 200, 50, 10)),  # re-emit: unchanged totals
        turn_context(6, "gpt-5.2"),
        token_count(7, (2500, 1200, 130, 30), (1500, 1000, 80, 20)),
        # the conversation was reset: cumulative totals drop back
        token_count(8, (600, 0, 40, 0), (600, 0, 40, 0)),
        token_count(9, (600, 0, 40, 0), (600, 0, 40, 0)),  # re-emit
        token_count(10, (1400, 500, 100, 5), (800, 500, 60, 5)),
    ])
    write_jsonl(codex_file(sandbox, b, stamp="2026-03-01T11-00-00"), [
        session_meta(b, 3600),
        cx(3601, "event_msg", {"type": "user_message", "message": "hello", "images": []}),
        token_count(3602, (300, 100, 20, 0)),
    ])
    materialize_all(sandbox)

    rows = query(sandbox, """
        SELECT session_id, model, model_is_fallback, count(*), sum(input_tokens), sum(cache_read_input_tokens),
               sum(output_tokens), sum(reasoning_output_tokens), sum(cache_creation_input_tokens)
        FROM normalized.normalized_usage GROUP BY ALL ORDER BY ALL""")
    assert rows == [
        (a, "gpt-5-codex", False, 1, 800, 200, 50, 10, 0),
        (a, "gpt-5.2", False, 3, 500 + 600 + 300, 1000 + 0 + 500, 80 + 40 + 60, 20 + 0 + 5, 0),
        (b, "gpt-5", True, 1, 200, 100, 20, 0, 0),
    ]
    # differencing the totals would give 1400 input in all for `a`; summing re-emits 5500
    assert query(sandbox, f"SELECT sum(input_tokens + cache_read_input_tokens) FROM normalized.normalized_usage "
                          f"WHERE session_id = '{a}'") == [(3900,)]


def test_codex_legacy_rollout_messages_and_tool_calls(sandbox):
    s = "5973b6c0-94b8-487b-a530-2aeb6098ae0e"
    path = codex_file(sandbox, s, day="2025/05/07", stamp="2025-05-07T17-24-21")
    write_jsonl(path, [
        {"id": s, "timestamp": "2025-05-07T17:24:21.123Z", "instructions": "Be terse.",
         "git": {"commit_hash": "9d8c7b6", "branch": "main", "repository_url": "https://github.com/u/proj.git"}},
        {"record_type": "state"},
        {"type": "message", "id": None, "role": "user",
         "content": [{"type": "input_text", "text": "list the files"}]},
        {"record_type": "state"},
        {"type": "reasoning", "id": "rs_01", "summary": [], "duration_ms": 812},
        {"type": "function_call", "id": "fc_01", "name": "shell",
         "arguments": "{\"command\":[\"ls\"],\"workdir\":\"/w\"}", "call_id": "c1"},
        {"type": "function_call_output", "call_id": "c1",
         "output": "{\"output\":\"app.py\\nREADME.md\\n\",\"metadata\":{\"exit_code\":0,\"duration_seconds\":0.1}}"},
        {"type": "message", "id": "msg_01", "role": "assistant",
         "content": [{"type": "output_text", "text": "Two files."}]},
        {"record_type": "state"},
    ])
    materialize_all(sandbox)

    assert query(sandbox, "SELECT count(*) FROM normalized.normalized_usage") == [(0,)]
    assert query(sandbox, "SELECT count(*) FROM normalized.normalized_parse_errors") == [(0,)]
    kinds = query(sandbox, "SELECT record_type, subtype, role, session_id FROM normalized.normalized_messages "
                           "ORDER BY byte_offset")
    assert kinds == [
        ("legacy_session_meta", None, None, s),
        ("legacy_state", None, None, s),
        ("legacy_item", "message", "user", s),
        ("legacy_state", None, None, s),
        ("legacy_item", "reasoning", None, s),
        ("legacy_item", "function_call", None, s),
        ("legacy_item", "function_call_output", None, s),
        ("legacy_item", "message", "assistant", s),
        ("legacy_state", None, None, s),
    ]
    assert query(sandbox, "SELECT session_id, call_id, tool_name, status, target_path, is_error "
                          "FROM normalized.normalized_tool_calls") == [(s, "c1", "shell", "ok", "/w", False)]
    assert query(sandbox, "SELECT session_key, file_kind, git_branch, git_repository_url, record_count "
                          "FROM normalized.normalized_sessions") == [
        (s, "main", "main", "https://github.com/u/proj.git", 9)]


# == 10: Claude tool calls ======================================================
def test_claude_tool_calls_pair_with_results(sandbox):
    s = "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f"
    write_jsonl(session_file(sandbox, s), [
        user(s, 0),
        assistant(s, 1, "msg_01ToolsR", "req_011ToolsR", usage(3, 40, cr=900),
                  content=[tool_use("toolu_01Read", "Read", file_path=f"{CWD}/src/app.py")]),
        user(s, 1.25, [tool_result("toolu_01Read", "import os\n")]),
        assistant(s, 2, "msg_01ToolsB", "req_011ToolsB", usage(3, 50, cr=1000),
                  content=[tool_use("toolu_01Bash", "Bash", command="pytest -x", description="run tests")]),
        user(s, 3.5, [tool_result("toolu_01Bash", "1 failed", is_error=True)],
             toolUseResult="Error: 1 failed"),
        assistant(s, 4, "msg_01ToolsT", "req_011ToolsT", usage(3, 60, cr=1100),
                  content=[tool_use("toolu_01Task", "Task", description="find flaky tests",
                                    prompt="Find flaky tests", subagent_type="Explore")]),
    ])
    materialize_all(sandbox)

    rows = query(sandbox, """
        SELECT call_id, tool_name, target_path, subagent_type, duration_ms, is_error, status
        FROM normalized.normalized_tool_calls ORDER BY called_at""")
    assert rows == [
        ("toolu_01Read", "Read", f"{CWD}/src/app.py", None, 250, False, "ok"),
        ("toolu_01Bash", "Bash", CWD, None, 1500, True, "failed"),
        ("toolu_01Task", "Task", None, "Explore", None, None, "pending"),
    ]


# == 11: incremental convergence ================================================
def test_split_message_across_two_runs_converges_to_one_row(sandbox):
    s = "9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"
    path = session_file(sandbox, s)
    first = usage(5, 1, cc=800, cr=12000)
    write_jsonl(path, [
        user(s, 0),
        assistant(s, 1, "msg_01LiveJJ", "req_011LiveJJ", first,
                  content=[{"type": "thinking", "thinking": "Plan.", "signature": "EqMB"}]),
        assistant(s, 2, "msg_01LiveJJ", "req_011LiveJJ", first, content=[{"type": "text", "text": "Editing."}]),
    ])
    materialize_all(sandbox)
    assert usage_rows(sandbox) == [(s, "msg_01LiveJJ", 5, 1, 800, 12000, False)]

    write_jsonl(path, [
        assistant(s, 3, "msg_01LiveJJ", "req_011LiveJJ", usage(5, 640, cc=800, cr=12000),
                  content=[tool_use("toolu_01EditJJ", "Edit", file_path=f"{CWD}/app.py", old_string="a",
                                    new_string="b")]),
        user(s, 4, [tool_result("toolu_01EditJJ", "The file has been updated.")]),
    ], append=True)
    materialize_all(sandbox)

    assert usage_rows(sandbox) == [(s, "msg_01LiveJJ", 5, 640, 800, 12000, False)]
    assert query(sandbox, """
        SELECT count(*), count(DISTINCT (source, path, file_version, byte_offset))
        FROM normalized.normalized_messages""") == [(5, 5)]
    assert query(sandbox, "SELECT call_id, status FROM normalized.normalized_tool_calls") == [("toolu_01EditJJ", "ok")]


# == 12: corrupt lines ==========================================================
def _corrupt_case(kind: str, s: str) -> bytes:
    glued = encode(assistant(s, 4, "msg_01GluedKK", "req_011GluedKK", usage(1, 1000))) + encode(user(s, 5))
    return {
        "nul_run": b"\x00" * 64,
        "invalid_utf8": encode(user(s, 4, "caf\u00e9")).replace("\u00e9".encode(), b"\xe9"),
        "glued": glued,
        "truncated": encode(assistant(s, 4, "msg_01CutKK", "req_011CutKK", usage(1, 1000)))[:150],
        "empty": b"",
    }[kind]


CORRUPT_REASONS = {
    "nul_run": "contains NUL bytes",
    "invalid_utf8": "invalid UTF-8",
    "glued": "not valid JSON (records glued on one line?)",
    "truncated": "not valid JSON",
    "empty": "empty line",
}


@pytest.mark.parametrize("kind", list(CORRUPT_REASONS))
def test_corrupt_line_is_a_parse_error_and_its_neighbours_still_count(sandbox, kind):
    s = "0e1f2a3b-4c5d-4e6f-9a7b-8c9d0e1f2a3b"
    write_jsonl(session_file(sandbox, s), [
        user(s, 0),
        assistant(s, 2, "msg_01BeforeKK", "req_011BeforeKK", usage(4, 111, cr=3000)),
        _corrupt_case(kind, s),
        user(s, 6, "go on"),
        assistant(s, 8, "msg_01AfterKK", "req_011AfterKK", usage(5, 222, cr=3100)),
    ])
    materialize_all(sandbox)

    assert query(sandbox, "SELECT source, line_number, reason FROM normalized.normalized_parse_errors") == [
        ("claude_code", 3, CORRUPT_REASONS[kind])]
    assert totals(sandbox) == (2, 9, 333, 0, 6100)
    assert query(sandbox, "SELECT count(*) FROM normalized.normalized_messages") == [(4,)]


def test_lone_surrogate_escape_keeps_the_records_usage(sandbox):
    s = "1f2a3b4c-5d6e-4f7a-8b8c-9d0e1f2a3b4c"
    cut = assistant(s, 2, "msg_01SurrLL", "req_011SurrLL", usage(4, 321, cr=3000),
                    content=[{"type": "text", "text": "Done \ud83d"}])
    line = json.dumps(cut, separators=(",", ":")).encode()  # ensure_ascii: the lone surrogate stays "\ud83d"
    assert b"\\ud83d" in line and json.loads(line)["message"]["usage"]["output_tokens"] == 321
    write_jsonl(session_file(sandbox, s), [user(s, 0), line])
    materialize_all(sandbox)

    assert totals(sandbox) == (1, 4, 321, 0, 3000)


def test_a_lone_surrogate_does_not_spoil_a_valid_emoji_pair_on_the_same_line(sandbox):
    s = "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d"
    cut = assistant(s, 2, "msg_01SurrPair", "req_011SurrPair", usage(4, 5),
                    content=[{"type": "text", "text": "smile \U0001f600 then cut \ud83d"}])
    line = json.dumps(cut, separators=(",", ":")).encode()
    assert b"\\ud83d\\ude00" in line and line.count(b"\\ud83d") == 2
    write_jsonl(session_file(sandbox, s), [user(s, 0), line])
    materialize_all(sandbox)

    (text,) = query(sandbox, "SELECT message_text FROM normalized.normalized_messages WHERE message_id = 'msg_01SurrPair'")[0]
    assert text == "smile \U0001f600 then cut \ufffd"  # the pair stays an emoji; only the lone half is replaced


# == 13: hook spool =============================================================
def test_hook_spool_events_and_non_json_payload(sandbox):
    payload = {
        "session_id": "2a3b4c5d-6e7f-4a8b-9c9d-0e1f2a3b4c5d",
        "transcript_path": f"/home/u/.claude/projects/{SLUG}/2a3b4c5d-6e7f-4a8b-9c9d-0e1f2a3b4c5d.jsonl",
        "cwd": CWD,
        "permission_mode": "default",
        "hook_event_name": "PostToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "pytest -x", "description": "run tests"},
        "tool_response": {"stdout": "1 passed", "stderr": "", "interrupted": False, "isImage": False},
        "tool_use_id": "toolu_01HookMM",
        "duration_ms": 1834,
    }
    assert run_hook(str(sandbox.spool_dir), stdin=io.BytesIO(json.dumps(payload).encode())) == 0
    assert run_hook(str(sandbox.spool_dir), stdin=io.BytesIO(b"PostToolUse: not json {")) == 0
    materialize_all(sandbox)

    events = query(sandbox, """
        SELECT event_name, session_id, tool_name, tool_use_id, duration_ms, cwd, permission_mode,
               received_at IS NOT NULL
        FROM normalized.normalized_hook_events""")
    assert events == [("PostToolUse", payload["session_id"], "Bash", "toolu_01HookMM", 1834, CWD, "default", True)]
    assert query(sandbox, "SELECT source, line_number, reason FROM normalized.normalized_parse_errors") == [
        ("hook_spool", 2, "hook payload was not JSON (kept as text in the spool)")]


# == 14: incremental run == rebuild =============================================
def _snapshot(sandbox: Sandbox) -> dict[str, list]:
    """The tables an incremental run updates in place, without the columns that say when a row was written."""
    snapshot = {}
    for schema, table in (("normalized", "normalized_usage"), ("normalized", "normalized_sessions"),
                          ("normalized", "normalized_tool_calls"), ("normalized", "normalized_session_links"),
                          ("aggregate", "fact_token_usage")):
        columns = query(sandbox, "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                                 "AND table_name = ? ORDER BY ordinal_position", [schema, table])
        columns = [c for (c,) in columns if c not in ("normalize_run_id", "inserted_at")]
        select = ", ".join(f'"{c}"' for c in columns)
        snapshot[table] = query(sandbox, f"SELECT {select} FROM {schema}.{table} ORDER BY ALL")
    return snapshot


def test_incremental_runs_equal_a_rebuild_from_the_same_files(sandbox):
    """Later runs recompute only what their new lines can change (usage, sessions, tool calls,
    links and the calls' facts are written by key: 'upsert'), and that includes rows of files that did not change: a call
    whose result and final token counts arrive only in a resumed session's new file, a resumed session
    whose original arrives later, and (in a third run) a Codex session whose longer copy appears
    elsewhere (its rows move to other byte offsets)."""
    s = "3b4c5d6e-7f8a-4b9c-8d0e-1f2a3b4c5d6e"
    agent = "b7c8d9e"
    cxs = "0199a3c3-2222-7333-8444-555566667777"
    main = session_file(sandbox, s)
    sub = sandbox.claude_root / SLUG / s / "subagents" / f"agent-{agent}.jsonl"
    rollout = codex_file(sandbox, cxs)
    placeholder = usage(2, 1, cc=700, cr=5000)
    write_jsonl(main, [
        user(s, 0),
        assistant(s, 1, "msg_01RebuildNN", "req_011RebuildNN", placeholder,
                  content=[{"type": "text", "text": "Delegating."}]),
    ])
    write_jsonl(sub, [user(s, 2, "Explore", sidechain=True, agent_id=agent)])
    write_jsonl(rollout, [session_meta(cxs, 0), turn_context(1, "gpt-5-codex"), token_count(2, (900, 100, 30, 5))])
    original, resumed = RESUMED_ORIGINAL, RESUMED_COPY
    call_x, result_x = read_call_and_result(original)  # msg_01ResumeXX: 4 in, 300 out, 2000 cache writes
    write_jsonl(session_file(sandbox, original), [user(original, 0), call_x])
    # a resumed session whose original arrives only in the second run (e.g. synced late)
    late_original, early_copy = "5d6e7f8a-9b0c-4d1e-8f2a-3b4c5d6e7f8a", "2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b"
    late_records = [user(late_original, 0), assistant(late_original, 2, "msg_01LateLL", "req_011LateLL", usage(7, 70))]
    write_jsonl(session_file(sandbox, early_copy),
                [*(copied_into(early_copy, r) for r in late_records), user(early_copy, 3600, "Continue.")])
    # a second copy that ends first: until the original arrives, early_copy resumes it (a link that must go)
    middle_copy = "4a5b6c7d-8e9f-4a0b-8c1d-2e3f4a5b6c7d"
    write_jsonl(session_file(sandbox, middle_copy),
                [*(copied_into(middle_copy, r) for r in late_records), user(middle_copy, 1800, "Go on.")])
    materialize_all(sandbox)
    assert query(sandbox, "SELECT from_session_key, to_session_key FROM normalized.normalized_session_links "
                          "WHERE link_type = 'resume'") == [(early_copy, middle_copy)]

    write_jsonl(main, [
        assistant(s, 1.5, "msg_01RebuildNN", "req_011RebuildNN", usage(2, 180, cc=700, cr=5000),
                  content=[tool_use("toolu_01TaskNN", "Task", description="explore", prompt="Explore",
                                    subagent_type="Explore")]),
        user(s, 6, [tool_result("toolu_01TaskNN", "Found it.")]),
        assistant(s, 7, "msg_01RebuildOO", "req_011RebuildOO", usage(3, 33, cr=5900)),
    ], append=True)
    write_jsonl(sub, [
        assistant(s, 3, "msg_01RebuildSS", "req_011RebuildSS", usage(9, 99, cc=400), sidechain=True, agent_id=agent,
                  content=[tool_use("toolu_01GrepSS", "Grep", pattern="TODO", path=CWD)]),
        user(s, 4, [tool_result("toolu_01GrepSS", "app.py:3")], sidechain=True, agent_id=agent),
    ], append=True)
    write_jsonl(rollout, [
        token_count(3, (900, 100, 30, 5)),
        turn_context(4, "gpt-5.2"),
        token_count(5, (2000, 600, 70, 9), (1100, 500, 40, 4)),
    ], append=True)
    final_x = assistant(original, 5.5, "msg_01ResumeXX", "req_011ResumeXX", usage(4, 350, cc=2000))
    write_jsonl(session_file(sandbox, resumed), [
        copied_into(resumed, call_x), copied_into(resumed, final_x), copied_into(resumed, result_x),
        user(resumed, 3600, "Now add a test."),
    ])
    write_jsonl(session_file(sandbox, late_original), late_records)
    materialize_all(sandbox)
    assert totals(sandbox) == (7, 2 + 3 + 9 + 800 + 600 + 4 + 7, 180 + 33 + 99 + 30 + 40 + 350 + 70, 1100 + 2000, 10900 + 100 + 500)
    # the unchanged early copy now resumes the late original, which owns the copied call
    assert query(sandbox, "SELECT from_session_key, to_session_key FROM normalized.normalized_session_links "
                          "WHERE link_type = 'resume' ORDER BY ALL") == sorted(
        [(resumed, original), (early_copy, late_original), (middle_copy, late_original)])
    assert query(sandbox, "SELECT session_id FROM normalized.normalized_usage WHERE message_id = 'msg_01LateLL'") == [(late_original,)]
    assert query(sandbox, "SELECT session_id, status FROM normalized.normalized_tool_calls WHERE call_id = 'toolu_01ReadXX'") \
        == [(original, "ok")]
    last_writes = query(sandbox, """
        SELECT asset_key, arg_max(write_mode, started_at) FROM meta_load_log
        WHERE asset_key IN ('normalized/normalized_usage', 'normalized/normalized_sessions',
                            'normalized/normalized_tool_calls', 'normalized/normalized_session_links')
        GROUP BY ALL ORDER BY ALL""")
    assert [mode for _, mode in last_writes] == ["upsert"] * 4

    # a third run with no new model (a new model changes dim_model, and the facts are priced again in full):
    # a call's final line arrives, so its fact changes
    write_jsonl(main, [assistant(s, 7.5, "msg_01RebuildOO", "req_011RebuildOO", usage(3, 66, cr=5900))], append=True)
    # and a longer copy of the rollout elsewhere (one more line first) becomes the one that counts: the
    # session's calls move to other byte offsets, so their old rows and facts must go
    write_jsonl(codex_file(sandbox, cxs, day="2026/03/02"), [
        turn_context(0.5, "gpt-5-codex"), session_meta(cxs, 0), turn_context(1, "gpt-5-codex"),
        token_count(2, (900, 100, 30, 5)), token_count(3, (900, 100, 30, 5)), turn_context(4, "gpt-5.2"),
        token_count(5, (2000, 600, 70, 9), (1100, 500, 40, 4)),
    ])
    materialize_all(sandbox)
    assert totals(sandbox)[0] == 7
    assert query(sandbox, "SELECT arg_max(write_mode, started_at) FROM meta_load_log "
                          "WHERE asset_key = 'aggregate/fact_token_usage'") == [("upsert",)]
    assert query(sandbox, "SELECT output_tokens FROM aggregate.fact_token_usage WHERE message_id = 'msg_01RebuildOO'") \
        == [(66,)]
    incremental = _snapshot(sandbox)

    for leftover in sandbox.warehouse.parent.glob(sandbox.warehouse.name + "*"):
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()  # the spill folder too
    # Migrations run once per process and warehouse path (a new `star-pipeline` process would apply them
    # again); this test stays in one process, so the rebuilt warehouse gets a path of its own.
    sandbox.warehouse = sandbox.root / "rebuilt" / "warehouse.duckdb"
    sandbox.write_config()
    materialize_all(sandbox)
    assert _snapshot(sandbox) == incremental
