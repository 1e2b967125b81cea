"""ccusage 20.0.24's report flags, as a ccusage user types them, over the warehouse built from ../shared/corpus."""

import datetime
import json
import os
import subprocess
from pathlib import Path

import pytest

from star_pipeline.aggregate.blocks import HOUR_US, billing_blocks
from star_pipeline.reports.report import burn_rate_and_projection, first_of_latest, token_limit
from star_pipeline_tests.conftest import SHARED_CORPUS
from star_pipeline_tests.reports.test_report import STAR_PIPELINE, report, without_costs

# `npx ccusage@20.0.24 claude daily --instances --json --offline -z UTC` over ../shared/corpus/claude:
# per project, (days, total tokens, total cost rounded to 1e-4 USD).
CCUSAGE_INSTANCES = {
    "-home-user-spotter": (2, 28381937, 22.3394),
    "-home-vwestberg": (1, 47683, 0.0526),
    "-home-vwestberg-Claude": (5, 36671509, 18.5161),
    "-path-to-Demo": (1, 375764, 0.3312),
}
# The cell where ccusage contradicts itself (2026-04-09, claude-haiku-4-5, KNOWN_CCUSAGE_SELF_CONTRADICTION in
# test_report.py) is in this project: its output tokens are 718 more here than in ccusage's daily report.
SELF_CONTRADICTION = ("-home-vwestberg-Claude", 718)


@pytest.fixture
def box(corpus_warehouse):
    return corpus_warehouse[0]


def as_json(box, *args, **env):
    """`star-pipeline report ARGS` (with these environment variables) as JSON; it must succeed."""
    full = {**os.environ, "STAR_PIPELINE_CONFIG": str(box.config_path), **env}
    proc = subprocess.run([STAR_PIPELINE, "report", *args], capture_output=True, text=True, env=full)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_short_flags_mean_what_ccusages_long_ones_do(box):
    short = as_json(box, "daily", "-j", "-s", "20260401", "-u", "2026-04-27", "-z", "UTC", "-O")
    long = as_json(box, "daily", "--json", "--since", "2026-04-01", "--until", "20260427", "--timezone", "UTC", "--offline")
    assert short == long and [d["date"] for d in short["daily"]] == ["2026-04-09", "2026-04-24", "2026-04-27"]


def test_instances_give_each_project_its_rows_with_ccusages_totals(box):
    data = as_json(box, "daily", "--instances", "--json", "--source", "claude_code", "-z", "UTC")
    found = {name: (len(rows), sum(r["totalTokens"] for r in rows), round(sum(r["totalCost"] for r in rows), 4))
             for name, rows in data["projects"].items()}
    expected = {name: (days, tokens + (SELF_CONTRADICTION[1] if name == SELF_CONTRADICTION[0] else 0))
                for name, (days, tokens, _) in CCUSAGE_INSTANCES.items()}
    assert {name: value[:2] for name, value in found.items()} == expected
    for name, (_, _, cost) in CCUSAGE_INSTANCES.items():
        assert found[name][2] == pytest.approx(cost, rel=0.005)
    assert all(row["project"] == name for name, rows in data["projects"].items() for row in rows)
    assert data["totals"]["totalTokens"] == sum(tokens for _, tokens in expected.values())


def test_project_takes_ccusages_folder_name_the_path_or_its_last_part_and_an_unknown_one_exits_2(box):
    by_folder = as_json(box, "daily", "-j", "--project", "-home-user-spotter")
    assert by_folder["totals"]["totalTokens"] == CCUSAGE_INSTANCES["-home-user-spotter"][1]
    by_path = as_json(box, "daily", "-j", "--project", "/home/vwestberg/Claude")
    assert by_path == as_json(box, "daily", "-j", "-p", "Claude")
    proc = report(box, "daily", "--project", "nonexistent-project", check=False)
    assert proc.returncode == 2
    assert "--project 'nonexistent-project': no such project" in proc.stderr and "report projects" in proc.stderr


def test_projects_lists_each_project_with_its_paths(box):
    projects = {p["project"]: p for p in as_json(box, "projects", "--json")["projects"]}
    spotter = projects["-home-user-spotter"]
    # two sessions in sibling worktrees (spotter-worktrees/spotter-dov, -gqc) count under their repository
    assert spotter["paths"] == ["/home/USER/projects/spotter"]
    assert spotter["sessions"] == 2 and spotter["totalTokens"] == CCUSAGE_INSTANCES["-home-user-spotter"][1]
    table = report(box, "projects").stdout
    assert "-home-user-spotter" in table and "/home/USER/projects/spotter" in table


