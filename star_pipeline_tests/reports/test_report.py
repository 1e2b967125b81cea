"""`star-pipeline report`: ccusage-compatible JSON, readable tables, and reads that never take the writer lock."""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest


STAR_PIPELINE = str(Path(sys.executable).with_name("star-pipeline"))
KNOWN_CCUSAGE_SELF_CONTRADICTION = {("2026-04-09", "claude-haiku-4-5-20251001"): 3243}


def report(box, *args, check=True, config=None):
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(config or box.config_path)}
    proc = subprocess.run([STAR_PIPELINE, "report", *args], capture_output=True, text=True, env=env)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def corpus_box(corpus_warehouse):
    return corpus_warehouse


def shape(value):
    """Field names and nesting, without values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__ if not isinstance(value, (int, float)) or isinstance(value, bool) else "number"


def test_claude_daily_json_matches_ccusage(corpus_box):
    box, corpus = corpus_box
    mine = json.loads(report(box, "daily", "--json", "--source", "claude_code").stdout)
    reference = json.loads((corpus / "ccusage-claude-daily.json").read_text())
    assert shape(mine) == shape(reference)
    assert [d["date"] for d in mine["daily"]] == [d["date"] for d in reference["daily"]]
    for ours, theirs in zip(mine["daily"], reference["daily"]):
        assert ours["modelsUsed"] == theirs["modelsUsed"]
        for a, b in zip(ours["modelBreakdowns"], theirs["modelBreakdowns"]):
            expected_output = KNOWN_CCUSAGE_SELF_CONTRADICTION.get((ours["date"], a["modelName"]), b["outputTokens"])
            assert (a["modelName"], a["inputTokens"], a["outputTokens"], a["cacheCreationTokens"], a["cacheReadTokens"]) == (
                b["modelName"], b["inputTokens"], expected_output, b["cacheCreationTokens"], b["cacheReadTokens"])
            if expected_output == b["outputTokens"]:
                assert a["cost"] == pytest.approx(b["cost"], rel=0.005)


def test_claude_session_json_matches_ccusage(corpus_box):
    box, corpus = corpus_box
    mine = json.loads(report(box, "session", "--json", "--source", "claude_code").stdout)
    reference = json.loads((corpus / "ccusage-claude-session.json").read_text())
    assert shape(mine) == shape(reference)
    ours = {s["sessionId"]: s for s in mine["sessions"]}
    for theirs in reference["sessions"]:
        session = ours[theirs["sessionId"]]
        assert session["projectPath"] == theirs["projectPath"]
        assert (session["inputTokens"], session["cacheCreationTokens"], session["cacheReadTokens"]) == (
            theirs["inputTokens"], theirs["cacheCreationTokens"], theirs["cacheReadTokens"])
        assert session["firstActivity"] == theirs["firstActivity"] and session["lastActivity"] == theirs["lastActivity"]
        assert session["totalCost"] == pytest.approx(theirs["totalCost"], rel=0.005)


def test_codex_daily_json_matches_ccusage(corpus_box):
    box, corpus = corpus_box
    mine = json.loads(report(box, "daily", "--json", "--source", "codex").stdout)
    reference = json.loads((corpus / "ccusage-codex-daily.json").read_text())
    assert shape(mine) == shape(reference)
    for ours, theirs in zip(mine["daily"], reference["daily"], strict=True):
        assert ours["models"].keys() == theirs["models"].keys()
        for model, cell in theirs["models"].items():
            assert {k: v for k, v in ours["models"][model].items()} == cell
        assert ours["costUSD"] == pytest.approx(theirs["costUSD"], rel=0.005)


def test_table_output_and_filters(corpus_box):
    box, _ = corpus_box
    table = report(box, "monthly").stdout
    assert "2026-04" in table and "Total" in table and "Cost (USD)" in table
    filtered = json.loads(report(box, "daily", "--json", "--since", "20260401", "--until", "2026-04-27").stdout)
    assert [d["date"] for d in filtered["daily"]] == ["2026-04-09", "2026-04-24", "2026-04-27"]
    berlin = json.loads(report(box, "daily", "--json", "--timezone", "Pacific/Kiritimati").stdout)
    assert sum(d["totalTokens"] for d in berlin["daily"]) == json.loads(report(box, "daily", "--json").stdout)["totals"]["totalTokens"]
    blocks = json.loads(report(box, "blocks", "--json").stdout)["blocks"]
    assert blocks[0]["id"] == "2025-09-07T09:00:00.000Z" and any(b["isGap"] for b in blocks)


def without_costs(value):
    """The report with every cost rounded to 1e-9 USD (the two paths may sum the doubles in another order)."""
    if isinstance(value, dict):
        return {k: round(v, 9) if k in ("totalCost", "cost", "costUSD") else without_costs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_costs(v) for v in value]
    return value


@pytest.mark.parametrize("period", ["daily", "weekly", "monthly"])
def test_utc_reports_from_the_date_key_equal_the_per_row_time_zone_path(corpus_box, period):
    """UTC (the default) groups by the facts' date_key; any other zone name converts each call's time.
    Etc/UTC is the same zone under another name, so both paths must print the same report."""
    box, _ = corpus_box
    for args in ([], ["--since", "20260409", "--until", "2026-04-27"], ["--source", "codex"]):  # days with calls
        utc = json.loads(report(box, period, "--json", *args).stdout)
        converted = json.loads(report(box, period, "--json", "--timezone", "Etc/UTC", *args).stdout)
        assert utc[period], args
        assert without_costs(utc) == without_costs(converted), args


def test_bad_arguments_get_clear_messages(corpus_box):
    box, _ = corpus_box
    proc = report(box, "daily", "--since", "last week", check=False)
    assert proc.returncode == 2 and "--since 'last week': not a date; use YYYYMMDD" in proc.stderr
    proc = report(box, "daily", "--since", "2026-13-01", check=False)  # a date that never was: not an empty table
    assert proc.returncode == 2 and "--since '2026-13-01': not a date" in proc.stderr
    proc = report(box, "daily", "--timezone", "Mars/Olympus", check=False)
    assert proc.returncode == 2 and "not a time zone name" in proc.stderr


def test_report_before_any_build_says_what_to_do(sandbox):
    proc = report(sandbox, "daily", check=False)
    assert proc.returncode == 2 and "no warehouse yet" in proc.stderr and "star-pipeline build" in proc.stderr


def test_report_while_a_writer_holds_the_warehouse_reads_the_published_copy(corpus_box, tmp_path):
    box, _ = corpus_box
    expected = json.loads(report(box, "daily", "--json").stdout)
    ready = tmp_path / "locked"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, pathlib, time
        conn = duckdb.connect({str(box.warehouse)!r})
        pathlib.Path({str(ready)!r}).touch()
        time.sleep(20)
    """)])
    try:
        for _ in range(200):
            if ready.exists():
                break
            time.sleep(0.05)
        proc = report(box, "daily", "--json")
        assert json.loads(proc.stdout) == expected
        assert f"held by process {holder.pid}" in proc.stderr and "published" in proc.stderr
    finally:
        holder.kill()
        holder.wait()


