"""The aggregate layer and star schema, end to end through the real Dagster assets.

Small realistic transcripts (Claude Code and Codex, built with the helpers of
test_normalized_traps.py) are materialized in-process; the tests then read what
a user would read in schema `aggregate`: sums that must agree, costs per call at
the price in force, project folding, SCD2 histories, goals, billing blocks, tool
statistics, fact keys and pipeline_version. Builds are shared: one warehouse for
most tests, one each for billing blocks and goals (they need their own
timelines) and one built in a non-UTC time zone, each built once per module;
the test that corrupts a warehouse works on a copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from star_pipeline.agent_side.hook import run_hook
from star_pipeline_tests.conftest import REPO_ROOT, Sandbox, build_defs, materialize_all, query
from star_pipeline_tests.builders import (
    assistant,
    at,
    codex_file,
    cx,
    session_file,
    session_meta,
    token_count,
    tool_result,
    tool_use,
    turn_context,
    usage,
    user,
    write_jsonl,
)

DAY = 86400.0
SONNET45, SONNET46, OPUS46, MYSTERY = "claude-sonnet-4-5", "claude-sonnet-4-6", "claude-opus-4-6", "claude-mystery-9"
# USD per million tokens (genai-prices): input, output, cache read, 5-minute cache write, 1-hour cache write
SONNET_STD = {"input": 3.0, "output": 15.0, "cache_read": 0.30, "cache_write": 3.75, "cache_write_1h": 6.0}
SONNET_LONG = {"input": 6.0, "output": 22.5, "cache_read": 0.60, "cache_write": 7.5, "cache_write_1h": 12.0}
OPUS_STD = {"input": 5.0, "output": 25.0, "cache_read": 0.50, "cache_write": 6.25, "cache_write_1h": 10.0}
GPT5_CODEX = {"input": 1.25, "output": 10.0, "cache_read": 0.125}

ALPHA, BETA, DELTA, PRICES = "/home/u/alpha", "/home/u/beta", "/home/u/delta", "/home/u/prices"
WORKTREE = f"{ALPHA}/.claude/worktrees/feature-x"

# session ids (main fixture)
S_ALPHA = "a1000000-0000-4000-8000-000000000001"
S_WORKTREE = "a1000000-0000-4000-8000-000000000002"
S_NOCWD = "a1000000-0000-4000-8000-000000000003"
S_PRICES = "a1000000-0000-4000-8000-000000000004"
S_DELTA = ["d1000000-0000-4000-8000-000000000001", "d1000000-0000-4000-8000-000000000002",
           "d1000000-0000-4000-8000-000000000003"]
S_CODEX = "0199a3c1-aaaa-7c50-9d4e-2f1a6b8c9d0e"
AGENT = "b7c8d9e1f2a3b4c5"
TARGET = f"{ALPHA}/src/app.py"

AGGREGATE_TABLES_WITH_USAGE = ("derived_projects", "derived_session_usage", "derived_daily_usage",
                               "derived_model_usage", "fact_token_usage")


def slug(cwd: str) -> str:
    return cwd.replace("/", "-").replace(".", "-")


def cost(tokens: dict, prices: dict) -> float:
    """Expected USD for one call from (input, output, cache_read, cache_write_5m, cache_write_1h) token counts."""
    return sum(tokens.get(k, 0) * prices.get(k, 0) for k in ("input", "output", "cache_read", "cache_write",
                                                              "cache_write_1h")) / 1e6


def in_project(cwd: str | None, branch: str = "main"):
    """Builders for Claude records of a session working in `cwd` (None: records without a cwd field)."""

    def fix(record: dict) -> dict:
        if cwd is None:
            record.pop("cwd", None)
        else:
            record["cwd"] = cwd
        record["gitBranch"] = branch
        return record

    return (lambda *a, **kw: fix(user(*a, **kw))), (lambda *a, **kw: fix(assistant(*a, **kw)))


def check_evaluations(outcome) -> dict:
    return {e.check_name: e for e in outcome.get_asset_check_evaluations()}


# == the shared warehouse =======================================================
def write_main_fixture(box: Sandbox) -> None:
    root = box.claude_root
    # --- alpha: main session with tool calls on one file, a Task subagent, then one more call
    u, a = in_project(ALPHA)
    s = S_ALPHA
    write_jsonl(root / slug(ALPHA) / f"{s}.jsonl", [
        u(s, 0, "Fix the login bug."),
        a(s, 10, "msg_alpha_01", "req_alpha_01", usage(10, 100, cc=1000, cr=0), model=SONNET45,
          content=[tool_use("toolu_read_1", "Read", file_path=TARGET)]),
        u(s, 11, [tool_result("toolu_read_1", "def login(): ...")]),  # 1000 ms
        a(s, 20, "msg_alpha_02", "req_alpha_02", usage(5, 50, cr=1000), model=SONNET45,
          content=[tool_use("toolu_read_2", "Read", file_path=TARGET, offset=400)]),
        u(s, 22, [tool_result("toolu_read_2", "File content exceeds maximum allowed tokens", is_error=True)]),  # 2000
        a(s, 30, "msg_alpha_03", "req_alpha_03", usage(5, 60, cr=1100), model=SONNET45,
          content=[tool_use("toolu_read_3", "Read", file_path=TARGET, limit=100)]),
        u(s, 34, [tool_result("toolu_read_3", "def login(): ...")]),  # 4000
        a(s, 40, "msg_alpha_04", "req_alpha_04", usage(5, 300, cr=1200), model=SONNET45,
          content=[tool_use("toolu_edit_1", "Edit", file_path=TARGET, old_string="a", new_string="b")]),
        u(s, 40.5, [tool_result("toolu_edit_1", "The file has been updated.")]),  # 500
        a(s, 50, "msg_alpha_05", "req_alpha_05", usage(5, 200, cr=1500), model=SONNET45,
          content=[tool_use("toolu_edit_2", "Edit", file_path=TARGET, old_string="b", new_string="c")]),
        u(s, 51.5, [tool_result("toolu_edit_2", "The file has been updated.")]),  # 1500
        a(s, 60, "msg_alpha_06", "req_alpha_06", usage(5, 40, cr=1700), model=SONNET45,
          content=[tool_use("toolu_bash_1", "Bash", command="pytest -x", description="run tests")]),
        u(s, 61, [tool_result("toolu_bash_1", "1 passed")]),  # 1000
        a(s, 70, "msg_alpha_07", "req_alpha_07", usage(5, 40, cr=1800), model=SONNET45,
          content=[tool_use("toolu_bash_2", "Bash", command="ruff check", description="lint")]),
        u(s, 73, [tool_result("toolu_bash_2", "1 error", is_error=True)]),  # 3000
        a(s, 80, "msg_alpha_08", "req_alpha_08", usage(5, 90, cr=1900), model=SONNET45,
          content=[tool_use("toolu_task_1", "Task", description="find callers", prompt="Find callers of login",
                            subagent_type="Explore")]),
        u(s, 100, [tool_result("toolu_task_1", "Found 2 callers.")]),
        a(s, 110, "msg_alpha_09", "req_alpha_09", usage(3, 20, cr=2000), model=SONNET45),
    ])
    su, sa = in_project(ALPHA)
    write_jsonl(root / slug(ALPHA) / s / "subagents" / f"agent-{AGENT}.jsonl", [
        su(s, 85, "Find callers of login", sidechain=True, agent_id=AGENT),
        sa(s, 90, "msg_alpha_sub1", "req_alpha_sub1", usage(20, 400, cc=3000), model=SONNET45, sidechain=True,
           agent_id=AGENT),
        sa(s, 95, "msg_alpha_sub2", "req_alpha_sub2", usage(7, 150, cr=3000), model=SONNET45, sidechain=True,
           agent_id=AGENT),
    ])
    # --- a worktree of alpha
    u, a = in_project(WORKTREE, branch="feature-x")
    s = S_WORKTREE
    write_jsonl(root / slug(WORKTREE) / f"{s}.jsonl", [
        u(s, 3600, "Work on feature x."),
        a(s, 3610, "msg_wt_01", "req_wt_01", usage(11, 111, cr=1111), model=SONNET45),
    ])
    # --- a session whose records carry no cwd at all
    u, a = in_project(None)
    s = S_NOCWD
    write_jsonl(root / "-home-u-gamma" / f"{s}.jsonl", [
        u(s, 7200, "What does this do?"),
        a(s, 7210, "msg_nocwd_01", "req_nocwd_01", usage(13, 131, cr=1313), model=SONNET45),
    ])
    # --- prices: one call per pricing rule
    u, a = in_project(PRICES)
    s = S_PRICES
    fast = {**usage(1000, 1000), "speed": "fast"}
    write_jsonl(root / slug(PRICES) / f"{s}.jsonl", [
        u(s, 10000, "Price me."),
        a(s, 10010, "msg_known", "req_known", usage(1000, 2000, cc=4000, cr=10000), model=SONNET45),
        a(s, 10020, "msg_cache_5m", "req_cache_5m", usage(100, 100, cc=4000), model=SONNET45),
        a(s, 10030, "msg_cache_1h", "req_cache_1h", usage(100, 100, cc=4000, cc_1h=4000), model=SONNET45),
        a(s, 10040, "msg_long45", "req_long45", usage(5000, 1000, cc=10000, cr=190000), model=SONNET45),
        a(s, 10050, "msg_opus_std", "req_opus_std", usage(1000, 1000), model=OPUS46),
        a(s, 10060, "msg_opus_fast", "req_opus_fast", fast, model=OPUS46),
        a(s, 10070, "msg_mystery", "req_mystery", usage(500, 500, cr=500), model=MYSTERY),
        # claude-sonnet-4-6: long-context prices until 2026-03-13, none after
        a(s, 10080, "msg_long46_before", "req_long46_before", usage(5000, 1000, cc=10000, cr=190000), model=SONNET46),
        u(s, 19 * DAY, "Same again, after the price change."),  # 2026-03-20
        a(s, 19 * DAY + 10, "msg_long46_after", "req_long46_after", usage(5000, 1000, cc=10000, cr=190000),
          model=SONNET46),
    ])
    # --- delta: three sessions over three days, branch main -> feature -> main
    for day, (s, branch) in enumerate(zip(S_DELTA, ["main", "feature", "main"]), start=1):
        u, a = in_project(DELTA, branch=branch)
        write_jsonl(root / slug(DELTA) / f"{s}.jsonl", [
            u(s, day * DAY, f"Day {day}."),
            a(s, day * DAY + 5, f"msg_delta_{day}", f"req_delta_{day}", usage(2, 20 * day, cr=200), model=SONNET45),
        ])
    # --- Codex in beta
    meta = session_meta(S_CODEX, 0)
    meta["payload"]["cwd"] = BETA
    context = turn_context(1, "gpt-5-codex")
    context["payload"]["cwd"] = BETA
    write_jsonl(codex_file(box, S_CODEX), [
        meta,
        context,
        cx(1.5, "event_msg", {"type": "user_message", "message": "fix the build", "images": []}),
        token_count(3, (1000, 200, 50, 10)),
        token_count(7, (2500, 1200, 130, 30), (1500, 1000, 80, 20)),
    ])
    # --- hook events for alpha
    for payload in (
        {"session_id": S_ALPHA, "hook_event_name": "SessionStart", "source": "startup", "cwd": ALPHA},
        {"session_id": S_ALPHA, "hook_event_name": "PostToolUse", "tool_name": "Bash", "cwd": ALPHA,
         "tool_use_id": "toolu_bash_1", "tool_input": {"command": "pytest -x"}, "duration_ms": 950},
        {"session_id": S_ALPHA, "hook_event_name": "SubagentStop", "agent_id": AGENT, "agent_type": "Explore",
         "cwd": ALPHA},
    ):
        assert run_hook(str(box.spool_dir), stdin=io.BytesIO(json.dumps(payload).encode())) == 0


@contextlib.contextmanager
def module_sandbox(tmp_path_factory, name: str):
    """A Sandbox shared by the tests of this module that only read its warehouse (as conftest's `sandbox`)."""
    box = Sandbox(tmp_path_factory.mktemp(name))
    box.write_config()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STAR_PIPELINE_CONFIG", str(box.config_path))
        mp.delenv("DAGSTER_HOME", raising=False)
        yield box


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(sandbox, outcome) of one build of the main fixture."""
    with module_sandbox(tmp_path_factory, "aggregate") as box:
        write_main_fixture(box)
        yield box, materialize_all(box)


def fact_cost(box: Sandbox, message_id: str):
    rows = query(box, "SELECT cost_usd, is_long_context, price_found FROM aggregate.fact_token_usage "
                      "WHERE message_id = ?", [message_id])
    assert len(rows) == 1, (message_id, rows)
    return rows[0]


# == 1-2: sums and projects =======================================================
def test_cost_sums_that_differ_only_by_summation_order_agree():
    from star_pipeline.aggregate.checks import costs_agree

    assert costs_agree([412.4291385, 412.42913849999997, 412.4291385000001])  # rounded to 6 places, these split
    assert not costs_agree([412.42, 412.43])  # a cent lost is a failure
    assert not costs_agree([0.0, 0.00001])


def test_token_and_cost_sums_agree_across_every_rollup(built):
    box, outcome = built
    token_sums = {
        "normalized_usage": query(box, "SELECT sum(input_tokens + output_tokens + cache_creation_input_tokens"
                                       " + cache_read_input_tokens) FROM normalized.normalized_usage")[0][0],
        **{t: query(box, f"SELECT sum(total_tokens) FROM aggregate.{t}")[0][0] for t in AGGREGATE_TABLES_WITH_USAGE},
    }
    assert len(set(token_sums.values())) == 1, token_sums
    cost_sums = {t: round(query(box, f"SELECT sum(cost_usd) FROM aggregate.{t}")[0][0], 9)
                 for t in AGGREGATE_TABLES_WITH_USAGE}
    assert len(set(cost_sums.values())) == 1, cost_sums
    assert cost_sums["fact_token_usage"] > 0
    assert check_evaluations(outcome)["token_sums_agree"].passed

    projects = dict(query(box, "SELECT project_id, total_tokens FROM aggregate.derived_projects"))
    assert set(projects) == {ALPHA, BETA, DELTA, PRICES, "(unknown)"}
    # the session without cwd is counted, under '(unknown)'
    assert projects["(unknown)"] == 13 + 131 + 1313
    assert query(box, "SELECT project_id FROM aggregate.derived_session_usage WHERE session_id = ?",
                 [S_NOCWD]) == [("(unknown)",)]
    # Codex: 800 + 200 cached + 50 out, then 500 + 1000 cached + 80 out
    assert projects[BETA] == 1050 + 1580
    assert query(box, "SELECT project_id, api_calls, total_tokens FROM aggregate.derived_session_usage "
                      "WHERE source = 'codex'") == [(BETA, 2, 2630)]


def test_subagent_calls_count_in_the_parent_session(built):
    box, _ = built
    main = [(10, 100, 1000, 0), (5, 50, 0, 1000), (5, 60, 0, 1100), (5, 300, 0, 1200), (5, 200, 0, 1500),
            (5, 40, 0, 1700), (5, 40, 0, 1800), (5, 90, 0, 1900), (3, 20, 0, 2000)]
    sub = [(20, 400, 3000, 0), (7, 150, 0, 3000)]
    main_total, sub_total = sum(map(sum, main)), sum(map(sum, sub))
    rows = query(box, """
        SELECT api_calls, total_tokens, main_total_tokens, subagent_total_tokens, project_id
        FROM aggregate.derived_session_usage WHERE session_id = ?""", [S_ALPHA])
    assert rows == [(11, main_total + sub_total, main_total, sub_total, ALPHA)]
    # no session row of its own for the agent file
    assert query(box, "SELECT count(*) FROM aggregate.derived_session_usage WHERE session_id LIKE ?",
                 [f"%{AGENT}%"]) == [(0,)]
    sub_cost = sum(cost({"input": i, "output": o, "cache_write": cc, "cache_read": cr}, SONNET_STD)
                   for i, o, cc, cr in sub)
    assert query(box, "SELECT round(subagent_and_compaction_cost_usd, 9) FROM aggregate.derived_session_usage "
                      "WHERE session_id = ?", [S_ALPHA]) == [(round(sub_cost, 9),)]


def test_worktree_session_is_folded_into_its_repository(built):
    box, _ = built
    assert query(box, "SELECT project_id, cwd FROM aggregate.session_projects WHERE session_id = ?",
                 [S_WORKTREE]) == [(ALPHA, WORKTREE)]
    assert query(box, "SELECT count(*) FROM aggregate.derived_projects WHERE project_id LIKE '%worktrees%'") == [(0,)]
    sessions, tokens = query(box, "SELECT sessions, total_tokens FROM aggregate.derived_projects "
                                  "WHERE project_id = ?", [ALPHA])[0]
    alpha_only = query(box, "SELECT total_tokens FROM aggregate.derived_session_usage WHERE session_id = ?",
                       [S_ALPHA])[0][0]
    assert (sessions, tokens) == (2, alpha_only + 11 + 111 + 1111)


# == 3-4: cost per call ==========================================================
def test_cost_of_a_call_at_known_prices(built):
    box, _ = built
    expected = cost({"input": 1000, "output": 2000, "cache_write": 4000, "cache_read": 10000}, SONNET_STD)
    assert expected == pytest.approx(0.051)
    got, long_context, found = fact_cost(box, "msg_known")
    assert (got, long_context, found) == (pytest.approx(expected, abs=1e-12), False, True)


def test_one_hour_cache_writes_are_priced_apart(built):
    box, _ = built
    five_minutes = fact_cost(box, "msg_cache_5m")[0]
    one_hour = fact_cost(box, "msg_cache_1h")[0]
    assert five_minutes == pytest.approx(cost({"input": 100, "output": 100, "cache_write": 4000}, SONNET_STD))
    assert one_hour == pytest.approx(cost({"input": 100, "output": 100, "cache_write_1h": 4000}, SONNET_STD))
    assert one_hour - five_minutes == pytest.approx(4000 * (6.0 - 3.75) / 1e6)
    assert query(box, "SELECT cache_creation_1h_input_tokens FROM aggregate.fact_token_usage "
                      "WHERE message_id = 'msg_cache_1h'") == [(4000,)]


def test_long_context_call_is_priced_entirely_at_long_context_rates(built):
    box, _ = built
    tokens = {"input": 5000, "output": 1000, "cache_write": 10000, "cache_read": 190000}  # prompt 205,000
    got, long_context, _ = fact_cost(box, "msg_long45")
    assert long_context is True
    assert got == pytest.approx(cost(tokens, SONNET_LONG))  # 0.2415
    assert got != pytest.approx(cost(tokens, SONNET_STD))


def test_fast_mode_doubles_the_cost_and_reports_as_model_fast(built):
    box, _ = built
    standard, fast = fact_cost(box, "msg_opus_std")[0], fact_cost(box, "msg_opus_fast")[0]
    assert standard == pytest.approx(cost({"input": 1000, "output": 1000}, OPUS_STD))
    assert fast == pytest.approx(2 * standard)
    daily = query(box, "SELECT model, api_calls, round(cost_usd, 9) FROM aggregate.derived_daily_usage "
                       "WHERE model LIKE 'claude-opus%' ORDER BY model")
    assert daily == [(OPUS46, 1, round(standard, 9)), (f"{OPUS46}-fast", 1, round(fast, 9))]
    assert query(box, "SELECT model FROM aggregate.derived_model_usage WHERE model LIKE '%-fast'") == [
        (f"{OPUS46}-fast",)]


def test_an_edited_pricing_config_reprices_every_call(sandbox, tmp_path, monkeypatch):
    """fact_token_usage reprices only changed calls from one run to the next, but a change of prices
    (here the fast-mode multiplier) reprices every call, those of unchanged sessions too."""
    from star_pipeline.aggregate import pricing

    s = "a1000000-0000-4000-8000-0000000000f1"
    u, a = in_project(ALPHA)
    write_jsonl(session_file(sandbox, s), [
        u(s, 0), a(s, 1, "msg_fast_once", "req_fast_once", {**usage(1000, 1000), "speed": "fast"}, model=OPUS46)])
    materialize_all(sandbox)
    before = fact_cost(sandbox, "msg_fast_once")[0]

    edited = tmp_path / "pricing.yaml"
    edited.write_text((REPO_ROOT / "config" / "pricing.yaml").read_text().replace("fast_multiplier: 2", "fast_multiplier: 3"))
    monkeypatch.setattr(pricing, "PRICING_PATH", edited)
    materialize_all(sandbox)

    assert fact_cost(sandbox, "msg_fast_once")[0] == pytest.approx(before * 3 / 2)
    assert query(sandbox, "SELECT arg_max(write_mode, started_at) FROM meta_load_log "
                          "WHERE asset_key = 'aggregate/fact_token_usage'") == [("replace",)]


def test_unknown_model_has_null_cost_and_a_failed_non_blocking_check(built):
    box, outcome = built
    assert fact_cost(box, "msg_mystery") == (None, False, False)
    assert query(box, "SELECT cost_usd, unpriced_calls FROM aggregate.derived_model_usage WHERE model = ?",
                 [MYSTERY]) == [(None, 1)]
    assert query(box, "SELECT count(*) FROM aggregate.fact_token_usage WHERE cost_usd = 0") == [(0,)]
    evaluation = check_evaluations(outcome)["unknown_models_listed"]
    assert evaluation.passed is False
    assert MYSTERY in evaluation.description
    assert [m["model"] for m in evaluation.metadata["unknown_models"].value] == [MYSTERY]
    # non-blocking: the run succeeded and every table downstream of fact_token_usage was built
    assert outcome.success
    assert query(box, "SELECT count(*) FROM aggregate.derived_blocks") != [(0,)]
    assert query(box, "SELECT price_source, input_price FROM aggregate.dim_model WHERE model = ?",
                 [MYSTERY]) == [("unknown", None)]


def test_price_in_force_at_the_calls_time(built):
    box, _ = built
    periods = query(box, """
        SELECT effective_from, effective_to, is_current, long_context_threshold
        FROM aggregate.dim_model WHERE model = ? ORDER BY effective_from""", [SONNET46])
    change = datetime(2026, 3, 13, tzinfo=timezone.utc)
    assert len(periods) == 2
    (from1, to1, current1, threshold1), (from2, to2, current2, threshold2) = periods
    assert to1 == from2 == change
    assert (current1, current2, to2) == (False, True, None)
    assert (threshold1, threshold2) == (200000, None)
    tokens = {"input": 5000, "output": 1000, "cache_write": 10000, "cache_read": 190000}
    before, after = fact_cost(box, "msg_long46_before"), fact_cost(box, "msg_long46_after")
    assert before == (pytest.approx(cost(tokens, SONNET_LONG)), True, True)
    assert after == (pytest.approx(cost(tokens, SONNET_STD)), False, True)
    # the fact's model key is the model's (not a price period's) key, and it exists in dim_model
    assert query(box, "SELECT count(DISTINCT f.model_key), count(*) FILTER (WHERE d.hash_key IS NULL) "
                      "FROM aggregate.fact_token_usage f LEFT JOIN aggregate.dim_model d "
                      "ON d.hash_key = f.model_key AND d.is_current WHERE f.model = ?", [SONNET46]) == [(1, 0)]


# == 5: SCD2 dim_project ===========================================================
def dim_project_history(box: Sandbox, project: str) -> list[tuple]:
    return query(box, """
        SELECT hash_key, git_branch, effective_from, effective_to, is_current
        FROM aggregate.dim_project WHERE project_id = ? ORDER BY effective_from""", [project])


def test_dim_project_keeps_the_branch_history_and_a_rebuild_reproduces_it(built):
    box, outcome = built
    history = dim_project_history(box, DELTA)
    starts = [datetime.fromisoformat(at(d * DAY).replace("Z", "+00:00")) for d in (1, 2, 3)]
    assert [(branch, start, end, current) for _, branch, start, end, current in history] == [
        ("main", starts[0], starts[1], False),
        ("feature", starts[1], starts[2], False),
        ("main", starts[2], None, True),
    ]
    assert len({h[0] for h in history}) == 1
    assert check_evaluations(outcome)["dim_project_scd2_valid"].passed

    again = materialize_all(box)
    assert check_evaluations(again)["dim_project_scd2_valid"].passed
    assert dim_project_history(box, DELTA) == history


# == 8: tool statistics and file activity ==========================================
def test_tool_stats_and_file_activity(built):
    box, _ = built
    stats = query(box, """
        SELECT tool_name, calls, failed, round(failure_rate, 6), p50_duration_ms
        FROM aggregate.derived_tool_stats WHERE project_id = ? AND tool_name IN ('Read', 'Edit', 'Bash')
        ORDER BY tool_name""", [ALPHA])
    assert stats == [
        ("Bash", 2, 1, 0.5, 2000.0),
        ("Edit", 2, 0, 0.0, 1000.0),
        ("Read", 3, 1, round(1 / 3, 6), 2000.0),
    ]
    assert query(box, """
        SELECT project_id, session_id, reads, edits FROM aggregate.derived_file_activity
        WHERE target_path = ?""", [TARGET]) == [(ALPHA, S_ALPHA, 3, 2)]


# == 9: fact keys ==================================================================
def test_fact_rows_have_keys_in_their_dimensions(built):
    box, outcome = built
    calls = query(box, """
        SELECT f.tool_name, count(*), count(t.hash_key), count(p.hash_key)
        FROM aggregate.fact_tool_call f
        LEFT JOIN aggregate.dim_tool t ON t.hash_key = f.tool_key AND t.is_current
        LEFT JOIN aggregate.dim_project p ON p.hash_key = f.project_key AND p.is_current
        GROUP BY ALL ORDER BY ALL""")
    assert calls == [("Bash", 2, 2, 2), ("Edit", 2, 2, 2), ("Read", 3, 3, 3), ("Task", 1, 1, 1)]
    # the tool call's response tokens come from the API call that made it
    assert query(box, "SELECT response_output_tokens FROM aggregate.fact_tool_call WHERE call_id = 'toolu_edit_1'") \
        == [(300,)]
    events = query(box, """
        SELECT e.event_name, e.tool_name, p.project_id, t.tool_name, a.agent_type
        FROM aggregate.fact_session_event e
        LEFT JOIN aggregate.dim_project p ON p.hash_key = e.project_key AND p.is_current
        LEFT JOIN aggregate.dim_tool t ON t.hash_key = e.tool_key AND t.is_current
        LEFT JOIN aggregate.dim_agent_type a ON a.hash_key = e.agent_type_key AND a.is_current
        ORDER BY e.byte_offset""")
    assert events == [
        ("SessionStart", None, ALPHA, None, None),
        ("PostToolUse", "Bash", ALPHA, "Bash", None),
        ("SubagentStop", None, ALPHA, None, "Explore"),
    ]
    assert check_evaluations(outcome)["facts_have_no_orphan_keys"].passed


def run_check_only(box: Sandbox, check_name: str):
    """Execute one aggregate check (nothing materialized) against the sandbox warehouse."""
    from dagster import AssetSelection, Definitions, define_asset_job

    from star_pipeline.aggregate.checks import aggregate_checks

    check = next(c for c in aggregate_checks if c.check_key.name == check_name)
    job = define_asset_job("only_one_check", selection=AssetSelection.checks(check))
    defs = Definitions.merge(build_defs(box), Definitions(jobs=[job]))
    result = defs.resolve_job_def("only_one_check").execute_in_process(raise_on_error=False)
    evaluations = result.get_asset_check_evaluations()
    assert [e.check_name for e in evaluations] == [check_name]
    assert result.get_asset_materialization_events() == []
    return evaluations[0]


def test_orphan_check_fails_when_a_dimension_row_is_missing(built, sandbox):
    import duckdb

    source, _ = built
    sandbox.warehouse.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source.warehouse, sandbox.warehouse)
    assert run_check_only(sandbox, "facts_have_no_orphan_keys").passed

    conn = duckdb.connect(str(sandbox.warehouse))
    try:
        conn.execute("DELETE FROM aggregate.dim_tool WHERE tool_name = 'Edit'")
    finally:
        conn.close()
    evaluation = run_check_only(sandbox, "facts_have_no_orphan_keys")
    assert evaluation.passed is False
    assert evaluation.metadata["orphans"].value["tool_call_tool_key"] == 2


# == 10: pipeline_version ==========================================================
def aggregate_tables(box: Sandbox) -> dict[str, bool]:
    """Every table of schema aggregate -> whether it has a pipeline_version column."""
    rows = query(box, """
        SELECT t.table_name, bool_or(c.column_name = 'pipeline_version')
        FROM information_schema.tables t JOIN information_schema.columns c USING (table_schema, table_name)
        WHERE t.table_schema = 'aggregate' GROUP BY ALL""")
    return dict(rows)


def test_every_versioned_aggregate_row_carries_the_pricing_hash(built):
    from star_pipeline.aggregate.pricing import pipeline_version

    box, _ = built
    digest = hashlib.sha256((REPO_ROOT / "config" / "pricing.yaml").read_bytes()).hexdigest()[:8]
    expected = pipeline_version()
    assert digest in expected
    versioned = [t for t, has in aggregate_tables(box).items() if has]
    assert {"fact_token_usage", "derived_projects", "derived_blocks", "derived_goals", "derived_attempts",
            "fact_tool_call", "fact_session_event", "derived_tool_stats"} <= set(versioned)
    for table in versioned:
        if table == "budget_alerts":  # a log, never rebuilt: each row keeps the version that recorded it
            continue
        values = query(box, f"SELECT DISTINCT pipeline_version FROM aggregate.{table}")
        assert values == [(expected,)], table


def test_every_aggregate_table_carries_pipeline_version(built):
    box, _ = built
    assert [t for t, has in sorted(aggregate_tables(box).items()) if not has] == []


# == 7: billing blocks ============================================================
S_BLOCKS = "b1000000-0000-4000-8000-000000000001"
S_NOT_YET_WRITTEN = "e1000000-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def blocks_build(tmp_path_factory):
    with module_sandbox(tmp_path_factory, "blocks") as sandbox:
        yield build_blocks(sandbox)


def build_blocks(sandbox: Sandbox) -> Sandbox:
    u, a = in_project(ALPHA)
    # T0 is 2026-03-01 10:00 UTC
    times = {"10:10": 600, "11:00": 3600, "14:59": 4 * 3600 + 59 * 60, "15:30": 5.5 * 3600, "23:00": 13 * 3600}
    records = [u(S_BLOCKS, 0, "Start.")]
    for n, seconds in enumerate(times.values(), start=1):
        records.append(a(S_BLOCKS, seconds, f"msg_block_{n}", f"req_block_{n}", usage(n, 10 * n, cr=100 * n),
                         model=SONNET45, content=[tool_use(f"toolu_block_{n}", "Bash", command="make")]))
        records.append(u(S_BLOCKS, seconds + 1, [tool_result(f"toolu_block_{n}", "ok")]))
    write_jsonl(box_path(sandbox, ALPHA, S_BLOCKS), records)
    # hooks of this session, and of a session that has just started (no transcript line written yet)
    for payload in (
        {"session_id": S_BLOCKS, "hook_event_name": "PostToolUse", "tool_name": "Bash", "cwd": ALPHA,
         "tool_use_id": "toolu_block_5", "tool_input": {"command": "make"}},
        {"session_id": S_NOT_YET_WRITTEN, "hook_event_name": "SessionStart", "source": "startup", "cwd": ALPHA},
        {"session_id": S_NOT_YET_WRITTEN, "hook_event_name": "UserPromptSubmit", "cwd": ALPHA,
         "prompt": "Add a changelog entry."},
    ):
        assert run_hook(str(sandbox.spool_dir), stdin=io.BytesIO(json.dumps(payload).encode())) == 0
    materialize_all(sandbox)
    return sandbox


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def test_billing_blocks_with_a_gap(blocks_build):
    rows = query(blocks_build, """
        SELECT block_id, is_gap, start_time, end_time, actual_end_time, entries, total_tokens
        FROM aggregate.derived_blocks ORDER BY start_time""")
    assert rows == [
        ("2026-03-01T10:00:00.000Z", False, utc("2026-03-01 10:00"), utc("2026-03-01 15:00"),
         utc("2026-03-01 14:59"), 3, 111 * (1 + 2 + 3)),
        # 15:30 is more than 5 h after the block's start: a new block, from the hour
        ("2026-03-01T15:00:00.000Z", False, utc("2026-03-01 15:00"), utc("2026-03-01 20:00"),
         utc("2026-03-01 15:30"), 1, 111 * 4),
        # more than 5 h of silence after 15:30: a gap block from 20:30 to the next call
        ("gap-2026-03-01T20:30:00.000Z", True, utc("2026-03-01 20:30"), utc("2026-03-01 23:00"), None, 0, 0),
        ("2026-03-01T23:00:00.000Z", False, utc("2026-03-01 23:00"), utc("2026-03-02 04:00"),
         utc("2026-03-01 23:00"), 1, 111 * 5),
    ]
    assert query(blocks_build, "SELECT count(*) FROM aggregate.derived_blocks WHERE is_active") == [(0,)]
    assert query(blocks_build, "SELECT round(sum(cost_usd), 9) FROM aggregate.derived_blocks") == query(
        blocks_build, "SELECT round(sum(cost_usd), 9) FROM aggregate.fact_token_usage")


def test_session_event_keys_exist_for_a_session_not_yet_in_the_transcripts(blocks_build):
    orphans = query(blocks_build, """
        SELECT e.event_name FROM aggregate.fact_session_event e
        ANTI JOIN aggregate.dim_project p ON p.hash_key = e.project_key ORDER BY ALL""")
    assert orphans == []


def box_path(box: Sandbox, cwd: str, session: str) -> Path:
    return box.claude_root / slug(cwd) / f"{session}.jsonl"


# == 6: goals and attempts ==========================================================
GOAL_A = "9a000000-0000-4000-8000-00000000000a"  # the original: its id sorts AFTER the resumed one's
GOAL_B = "1b000000-0000-4000-8000-00000000000b"  # resumes A
GOAL_C = "5c000000-0000-4000-8000-00000000000c"  # continues B through a summary line
GOAL_D = "3d000000-0000-4000-8000-00000000000d"  # unrelated


@pytest.fixture(scope="module")
def goals_build(tmp_path_factory):
    with module_sandbox(tmp_path_factory, "goals") as sandbox:
        yield build_goals(sandbox)


def build_goals(sandbox: Sandbox) -> Sandbox:
    u, a = in_project(ALPHA)
    records_a = [
        u(GOAL_A, 0, "Add OAuth login."),
        a(GOAL_A, 5, "msg_goal_a1", "req_goal_a1", usage(10, 100, cr=1000), model=SONNET45),
        u(GOAL_A, 60, "Use the GitHub provider."),
        a(GOAL_A, 65, "msg_goal_a2", "req_goal_a2", usage(20, 200, cr=2000), model=SONNET45),
    ]
    write_jsonl(box_path(sandbox, ALPHA, GOAL_A), records_a)
    # B: `claude --resume` copies A's records (same uuids, message ids and timestamps) under its own sessionId
    copies = [{**json.loads(json.dumps(r)), "sessionId": GOAL_B} for r in records_a]
    resume_b = u(GOAL_B, 3600, "Now add tests.")
    call_b = a(GOAL_B, 3605, "msg_goal_b1", "req_goal_b1", usage(30, 300, cr=3000), model=SONNET45)
    write_jsonl(box_path(sandbox, ALPHA, GOAL_B), copies + [resume_b, call_b])
    # C: starts with a summary of B's conversation (leafUuid = the last uuid of B)
    summary = {"type": "summary", "summary": "OAuth login with tests", "leafUuid": call_b["uuid"]}
    write_jsonl(box_path(sandbox, ALPHA, GOAL_C), [
        summary,
        u(GOAL_C, 7200, "Fix the flaky OAuth test."),
        a(GOAL_C, 7205, "msg_goal_c1", "req_goal_c1", usage(40, 400, cr=4000), model=SONNET45),
    ])
    write_jsonl(box_path(sandbox, ALPHA, GOAL_D), [
        u(GOAL_D, 1800, "Unrelated: bump the version."),
        a(GOAL_D, 1805, "msg_goal_d1", "req_goal_d1", usage(5, 50, cr=500), model=SONNET45),
    ])
    materialize_all(sandbox)
    return sandbox


def goal_of(box: Sandbox) -> dict[str, tuple]:
    """session id -> (goal_id, attempt_number, attempts of its goal, attempt's total_tokens)."""
    rows = query(box, """
        SELECT a.session_id, a.goal_id, a.attempt_number, g.attempts, a.total_tokens
        FROM aggregate.derived_attempts a JOIN aggregate.derived_goals g USING (goal_id)""")
    return {r[0]: r[1:] for r in rows}


def test_resumed_session_joins_the_goal_of_the_session_it_resumes(goals_build):
    goals = goal_of(goals_build)
    assert goals[GOAL_A][0] == goals[GOAL_B][0]
    assert goals[GOAL_D][0] not in {goals[s][0] for s in (GOAL_A, GOAL_B, GOAL_C)}
    assert goals[GOAL_D][1:3] == (1, 1)
    # every token of the four sessions is in exactly one goal
    assert query(goals_build, "SELECT sum(total_tokens) FROM aggregate.derived_goals") == [
        (555 + 1110 + 2220 + 3330 + 4440,)]


def test_summary_line_links_the_next_session_into_the_goal(goals_build):
    box = goals_build
    assert query(box, "SELECT attempts, total_tokens FROM aggregate.derived_goals ORDER BY attempts") == [
        (1, 555), (3, 1110 + 2220 + 3330 + 4440)]
    goals = goal_of(box)
    assert set(goals) == {GOAL_A, GOAL_B, GOAL_C, GOAL_D}
    assert goals[GOAL_C][0] == goals[GOAL_B][0]
    assert goals[GOAL_C][1:3] == (3, 3)
    assert query(box, "SELECT project_id, sessions FROM aggregate.derived_projects") == [(ALPHA, 4)]


def test_attempts_are_numbered_in_time_order(goals_build):
    box = goals_build
    goals = goal_of(box)
    assert (goals[GOAL_A][1], goals[GOAL_B][1]) == (1, 2)
    assert query(box, "SELECT root_session_id FROM aggregate.derived_goals WHERE goal_id = ?",
                 [goals[GOAL_A][0]]) == [(GOAL_A,)]


def test_copied_calls_stay_with_the_original_session(goals_build):
    box = goals_build
    per_session = dict(query(box, "SELECT session_id, total_tokens FROM aggregate.derived_session_usage"))
    assert (per_session.get(GOAL_A), per_session.get(GOAL_B)) == (1110 + 2220, 3330)
    goals = goal_of(box)
    assert (goals[GOAL_A][3], goals[GOAL_B][3]) == (1110 + 2220, 3330)


# == the machine's time zone =======================================================
BUILD_IN_SUBPROCESS = textwrap.dedent("""
    import sys
    from pathlib import Path
    from star_pipeline_tests.conftest import Sandbox, materialize_all
    box = Sandbox(Path(sys.argv[1]))
    materialize_all(box)
""")


@pytest.fixture(scope="module")
def kolkata_build(tmp_path_factory):
    """The same transcripts built on a machine whose local time zone is Asia/Kolkata (UTC+05:30).

    DuckDB reads TZ when the process starts, so the build runs in a subprocess."""
    box = Sandbox(tmp_path_factory.mktemp("kolkata"))
    box.write_config()
    u, a = in_project(ALPHA)
    s = "f1000000-0000-4000-8000-000000000001"
    write_jsonl(box_path(box, ALPHA, s), [
        u(s, 0, "Start."),
        a(s, 600, "msg_tz_1", "req_tz_1", usage(10, 100), model=SONNET45),  # 2026-03-01 10:10 UTC
        # 2026-03-12 20:00 UTC: before claude-sonnet-4-6's price change (2026-03-13 UTC), long context
        a(s, 11 * DAY + 36000, "msg_tz_2", "req_tz_2", usage(5000, 1000, cc=10000, cr=190000), model=SONNET46),
    ])
    env = {**os.environ, "TZ": "Asia/Kolkata", "STAR_PIPELINE_CONFIG": str(box.config_path)}
    env.pop("DAGSTER_HOME", None)
    done = subprocess.run([sys.executable, "-c", BUILD_IN_SUBPROCESS, str(box.root)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return box


def test_price_periods_start_at_utc_midnight_whatever_the_local_time_zone(kolkata_build):
    box = kolkata_build
    tokens = {"input": 5000, "output": 1000, "cache_write": 10000, "cache_read": 190000}
    assert fact_cost(box, "msg_tz_2") == (pytest.approx(cost(tokens, SONNET_LONG)), True, True)
    assert query(box, "SELECT effective_from FROM aggregate.dim_model WHERE model = ? AND is_current",
                 [SONNET46]) == [(datetime(2026, 3, 13, tzinfo=timezone.utc),)]


def test_billing_blocks_start_on_the_utc_hour_whatever_the_local_time_zone(kolkata_build):
    starts = query(kolkata_build, "SELECT block_id FROM aggregate.derived_blocks WHERE NOT is_gap ORDER BY start_time")
    assert starts == [("2026-03-01T10:00:00.000Z",), ("2026-03-12T20:00:00.000Z",)]


def test_a_model_priced_only_by_the_config_pays_twice_its_input_price_for_one_hour_cache_writes(tmp_path):
    """The 1-hour cache-write price, when the config gives none: 2x input (Anthropic's rule)."""
    from star_pipeline.aggregate.pricing import price_rows

    pricing = tmp_path / "pricing.yaml"
    pricing.write_text("fast_multiplier: 2\nmodels:\n  acme-coder-1:\n    - {input: 2.5, output: 10}\n")
    (row,) = price_rows(["acme-coder-1"], pricing)
    assert row.prices == {"input": 2.5, "output": 10.0, "cache_write_1h": 5.0}


def test_a_model_genai_prices_lacks_is_priced_by_the_second_source(tmp_path):
    """gpt-5.3-codex-spark (seen in real Codex rollouts) is not in genai-prices 0.2.3: model-prices prices it."""
    from star_pipeline.aggregate.pricing import price_rows

    (row,) = price_rows(["gpt-5.3-codex-spark"])
    assert row.price_source.startswith("model-prices ")
    assert (row.prices["input"], row.prices["output"], row.prices["cache_read"]) == (1.75, 14.0, 0.175)