def test_order_desc_is_newest_first(box):
    ascending = [d["date"] for d in as_json(box, "daily", "-j")["daily"]]
    assert ascending == sorted(ascending)
    assert [d["date"] for d in as_json(box, "daily", "-j", "--order", "desc")["daily"]] == ascending[::-1]
    sessions = [s["lastActivity"] for s in as_json(box, "session", "-j", "-o", "asc")["sessions"]]
    assert sessions == sorted(sessions)
    one = as_json(box, "session", "-j", "--id", "4d5611e5-241a-462a-8d15-5122611a9569")["sessions"]
    assert [s["sessionId"] for s in one] == ["4d5611e5-241a-462a-8d15-5122611a9569"]


def test_no_cost_leaves_out_every_cost(box):
    data = report(box, "session", "--json", "--no-cost").stdout
    assert '"totalCost"' not in data and '"cost"' not in data and '"costUSD"' not in data
    assert "Cost" not in report(box, "monthly", "--no-cost").stdout


def test_breakdown_compact_and_the_models_column(box):
    table = report(box, "daily", "--breakdown", "--since", "20260211", "--until", "20260211", "-z", "UTC",
                   "--source", "claude_code").stdout
    assert "└ claude-opus-4-6" in table and "└ claude-sonnet-4-5-20250929" in table
    day = next(line for line in table.splitlines() if line.startswith("2026-02-11"))
    assert "claude-opus-4-6" in day and "claude-sonnet" not in day  # one model per line, not a long joined cell
    assert "Cache read" not in report(box, "daily", "--compact").stdout
    assert table.splitlines()[-1].startswith("Total")


def test_last_keeps_the_latest_periods_only(box):
    assert as_json(box, "daily", "-j", "--last", "1")["daily"] == []  # the corpus is older than today
    assert as_json(box, "monthly", "-j", "--last", "1200") == as_json(box, "monthly", "-j")
    assert first_of_latest("monthly", 3, "UTC") <= datetime.date.today().strftime("%Y-%m")


def test_claude_and_codex_record_no_cost_calculate_is_auto_and_display_zero(box):
    auto = as_json(box, "daily", "-j")
    assert as_json(box, "daily", "-j", "-m", "calculate") == auto and auto["totals"]["totalCost"] > 0
    display = as_json(box, "daily", "-j", "-m", "display")
    assert [(d["date"], d["totalTokens"]) for d in display["daily"]] == [(d["date"], d["totalTokens"]) for d in auto["daily"]]
    assert {d["totalCost"] for d in display["daily"]} == {0} and display["totals"]["totalCost"] == 0
    proc = report(box, "daily", "--mode", "guess", check=False)
    assert proc.returncode == 2 and "auto" in proc.stderr


def test_the_system_time_zone_is_the_default(box):
    tokyo = as_json(box, "daily", "-j", TZ="Asia/Tokyo")
    assert tokyo == as_json(box, "daily", "-j", "-z", "Asia/Tokyo")
    assert tokyo != as_json(box, "daily", "-j", "-z", "UTC")


def test_blocks_session_length_active_and_recent(box):
    five = as_json(box, "blocks", "-j")["blocks"]
    one = as_json(box, "blocks", "-j", "--session-length", "1")["blocks"]
    assert sum(not b["isGap"] for b in one) > sum(not b["isGap"] for b in five)
    assert sum(b["totalTokens"] for b in one) == sum(b["totalTokens"] for b in five)
    assert as_json(box, "blocks", "-j", "--active")["blocks"] == []  # nothing of the corpus is recent
    assert as_json(box, "blocks", "-j", "--recent")["blocks"] == []
    table = report(box, "blocks").stdout
    assert table.splitlines()[-1].startswith("Total")


def test_an_active_blocks_burn_rate_projection_and_token_limit():
    now = datetime.datetime(2026, 6, 1, 12, 30, tzinfo=datetime.timezone.utc)
    start = int(datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.timezone.utc).timestamp() * 1_000_000)
    minute = 60_000_000
    calls = [(start, "m", 100, 50, 0, 850, 1.0), (start + 20 * minute, "m", 100, 50, 0, 850, 1.0)]
    earlier = [(start - 30 * HOUR_US, "m", 10, 10, 0, 0, 0.5)]
    blocks = billing_blocks(earlier + calls, now)
    active = blocks[-1]
    assert active["is_active"]
    rate, projection = burn_rate_and_projection(active, 2000, now)
    assert rate == {"tokensPerMinute": 100.0, "tokensPerMinuteForIndicator": 15.0, "costPerHour": 6.0}
    assert projection == {"totalTokens": 2000 + 100 * 270, "totalCost": 2.0 + 0.1 * 270, "remainingMinutes": 270}
    assert token_limit("max", blocks) == 20 and token_limit("5000", blocks) == 5000 and token_limit(None, blocks) is None


