"""The real files of ../shared/corpus (skipped when absent): per agent and tool, normalized_tool_calls holds as many
calls as the files, with the outcomes the files record (star_pipeline_tests/tool_reference.py reads them apart
from the warehouse): failures by exit code or flag equal, worded outcomes equal wording by wording, and a call
whose format records no outcome is unknown, never ok."""

from collections import Counter

import pytest

from star_pipeline_tests import tool_reference
from star_pipeline_tests.conftest import SHARED_CORPUS, query

AGENTS = ("claude_code", "codex", *tool_reference.HOME_AGENTS, *tool_reference.AGENTS2)


@pytest.fixture(scope="module")
def files():
    """The reference, read once: per agent, calls and outcomes per tool."""
    return tool_reference.reference(SHARED_CORPUS)


def _ours(box, agent) -> dict:
    rows = query(box, "SELECT tool_name, status, status_reason, count(*) FROM normalized.normalized_tool_calls "
                      "WHERE source = ? GROUP BY ALL", [agent])
    calls, status, reason = Counter(), Counter(), Counter()
    for tool, got, why, n in rows:
        calls[tool] += n
        status[(tool, got)] += n
        if got not in ("ok", "pending", "unknown"):
            reason[(tool, got, why)] += n
    return {"calls": dict(calls), "status": dict(status), "reason": dict(reason)}


@pytest.fixture(params=AGENTS)
def agent_and_warehouse(request):
    agent = request.param
    # built once per session and only for the agents asked for (a -k selection of Codex builds one corpus)
    fixture = ("corpus_warehouse" if agent in ("claude_code", "codex") else
               "agents2_corpus_warehouse" if agent in tool_reference.AGENTS2 else "agents_corpus_warehouse")
    box, _ = request.getfixturevalue(fixture)
    return agent, box


def test_calls_per_tool_equal_the_files(agent_and_warehouse, files):
    agent, box = agent_and_warehouse
    assert _ours(box, agent)["calls"] == files[agent]["calls"]


def test_outcomes_per_tool_equal_the_files(agent_and_warehouse, files):
    """ok, failed (exit code, flag, status or wording), rejected, interrupted, unknown and pending, per tool."""
    agent, box = agent_and_warehouse
    assert _ours(box, agent)["status"] == files[agent]["status"]


def test_every_call_that_did_not_succeed_says_how_it_was_told(agent_and_warehouse, files):
    """Failed, rejected and interrupted calls per tool and reason: by exit code, by flag or status field, and the
    worded ones wording by wording ('failed in sandbox', 'rejected by user' ...)."""
    agent, box = agent_and_warehouse
    assert _ours(box, agent)["reason"] == files[agent]["reason"]


def test_the_codex_corpus_has_worded_failures_and_unknown_outcomes(corpus_warehouse, files):
    """What the comparison above must cover on these files: Codex shell failures by exit code and by wording,
    and exec_command outputs whose text was redacted (no outcome: unknown, no duration)."""
    box, _ = corpus_warehouse
    reasons = {why for (tool, _, why) in files["codex"]["reason"] if tool == "shell"}
    assert {"exit code", "failed in sandbox", "error"} <= reasons
    assert query(box, "SELECT count(*), count(duration_ms) FROM normalized.normalized_tool_calls "
                      "WHERE source = 'codex' AND tool_name = 'exec_command' AND status = 'unknown'")[0][0] > 0
    assert query(box, "SELECT count(duration_ms) FROM normalized.normalized_tool_calls "
                      "WHERE source = 'codex' AND status = 'unknown'") == [(0,)]
    # every shell call told by its exit code has the duration Codex recorded beside it, none is timed by line times
    assert query(box, "SELECT count(*), count(*) FILTER (WHERE duration_source IS DISTINCT FROM 'recorded') "
                      "FROM normalized.normalized_tool_calls WHERE source = 'codex' AND tool_name = 'shell' "
                      "AND status_reason = 'exit code'")[0] == (
        sum(n for (tool, status), n in files["codex"]["status"].items() if tool == "shell" and status in ("ok", "failed"))
        - sum(n for (tool, _, why), n in files["codex"]["reason"].items() if tool == "shell" and why != "exit code"), 0)