REPORT_KINDS = [("daily",), ("weekly",), ("monthly",), ("session",), ("blocks",), ("daily", "--source", "codex"),
                ("session", "--source", "codex"), ("daily", "--timezone", "Asia/Kolkata", "--since", "20260401"),
                ("daily", "--project", "-home-user-spotter"),
                ("daily", "--instances"), ("projects",), ("session", "--order", "desc"), ("blocks", "--session-length", "2")]


def test_every_report_reads_the_same_from_the_published_copy(corpus_box, tmp_path):
    """The copy holds only the columns reports read: every report, read from the copy alone, prints
    what it prints from the warehouse."""
    box, _ = corpus_box
    copy_only = tmp_path / "copy.yaml"
    copy_only.write_text(box.config_path.read_text().replace(f"path: {box.warehouse}\n",
                                                             f"path: {box.warehouse}.reports.duckdb\n"))
    assert copy_only.read_text() != box.config_path.read_text()
    for kind in REPORT_KINDS:
        from_copy = report(box, *kind, "--json", check=False, config=copy_only)
        assert from_copy.returncode == 0, (kind, from_copy.stderr)
        assert json.loads(from_copy.stdout) == json.loads(report(box, *kind, "--json").stdout), kind


def test_report_command_imports_no_dagster(corpus_box):
    box, _ = corpus_box
    code = (
        "import sys, io, contextlib; from star_pipeline.cli import main; "
        "buffer = io.StringIO()\n"
        "with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(io.StringIO()): main(['report', 'daily', '--json'])\n"
        "print('dagster' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "STAR_PIPELINE_CONFIG": str(box.config_path)})
    assert proc.stdout.strip().splitlines()[-1] == "False", proc.stderr


def test_the_published_copy_follows_every_aggregate_rebuild(sandbox):
    """The copy reports fall back to is rewritten by each rebuild, not only by the first."""
    from star_pipeline.storage.published_copies import published_copy_path
    from star_pipeline_tests.conftest import materialize_all
    from star_pipeline_tests.builders import assistant, session_file, usage, user, write_jsonl

    def tokens_in_copy() -> int:
        copy_only = sandbox.config_path.with_name("copy.yaml")
        copy_only.write_text(sandbox.config_path.read_text().replace(
            f"path: {sandbox.warehouse}\n", f"path: {published_copy_path(sandbox.warehouse)}\n"))
        return json.loads(report(sandbox, "daily", "--json", config=copy_only).stdout)["totals"]["totalTokens"]

    first, second = "7a8b9c0d-1e2f-4a3b-8c4d-6e7f8a9b0c1d", "8b9c0d1e-2f3a-4b4c-9d5e-7f8a9b0c1d2e"
    write_jsonl(session_file(sandbox, first), [user(first, 0), assistant(first, 1, "msg_01CopyA", "req_011CopyA", usage(10, 5))])
    materialize_all(sandbox)
    assert tokens_in_copy() == 15

    write_jsonl(session_file(sandbox, second), [user(second, 0), assistant(second, 1, "msg_01CopyB", "req_011CopyB", usage(20, 7))])
    materialize_all(sandbox)
    assert tokens_in_copy() == 15 + 27


def test_report_on_a_warehouse_without_aggregates_says_what_to_do(sandbox):
    """A build that stopped before the aggregate layer (a bad file used to do that) leaves a warehouse
    the report cannot answer from: a message, not a traceback."""
    from star_pipeline.storage.warehouse import open_connection

    open_connection(sandbox.warehouse).close()  # the file, its migrations, no aggregate tables
    proc = report(sandbox, "daily", check=False)
    assert proc.returncode == 2
    assert "no aggregate tables yet" in proc.stderr and "star-pipeline build" in proc.stderr
    assert "Traceback" not in proc.stderr