def test_by_splits_each_period_and_keeps_the_totals(box):
    everything = as_json(box, "daily", "-j")
    for dimension in ("model", "source", "project", "branch", "agent_type"):
        split = as_json(box, "daily", "-j", "--by", dimension)
        assert without_costs(split["totals"]) == without_costs(everything["totals"]), dimension
        keys = [(row["date"], row[dimension]) for row in split["daily"]]
        assert len(keys) == len(set(keys)) and {d for d, _ in keys} == {d["date"] for d in everything["daily"]}
        assert sum(row["totalTokens"] for row in split["daily"]) == everything["totals"]["totalTokens"]
    by_model = as_json(box, "daily", "-j", "--by", "model", "--source", "claude_code")["daily"]
    for day in as_json(box, "daily", "-j", "--source", "claude_code")["daily"]:
        for part in day["modelBreakdowns"]:
            row = next(r for r in by_model if (r["date"], r["model"]) == (day["date"], part["modelName"]))
            assert row["outputTokens"] == part["outputTokens"] and row["cacheReadTokens"] == part["cacheReadTokens"]
    branches = {row["branch"] for row in as_json(box, "monthly", "-j", "--by", "branch", "--source", "claude_code")["monthly"]}
    assert branches - {"(no branch)"}  # Claude Code writes the branch on its lines
    assert "Branch" in report(box, "monthly", "--by", "branch").stdout.splitlines()[2]
    proc = report(box, "daily", "--by", "colour", check=False)
    assert proc.returncode == 2 and "agent_type" in proc.stderr


def _first_usage_per_call(path: Path) -> list[dict]:
    """A transcript's usage objects, the first line of each (message id, request id), as ccusage counts them."""
    seen, found = set(), []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        message = record.get("message") if isinstance(record.get("message"), dict) else {}
        if "usage" in message and (message.get("id"), record.get("requestId")) not in seen:
            seen.add((message.get("id"), record.get("requestId")))
            found.append(message["usage"])
    return found


def test_by_agent_type_counts_each_subagents_calls_under_the_type_its_task_result_names(box):
    """The corpus's Explore subagents, found here from the files alone (each Task result's agentId, and its
    agentType or, in older versions, the calling Task's subagent_type; then that agent's own file), against the
    report's Explore rows."""
    called, named = {}, {}
    for path in (SHARED_CORPUS / "claude").rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            blocks = (record.get("message") or {}).get("content") if isinstance(record.get("message"), dict) else None
            for block in blocks if isinstance(blocks, list) else []:
                if block.get("type") == "tool_use" and "subagent_type" in (block.get("input") or {}):
                    called[block["id"]] = block["input"]["subagent_type"]
                if block.get("type") == "tool_result" and isinstance(record.get("toolUseResult"), dict):
                    result = record["toolUseResult"]
                    if result.get("agentId"):
                        named[result["agentId"]] = (result.get("agentType"), block["tool_use_id"])
    explore = {agent for agent, (kind, call) in named.items() if (kind or called.get(call)) == "Explore"}
    assert any(kind is None for agent, (kind, _) in named.items() if agent in explore)  # the older form is covered
    usages = [usage for agent in explore for path in (SHARED_CORPUS / "claude").rglob(f"agent-{agent}.jsonl")
              for usage in _first_usage_per_call(path)]
    assert len(explore) >= 5 and usages
    rows = as_json(box, "daily", "-j", "--by", "agent_type", "--source", "claude_code")["daily"]
    explore_rows = [row for row in rows if row["agent_type"] == "Explore"]
    assert sum(r["inputTokens"] for r in explore_rows) == sum(u["input_tokens"] for u in usages)
    assert sum(r["cacheReadTokens"] for r in explore_rows) == sum(u.get("cache_read_input_tokens", 0) for u in usages)
    assert {"main", "compaction", "general-purpose"} <= {row["agent_type"] for row in rows}
    assert "Agent_type" not in report(box, "daily", "--by", "agent_type").stdout


