"""Budgets: a session replayed as today's against budgets below its cost shows over everywhere: `budgets` (its
spent what `report` says), the guard (exit 2 for a block budget, 0 and one warning for a warn one, counting the
calls written since the build), the statusline, the dashboard, the MCP tool, the check; the alert sensor records
a crossing once. Bad budget entries are refused at load, naming the file and the entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from star_pipeline.cli import main
from star_pipeline.config import ConfigError, load_settings
from star_pipeline.storage.budgets_file import budgets_file
from star_pipeline.storage.statusline_file import statusline_file
from star_pipeline_tests.builders import CWD, OPUS, SLUG, assistant, usage, user, write_jsonl
from star_pipeline_tests.conftest import Sandbox, build_defs, build_once, corpus_or_skip, materialize_all, query, \
    run_checks_alone, use_sandbox

STAR_PIPELINE = str(Path(sys.executable).with_name("star-pipeline"))
SESSION = "b0d9e7a1-0000-4000-8000-000000000001"
LATER = "b0d9e7a1-0000-4000-8000-000000000002"  # a session started after the build
# The replayed session's calls: (seconds before the build, usage); Opus 4.6 prices them at about $1.1 in all
CALLS = ((290, usage(2000, 3000, 50000, 100000)), (200, usage(1000, 4000, 0, 150000)),
         (100, usage(500, 2000, 10000, 160000)))
SESSION_TOKENS = sum(u["input_tokens"] + u["output_tokens"] + u["cache_creation_input_tokens"]
                     + u["cache_read_input_tokens"] for _, u in CALLS)  # Opus's
HAIKU = "claude-haiku-4-5-20251001"
HAIKU_CALL = (50, usage(20000, 1000))  # one call of another model, which the Opus budget does not count
BUDGETS = f"""\
budgets:
  - {{name: daily, period: day, limit_usd: 0.05, action: warn, warn_at: 0.5}}
  - {{name: session-cap, period: session, limit_usd: 0.10, action: block}}
  - {{name: opus-tokens, period: day, limit_tokens: {SESSION_TOKENS + 1000}, model: {OPUS}, action: block}}
  - {{name: elsewhere, period: month, limit_usd: 0.01, project: /home/u/elsewhere, action: block}}
  - {{name: five-hours, period: block, limit_usd: 100, action: warn}}
  - {{name: weekly, period: week, limit_usd: 100, action: warn}}
