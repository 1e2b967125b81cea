"""Parallel subagents on the session page: two Task calls whose times overlap, each subagent nested under the call
whose result names it (Claude Code's toolUseResult.agentId), not under the call its times would suggest."""

import duckdb
import pytest

from star_pipeline.dashboard import pages
from star_pipeline.reports.reader import READER_CONFIG
from star_pipeline.storage.warehouse import load_extension
from star_pipeline.storage.published_copies import search_copy_path
from star_pipeline_tests.builders import SLUG, assistant, session_file, tool_result, tool_use, usage, user, write_jsonl
from star_pipeline_tests.conftest import build_once, use_sandbox

LEAD = "5e6f7081-0000-4000-8000-00000000d101"
FIRST_AGENT, SECOND_AGENT = "a0000000000000a01", "a0000000000000b02"


def task_result(call_id: str, agent_id: str, agent_type: str, ts: float) -> dict:
    """The result line of a Task call, with the toolUseResult Claude Code writes beside it."""
    line = user(LEAD, ts, [tool_result(call_id, f"{agent_type} done")])
    return {**line, "toolUseResult": {"status": "completed", "agentId": agent_id, "agentType": agent_type,
                                      "content": [{"type": "text", "text": "done"}], "totalTokens": 100}}


def write_parallel(sandbox) -> None:
    """Two Task calls at 1 s and 2 s, both running until 60 s: the Explore agent (started by the FIRST call) runs
    from 3 s, the Plan agent (started by the SECOND) from 5 s. By times alone, the earlier subagent takes the latest
    call that started before it: the two would be swapped."""
    write_jsonl(session_file(sandbox, LEAD), [
        user(LEAD, 0, "Look at the parser and plan the change, in parallel"),
        assistant(LEAD, 1, "msg_p1", "req_p1", usage(3, 20), content=[
            tool_use("toolu_first", "Task", description="explore", prompt="Read the parser", subagent_type="Explore")]),
        assistant(LEAD, 2, "msg_p2", "req_p2", usage(3, 20), content=[
            tool_use("toolu_second", "Task", description="plan", prompt="Plan the change", subagent_type="Plan")]),
        task_result("toolu_first", FIRST_AGENT, "Explore", 60),
        task_result("toolu_second", SECOND_AGENT, "Plan", 61),
    ])
    for agent, start in ((FIRST_AGENT, 3), (SECOND_AGENT, 5)):
        write_jsonl(sandbox.claude_root / SLUG / LEAD / "subagents" / f"agent-{agent}.jsonl", [
            user(LEAD, start, "go", sidechain=True, agent_id=agent),
            assistant(LEAD, start + 10, f"msg_{agent}", f"req_{agent}", usage(5, 50), sidechain=True, agent_id=agent,
                      content=[tool_use(f"toolu_read_{agent}", "Read", file_path="/home/u/proj/parser.py")]),
            user(LEAD, start + 11, [tool_result(f"toolu_read_{agent}", "def parse(): ...")], sidechain=True,
                 agent_id=agent),
        ])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_once(tmp_path_factory, "parallel-subagents", write_parallel)


def test_each_parallel_subagent_is_nested_under_the_call_whose_result_names_it(built, monkeypatch):
    box = use_sandbox(built, monkeypatch)
    history = duckdb.connect(str(search_copy_path(box.warehouse)), read_only=True, config=READER_CONFIG)
    load_extension(history, "fts")
    try:
        timeline = pages.session_detail(history, "claude_code", LEAD)["timeline"]
    finally:
        history.close()
    nested = {e["call_id"]: (e["subagent"]["agent_id"], e["subagent"]["subagent_type"])
              for e in timeline if e.get("subagent")}
    assert nested == {"toolu_first": (FIRST_AGENT, "Explore"), "toolu_second": (SECOND_AGENT, "Plan")}