def test_hourly_adds_up_to_the_daily_report(box):
    hourly = as_json(box, "hourly", "-j", "-z", "Asia/Kolkata")
    assert without_costs(hourly["totals"]) == without_costs(as_json(box, "daily", "-j", "-z", "Asia/Kolkata")["totals"])
    assert all(len(row["hour"]) == 16 and row["hour"].endswith(":00") for row in hourly["hourly"])
    utc = as_json(box, "hourly", "-j", "-z", "UTC")
    assert without_costs(utc["totals"]) == without_costs(hourly["totals"])
    assert [r["hour"] for r in utc["hourly"]] != [r["hour"] for r in hourly["hourly"]]  # half an hour apart


def test_the_active_block_read_from_the_last_silence_equals_the_one_of_every_call():
    """`blocks --active` reads the calls from the first after the latest silence longer than a block; its block
    must be the one the whole history gives, also when activity ran through several blocks without a silence."""
    import duckdb

    from star_pipeline.reports.report import ReportOptions, report_data

    now = datetime.datetime.now(datetime.timezone.utc)
    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA aggregate")
    conn.execute("""CREATE TABLE aggregate.fact_token_usage (usage_key VARCHAR, source VARCHAR, session_id VARCHAR,
        project_id VARCHAR, report_model VARCHAR, model_is_fallback BOOLEAN, event_ts TIMESTAMPTZ, date_key INTEGER,
        input_tokens BIGINT, output_tokens BIGINT, cache_creation_input_tokens BIGINT, cache_read_input_tokens BIGINT,
        reasoning_output_tokens BIGINT, cost_usd DOUBLE)""")
    # two days ago a lone call (then a silence), then a call every 40 minutes for 13 hours up to 10 minutes ago:
    # blocks roll over at 5 hours without any silence, so the active block starts at neither chain's first call
    times = [now - datetime.timedelta(days=2)] + [now - datetime.timedelta(minutes=10 + 40 * k) for k in range(20)]
    for n, ts in enumerate(sorted(times)):
        conn.execute("INSERT INTO aggregate.fact_token_usage VALUES (?, 'claude_code', 's', '/p', 'm', false, ?, 0, "
                     "10, 5, 0, 100, 0, 0.25)", [f"k{n}", ts])
    full = [b for b in report_data(conn, ReportOptions("blocks"), "w")["blocks"] if b["isActive"]]
    active = report_data(conn, ReportOptions("blocks", active=True), "w")["blocks"]
    assert len(full) == 1 and active == full
    chain_start = min(times[1:]).astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H")
    assert active[0]["entries"] < 20 and active[0]["startTime"][:13] > chain_start
    # with 6-minute blocks the last call (10 minutes ago) is in none: no block is active either way
    short = report_data(conn, ReportOptions("blocks", session_length=0.1), "w")["blocks"]
    assert [b for b in short if b["isActive"]] == [] and short
    assert report_data(conn, ReportOptions("blocks", active=True, session_length=0.1), "w")["blocks"] == []


@pytest.mark.parametrize("zone, flag, day, found", [
    ("Pacific/Kiritimati", "since", "2026-03-02", True),  # UTC+14: 11:00 UTC on 1 March is 01:00 on 2 March there
    ("Pacific/Kiritimati", "until", "2026-03-01", False),
    ("Etc/GMT+12", "until", "2026-02-28", True),  # UTC-12: 23:00 on 28 February there
    ("Etc/GMT+12", "since", "2026-03-01", False),
])
def test_a_date_range_in_a_far_time_zone_takes_the_calls_of_its_own_days(zone, flag, day, found):
    """--since and --until name days in --timezone; the UTC day of a call may be the day before or after."""
    import duckdb

    from star_pipeline.reports.report import ReportOptions, report_data

    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA aggregate")
    conn.execute("""CREATE TABLE aggregate.fact_token_usage AS SELECT 'k' AS usage_key, 'claude_code' AS source,
        's' AS session_id, '/p' AS project_id, 'm' AS report_model, false AS model_is_fallback,
        TIMESTAMPTZ '2026-03-01 11:00:00+00' AS event_ts, 20260301 AS date_key, 10::BIGINT AS input_tokens,
        5::BIGINT AS output_tokens, 0::BIGINT AS cache_creation_input_tokens, 0::BIGINT AS cache_read_input_tokens,
        0::BIGINT AS reasoning_output_tokens, 0.5::DOUBLE AS cost_usd""")
    days = report_data(conn, ReportOptions("daily", timezone=zone, **{flag: day}), "w")["daily"]
    assert [d["date"] for d in days] == ([day] if found else [])