"""


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def today(seconds_ago: float) -> datetime:
    """`seconds_ago` before now, but not before this UTC day's first second (the calls are all today's)."""
    now = datetime.now(timezone.utc)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(now - timedelta(seconds=seconds_ago), midnight + timedelta(seconds=1))


def as_of(record: dict, moment: datetime) -> dict:
    record["timestamp"] = iso(moment)
    return record


def write_session(box: Sandbox) -> None:
    records = []
    for n, (ago, tokens) in enumerate(CALLS):
        records.append(as_of(user(SESSION, 0, f"step {n}"), today(ago + 5)))
        records.append(as_of(assistant(SESSION, 0, f"msg_b{n}", f"req_b{n}", tokens), today(ago)))
    records.append(as_of(assistant(SESSION, 0, "msg_haiku", "req_haiku", HAIKU_CALL[1], model=HAIKU),
                         today(HAIKU_CALL[0])))
    write_jsonl(box.claude_root / SLUG / f"{SESSION}.jsonl", records)


def write_budget_config(box: Sandbox) -> None:
    box.write_config(extra=BUDGETS)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The session replayed as today's, built with the budgets; TZ=UTC so that `today` is the report's day."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "UTC")

        def write(box):
            write_budget_config(box)
            write_session(box)

        box = build_once(tmp_path_factory, "budgets", write)
    return box


@pytest.fixture
def box(built, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    return use_sandbox(built, monkeypatch)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([STAR_PIPELINE, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120)


def budgets_json() -> dict:
    proc = run_cli("budgets", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def by_name(data: dict) -> dict:
    return {b["name"]: b for b in data["budgets"]}


def guard(box: Sandbox, payload: dict) -> subprocess.CompletedProcess:
    """The guard as Claude Code runs it once install-hooks --guard has added it: the payload on stdin."""
    return subprocess.run([STAR_PIPELINE, "guard", "--file", str(budgets_file(box.warehouse))], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=60)


def payload(box: Sandbox, session: str, event: str = "PreToolUse", transcript: Path | None = None) -> dict:
    return {"session_id": session, "transcript_path": str(transcript or box.claude_root / SLUG / f"{session}.jsonl"),
            "cwd": CWD, "hook_event_name": event, "tool_name": "Bash", "tool_input": {"command": "make test"}}


# -- budgets: over, with report's spent -------------------------------------------------------------------------
def test_budgets_are_over_with_the_spent_report_counts(box):
    budgets = by_name(budgets_json())
    day = datetime.now(timezone.utc).date().isoformat()
    daily = json.loads(run_cli("report", "daily", "--json", "--since", day, "--until", day).stdout)["totals"]
    opus = json.loads(run_cli("report", "daily", "--json", "--since", day, "--until", day, "--model", OPUS).stdout)
    session = json.loads(run_cli("report", "session", "--json", "--id", SESSION).stdout)["totals"]
    assert daily["totalCost"] > 0.10 and daily["totalTokens"] == SESSION_TOKENS + 21000  # today's, above the limits

    assert budgets["daily"]["spent_usd"] == daily["totalCost"]  # the report's own sum: equal, not just to the cent
    assert f"{budgets['daily']['spent_usd']:.2f}" == f"{daily['totalCost']:.2f}"
    assert budgets["daily"]["status"] == "over" and budgets["daily"]["window"] == day
    assert budgets["daily"]["remaining_usd"] == 0
    assert budgets["daily"]["projected_usd"] >= budgets["daily"]["spent_usd"]
    assert budgets["session-cap"]["spent_usd"] == session["totalCost"]
    assert budgets["session-cap"]["status"] == "over" and budgets["session-cap"]["window"] == f"session {SESSION}"
    assert budgets["opus-tokens"]["spent_tokens"] == opus["totals"]["totalTokens"] == SESSION_TOKENS
    assert budgets["opus-tokens"]["status"] == "warn" and budgets["opus-tokens"]["remaining_tokens"] == 1000
    assert budgets["elsewhere"]["spent_usd"] == 0 and budgets["elsewhere"]["status"] == "ok"
    (block,) = json.loads(run_cli("report", "blocks", "--json", "--active").stdout)["blocks"]
    assert budgets["five-hours"]["spent_usd"] == block["costUSD"] and budgets["five-hours"]["status"] == "ok"
    assert budgets["five-hours"]["window_start"] == block["startTime"].replace(".000Z", "+00:00")
    sunday = budgets["weekly"]["window_start"][:10]
    week = json.loads(run_cli("report", "weekly", "--json", "--since", sunday).stdout)["weekly"]
    assert [w["week"] for w in week] == [sunday] and budgets["weekly"]["spent_usd"] == week[0]["totalCost"]

    table = run_cli("budgets").stdout
    assert "daily" in table and "OVER" in table and "WARN" in table


def test_the_windows_are_the_reports_days_weeks_and_months():
    from zoneinfo import ZoneInfo

    from star_pipeline.reports.budgets import calendar_window

    berlin = ZoneInfo("Europe/Berlin")
    wednesday = datetime(2026, 12, 9, 0, 30, tzinfo=berlin)
    week = calendar_window("week", wednesday)  # from Sunday, as `report weekly`
    assert (week.start, week.end, week.label) == (datetime(2026, 12, 6, tzinfo=berlin), datetime(2026, 12, 13, tzinfo=berlin),
                                                  "week of 2026-12-06")
    month = calendar_window("month", wednesday)
    assert (month.start, month.end, month.label) == (datetime(2026, 12, 1, tzinfo=berlin), datetime(2027, 1, 1, tzinfo=berlin),
                                                     "2026-12")
    day = calendar_window("day", datetime(2026, 3, 29, 12, tzinfo=berlin))  # 23 hours: the clocks go forward
    utc = timezone.utc
    assert (day.end.astimezone(utc) - day.start.astimezone(utc)).total_seconds() == 23 * 3600
    assert day.label == "2026-03-29" and day.end.isoformat() == "2026-03-30T00:00:00+02:00"


def test_a_window_that_ended_since_the_build_counts_only_the_calls_after_it():
    """What the guard and the status line add up (storage/budgets_file.py `current_use`): in the published window,
    what the build counted plus the new calls in it; once that window has ended (midnight passed since the build),
    only the new calls from its end; the model filter on the new calls too."""
    from star_pipeline.storage.budgets_file import current_use

    hour = 3_600_000_000
    state = {"name": "daily", "period": "day", "window_start_us": 0, "window_end_us": 24 * hour, "spent_usd": 5.0,
             "spent_tokens": 500, "filters": {"model": OPUS}}
    calls = [(23 * hour, 1.0, 100, OPUS, True), (25 * hour, 2.0, 200, OPUS, True), (25 * hour, 4.0, 400, HAIKU, True)]
    assert current_use(state, None, calls, now_us=23 * hour + 1)[:2] == (6.0, 600)  # the 25th hour's call is tomorrow's
    assert current_use(state, None, calls, now_us=25 * hour + 1)[:2] == (2.0, 200)  # a new day: the build's 5.0 is not in it
    session = {**state, "name": "cap", "period": "session", "window_start_us": None, "window_end_us": None}
    assert current_use(session, {"cap": [0.5, 50]}, calls, now_us=25 * hour)[:2] == (3.5, 350)


# -- the guard --------------------------------------------------------------------------------------------------
def test_the_guard_refuses_a_call_of_a_session_over_its_block_budget(box):
    proc = guard(box, payload(box, SESSION))
    assert proc.returncode == 2
    reason = proc.stderr.strip()
    spent = by_name(budgets_json())["session-cap"]["spent_usd"]
    assert "\n" not in reason and "'session-cap' is over" in reason
    assert f"${spent:,.2f} spent of $0.10" in reason


def test_the_guard_lets_a_warn_budget_through_and_says_so_once(box):
    other = "b0d9e7a1-0000-4000-8000-00000000000f"  # a session with no calls yet: its session budget is not over
    first = guard(box, payload(box, other, "UserPromptSubmit"))
    assert first.returncode == 0, first.stderr
    message = json.loads(first.stdout)["systemMessage"]
    assert "'daily' is over its limit" in message and "'opus-tokens' is at" in message
    assert "elsewhere" not in message  # another project's budget does not apply here
    again = guard(box, payload(box, other, "PreToolUse"))
    assert again.returncode == 0 and again.stdout == ""


def test_the_guard_counts_the_calls_written_since_the_build(box, tmp_path):
    transcript = box.claude_root / SLUG / f"{LATER}.jsonl"
    try:
        write_jsonl(transcript, [as_of(user(LATER, 0, "go on"), today(1))])
        assert guard(box, payload(box, LATER)).returncode == 0
        # its first response: 5,000 cache-read tokens (a fraction of a cent) push today's Opus tokens past the limit
        write_jsonl(transcript, [as_of(assistant(LATER, 0, "msg_later", "req_later", usage(10, 10, 0, 4980)),
                                       datetime.now(timezone.utc))], append=True)
        proc = guard(box, payload(box, LATER))
        assert proc.returncode == 2 and "'opus-tokens' is over" in proc.stderr
        assert f"{SESSION_TOKENS + 5000:,} tokens spent of {SESSION_TOKENS + 1000:,} tokens" in proc.stderr
    finally:
        transcript.unlink()


def test_the_guard_lets_everything_through_without_its_data_and_says_why(tmp_path):
    missing = tmp_path / "warehouse.duckdb.budgets.jsonl"
    proc = subprocess.run([STAR_PIPELINE, "guard", "--file", str(missing)], input='{"session_id": "x"}',
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    assert "no budgets published" in (tmp_path / "guard-errors.log").read_text()
    missing.write_text("not json\n")
    assert subprocess.run([STAR_PIPELINE, "guard", "--file", str(missing)], input=b"{}", capture_output=True,
                          timeout=60).returncode == 0
    assert len((tmp_path / "guard-errors.log").read_text().splitlines()) == 2


def test_the_guard_imports_neither_duckdb_nor_dagster_nor_yaml(box):
    code = ("import sys, io; from star_pipeline.cli import main; "
            f"sys.stdin = io.TextIOWrapper(io.BytesIO({json.dumps(payload(box, SESSION)).encode()!r})); "
            f"code = main(['guard', '--file', {str(budgets_file(box.warehouse))!r}]); "
            "heavy = [m for m in ('dagster', 'duckdb', 'yaml', 'pyarrow') if m in sys.modules]; "
            "print(code, ','.join(heavy))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["2"]


# -- seen everywhere --------------------------------------------------------------------------------------------
def test_the_statusline_shows_the_tightest_budget(box):
    states = by_name(budgets_json())
    tightest = max((states[name] for name in ("daily", "session-cap", "opus-tokens")), key=lambda s: s["used_fraction"])
    proc = subprocess.run([STAR_PIPELINE, "statusline", "--file", str(statusline_file(box.warehouse))],
                          input=json.dumps({**payload(box, SESSION), "model": {"display_name": "Opus"}}),
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.rstrip().endswith(f"| 💸 {int(tightest['used_fraction'] * 100)}% of {tightest['name']} $0.05")
    assert tightest["name"] == "daily"


def test_the_dashboard_overview_has_the_budgets(box):
    from starlette.testclient import TestClient

    from star_pipeline.dashboard.app import create_app

    page = TestClient(create_app(box.warehouse, timezone="UTC"), base_url="http://127.0.0.1").get("/").text
    states = by_name(budgets_json())
    assert '<tr class="budget-over" data-budget="daily">' in page
    assert '<tr class="budget-warn" data-budget="opus-tokens">' in page
    assert f'data-value="{states["daily"]["spent_usd"]}"' in page


def test_the_mcp_tool_answers_the_budgets(box):
    import anyio

    from star_pipeline.search.mcp_server import build_server

    result = anyio.run(build_server(box.warehouse).call_tool, "budget_status", {})
    assert not result.is_error, result.content[0].text
    answer = json.loads(result.content[0].text)
    expected = by_name(budgets_json())
    assert {b["name"]: (b["status"], b["spent_usd"]) for b in answer["budgets"]} == \
        {name: (b["status"], b["spent_usd"]) for name, b in expected.items()}


def test_the_check_warns_with_the_budgets_over_or_near(box):
    result = run_checks_alone(box, (["aggregate", "published_budgets"], "budgets_within_limits"))
    assert result.success  # WARN: never fails a run
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity.value == "WARN"
    listed = {b["name"]: b["status"] for b in evaluation.metadata["over_or_near"].value}
    assert listed == {"daily": "over", "session-cap": "over", "opus-tokens": "warn"}


# -- alerts once ------------------------------------------------------------------------------------------------
def test_the_alert_sensor_records_a_crossing_once(box, tmp_path, monkeypatch):
    from dagster import DagsterInstance, SensorResult, build_sensor_context

    notified = tmp_path / "notified"
    fake = tmp_path / "bin" / "notify-send"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {notified}\n")
    fake.chmod(0o700)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")

    defs = build_defs(box)
    sensor = defs.resolve_sensor_def("budget_alerts_sensor")
    instance = DagsterInstance.ephemeral()
    first = sensor(build_sensor_context(instance=instance))
    assert isinstance(first, SensorResult) and len(first.run_requests) == 1
    second = sensor(build_sensor_context(instance=instance, cursor=first.cursor))  # the next tick: nothing new
    assert not isinstance(second, SensorResult)

    job = defs.resolve_job_def("record_budget_alerts")
    for _ in range(2):  # a run repeated (a retry) writes nothing more
        assert job.execute_in_process(run_config=first.run_requests[0].run_config, instance=instance).success
    rows = query(box, "SELECT budget, level, window_label, spent_usd, limit_usd FROM aggregate.budget_alerts "
                      "ORDER BY budget")
    states = by_name(budgets_json())
    assert rows == [("daily", "limit", states["daily"]["window"], states["daily"]["spent_usd"], 0.05),
                    ("opus-tokens", "warn", states["opus-tokens"]["window"], 0.0 + states["opus-tokens"]["spent_usd"],
                     None),
                    ("session-cap", "limit", states["session-cap"]["window"], states["session-cap"]["spent_usd"], 0.10)]
    assert len(notified.read_text().splitlines()) == 3  # once each, not again on the repeated run
    assert {(a["budget"], a["level"]) for a in budgets_json()["alerts"]} == \
        {("daily", "limit"), ("opus-tokens", "warn"), ("session-cap", "limit")}
    assert f"daily ({states['daily']['window']}): limit reached, ${states['daily']['spent_usd']:,.2f} of $0.05" \
        in run_cli("budgets").stdout

    # the dashboard lists them once the next rebuild has published the report copy
    from dagster import AssetKey
    from starlette.testclient import TestClient

    from star_pipeline.dashboard.app import create_app

    copy = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={AssetKey(["aggregate", "published_report_copy"])}, asset_check_selection=set())
    assert copy.execute_in_process(instance=instance).success
    page = TestClient(create_app(box.warehouse, timezone="UTC"), base_url="http://127.0.0.1").get("/").text
    alerts = page.split('<ul id="budget-alerts">', 1)[1].split("</ul>", 1)[0]
    assert f"session-cap (session {SESSION}) reached its limit" in alerts
    assert f"opus-tokens ({states['opus-tokens']['window']}) passed its warning level" in alerts


# -- configuration ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("entry, complaint", [
    ("{name: daily, period: fortnight, limit_usd: 5}", "'period' must be one of day, week, month, block, session"),
    ("{name: daily, period: day}", "give exactly one of 'limit_usd'"),
    ("{name: daily, period: day, limit_usd: 5, limit_tokens: 9}", "give exactly one of 'limit_usd'"),
    ("{name: daily, period: day, limit_usd: -1}", "'limit_usd' must be a number above 0"),
    ("{name: daily, period: day, limit_usd: 5, action: stop}", "'action' must be warn or block"),
    ("{name: daily, period: day, limit_usd: 5, warn_at: 80}", "'warn_at' must be a fraction"),
    ("{name: daily, period: day, limit_usd: 5, source: claude}", "'source' must be one of"),
    ("{name: daily, period: day, limit_usd: 5, cap: 3}", "unknown key 'cap'"),
    ("{name: ok, period: day, limit_usd: 5}", "another entry is already named 'ok'"),
], ids=["period", "no_limit", "two_limits", "negative_limit", "action", "warn_at", "source", "unknown_key", "same_name"])
def test_a_bad_budget_is_refused_naming_the_file_and_the_entry(sandbox, entry, complaint):
    text = sandbox.config_path.read_text() + f"budgets:\n  - {{name: ok, period: day, limit_usd: 5}}\n  - {entry}\n"
    sandbox.config_path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_settings(sandbox.config_path)
    assert str(error.value).startswith(f"{sandbox.config_path}: budgets entry 2")
    assert complaint in str(error.value)


def test_budgets_load_with_their_defaults_and_paths_expanded(sandbox):
    sandbox.config_path.write_text(sandbox.config_path.read_text() + textwrap.dedent("""\
        budgets:
          - {name: client-x, period: month, limit_usd: 300, project: ~/src/client-x, action: block}
        """))
    (budget,) = load_settings(sandbox.config_path).budgets
    assert budget.warn_at == 0.8 and budget.project == os.path.expanduser("~/src/client-x")
    assert budget.limit_usd == 300.0 and budget.action == "block"


def test_install_hooks_adds_the_guard_before_prompts_and_tools_and_removes_it(sandbox, tmp_path, capsys):
    settings = tmp_path / "settings.json"
    assert main(["install-hooks", "--settings", str(settings), "--guard"]) == 0
    hooks = json.loads(settings.read_text())["hooks"]
    guarded = {event for event, groups in hooks.items() for group in groups for h in group["hooks"]
               if f" guard --file {budgets_file(sandbox.warehouse)}" in h["command"]}
    assert guarded == {"UserPromptSubmit", "PreToolUse"}
    capsys.readouterr()
    assert main(["install-hooks", "--settings", str(settings), "--guard"]) == 0
    assert "already up to date" in capsys.readouterr().out
    assert main(["install-hooks", "--settings", str(settings), "--uninstall"]) == 0
    assert "hooks" not in json.loads(settings.read_text())


# -- a real session -------------------------------------------------------------------------------------------
def test_a_real_session_replayed_as_today_is_over_its_budgets(tmp_path, monkeypatch):
    """A session of ../shared/corpus with its timestamps moved into the last minutes (skipped without the corpus)."""
    corpus = corpus_or_skip()
    sessions = sorted((corpus / "claude" / "projects").glob("*/*.jsonl"), key=lambda p: p.stat().st_size)
    real = next(p for p in sessions if p.stat().st_size > 20_000 and b'"usage"' in p.read_bytes())
    lines = [json.loads(line) for line in real.read_bytes().splitlines() if line.strip()]
    stamped = [line for line in lines if isinstance(line, dict) and isinstance(line.get("timestamp"), str)]
    for n, line in enumerate(stamped):  # in their order, a second apart, ending now
        line["timestamp"] = iso(today(len(stamped) - n))
    monkeypatch.setenv("TZ", "UTC")
    box = use_sandbox(Sandbox(tmp_path), monkeypatch)
    box.write_config(extra="budgets:\n  - {name: tiny, period: day, limit_usd: 0.01, action: block}\n")
    write_jsonl(box.claude_root / real.parent.name / real.name, lines)
    materialize_all(box)
    day = datetime.now(timezone.utc).date().isoformat()
    report = json.loads(run_cli("report", "daily", "--json", "--since", day, "--until", day).stdout)["totals"]
    tiny = by_name(budgets_json())["tiny"]
    assert report["totalCost"] > 0.01 and tiny["status"] == "over" and tiny["spent_usd"] == report["totalCost"]
    session_id = real.stem
    proc = guard(box, {"session_id": session_id, "transcript_path": str(box.claude_root / real.parent.name / real.name),
                       "cwd": "/anywhere", "hook_event_name": "UserPromptSubmit", "prompt": "go on"})
    assert proc.returncode == 2 and "'tiny' is over" in proc.stderr
