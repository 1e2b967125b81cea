"""`star-pipeline statusline`: the published file says what the reports say, lines written after the build
show at once (and equal what the next build counts), and nothing Claude Code sends or lacks stops the line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from star_pipeline.storage.statusline_file import QUARTER_FIELDS, statusline_file
from star_pipeline_tests.builders import (OPUS, SLUG, assistant, codex_file, copied_into, session_meta, token_count,
                                          turn_context, usage, user, write_jsonl)
from star_pipeline_tests.conftest import build_once, materialize_all

STAR_PIPELINE = str(Path(sys.executable).with_name("star-pipeline"))
A = "a1a1a1a1-0000-4000-8000-000000000001"
B = "b2b2b2b2-0000-4000-8000-000000000002"
C = "c3c3c3c3-0000-4000-8000-000000000003"
MIDNIGHT_ZONES = ("Asia/Kolkata", "America/St_Johns", "Asia/Kathmandu")  # +5:30, -3:30 (or -2:30), +5:45
SONNET = "claude-sonnet-4-5-20250929"  # long-context prices above 200,000 input tokens
HAIKU = "claude-haiku-4-5-20251001"
LINE = re.compile(
    r"^🤖 (?P<model>.+?) \| 💰 (?:\$(?P<session>[\d.]+)|N/A) session / \$(?P<today>[\d.]+) today / "
    r"(?:\$(?P<block>[\d.]+) block \((?P<left>[^)]+) left\)|No active block)(?: \| 🔥 \$(?P<burn>[\d.]+)/hr)? "
    r"\| 🧠 (?P<context>.+)$")


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def at(record: dict, moment: datetime) -> dict:
    record["timestamp"] = iso(moment)
    return record


def main_file(box, session: str) -> Path:
    return box.claude_root / SLUG / f"{session}.jsonl"


def subagent_file(box, session: str, agent: str) -> Path:
    return box.claude_root / SLUG / session / "subagents" / f"agent-{agent}.jsonl"


def fast(tokens: dict) -> dict:
    return {**tokens, "speed": "fast"}


def write_history(box, now: datetime) -> dict:
    """Session A (a call a day ago, one response split over two lines, a subagent), session B resumed from it
    (a copy of A's call, a long-context call, a fast call), and a Codex session; the records by name."""
    ago = lambda minutes: now - timedelta(minutes=minutes)  # noqa: E731
    r = {
        "a0": at(assistant(A, 0, "msg_a0", "req_a0", usage(2000, 500, cc=10_000)), ago(27 * 60)),
        "a1": at(assistant(A, 0, "msg_a1", "req_a1", usage(1000, 200, cc=5000)), ago(50)),
        "a2_early": at(assistant(A, 0, "msg_a2", "req_a2", usage(10, 1, cr=20_000)), ago(40)),
        "a2": at(assistant(A, 0, "msg_a2", "req_a2", usage(10, 900, cr=20_000)), ago(40) + timedelta(seconds=2)),
        "s1": at(assistant(A, 0, "msg_s1", "req_s1", usage(300, 80, cr=1000), model=HAIKU, sidechain=True,
                           agent_id="x1"), ago(35)),
        "b1": at(assistant(B, 0, "msg_b1", "req_b1", usage(150_000, 2000, cr=60_000), model=SONNET), ago(30)),
        "b2": at(assistant(B, 0, "msg_b2", "req_b2", fast(usage(5000, 3000, cc=2000, cc_1h=1000))), ago(25)),
    }
    # calls 5 minutes either side of the last midnight of zones half and quarter hours off UTC; a zone whose
    # midnight is less than 7 hours ago is left out (its calls would open the 5-hour block the calls above fall
    # in, which then ends before now: no active block, at 23:00-00:35 UTC for Kolkata and Kathmandu). The zones'
    # midnights are hours apart, so at least one is always in.
    for zone in MIDNIGHT_ZONES:
        midnight = (now - timedelta(minutes=10)).astimezone(ZoneInfo(zone)).replace(hour=0, minute=0, second=0,
                                                                                      microsecond=0)
        if now - midnight < timedelta(hours=7, minutes=5):
            continue
        for side in (-5, 5):
            name = f"midnight_{zone}_{side}".replace("/", "_")
            r[name] = at(assistant(A, 0, f"msg_{name}", f"req_{name}", usage(3000, 100, cr=9000)),
                         (midnight + timedelta(minutes=side)).astimezone(timezone.utc))
    assert any(name.startswith("midnight_") for name in r)
    lines = [at(user(A, 0), ago(27 * 60 + 1)), r["a0"], at(user(A, 0), ago(51)), r["a1"], r["a2_early"], r["a2"],
             *(record for name, record in r.items() if name.startswith("midnight_"))]
    write_jsonl(main_file(box, A), sorted(lines, key=lambda record: record["timestamp"]))
    write_jsonl(subagent_file(box, A, "x1"), [r["s1"]])
    write_jsonl(main_file(box, B), [copied_into(B, r["a1"]), at(user(B, 0), ago(31)), r["b1"], r["b2"]])
    codex = [session_meta("0199a3c1-7e2b-7c50-9d4e-2f1a6b8c9d0f"), turn_context(0, "gpt-5"),
             token_count(0, (40_000, 10_000, 3000, 500))]
    for record in codex:
        at(record, ago(20))
    write_jsonl(codex_file(box, "0199a3c1-7e2b-7c50-9d4e-2f1a6b8c9d0f", day=ago(20).strftime("%Y/%m/%d")), codex)
    return r


def statusline(box, session: str | None, transcript: Path | None, *, stdin: bytes | None = None, window=None,
               env: dict | None = None, file: Path | None = None) -> subprocess.CompletedProcess:
    payload = {"hook_event_name": "Status", "session_id": session, "model": {"id": OPUS, "display_name": "Opus"},
               "transcript_path": str(transcript) if transcript else None, "cwd": "/home/u/proj"}
    if window:
        payload["context_window"] = {"context_window_size": window}
    proc = subprocess.run([STAR_PIPELINE, "statusline", "--file", str(file or statusline_file(box.warehouse))],
                          input=stdin if stdin is not None else json.dumps(payload).encode(), capture_output=True,
                          env={**os.environ, "TZ": "UTC", **(env or {})})
    assert proc.returncode == 0 and proc.stderr == b""
    return proc


def shown(proc: subprocess.CompletedProcess) -> dict:
    text = proc.stdout.decode()
    assert text.count("\n") == 1, text
    match = LINE.match(text.rstrip("\n"))
    assert match, text
    return {k: (float(v) if k in ("session", "today", "block", "burn") and v is not None else v)
            for k, v in match.groupdict().items()}


def report(*args) -> dict:
    proc = subprocess.run([STAR_PIPELINE, "report", *args, "--json", "--source", "claude_code"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def published(box) -> tuple[dict, dict]:
    header, *sessions = [json.loads(line) for line in statusline_file(box.warehouse).read_text().splitlines()]
    return header, {s["session"]: s for s in sessions}


def utc_iso_us(us: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=us)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_once(tmp_path_factory, "statusline", lambda box: write_history(box, datetime.now(timezone.utc)))


@pytest.fixture
def built_box(built, monkeypatch):
    from star_pipeline_tests.conftest import use_sandbox

    return use_sandbox(built, monkeypatch)


def test_published_file_says_what_the_reports_say(built_box):
    box = built_box
    path = statusline_file(box.warehouse)
    assert path.stat().st_mode & 0o777 == 0o600
    header, sessions = published(box)

    by_report = {s["sessionId"]: s for s in report("session", "-z", "UTC")["sessions"]}
    assert set(sessions) == set(by_report) == {A, B}
    for session_id, entry in sessions.items():
        expected = by_report[session_id]
        assert entry["cost"] == pytest.approx(expected["totalCost"], abs=1e-9)
        assert (entry["input"], entry["output"], entry["cache_creation"], entry["cache_read"]) == (
            expected["inputTokens"], expected["outputTokens"], expected["cacheCreationTokens"], expected["cacheReadTokens"])

    # today in any time zone, half- and quarter-hour offsets too: the quarter hours summed by local day
    for zone in ("UTC", *MIDNIGHT_ZONES):
        days: dict[str, list] = {}
        for quarter in header["quarter_hours"]:
            q = dict(zip(QUARTER_FIELDS, quarter))
            day = (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=q["start_us"])).astimezone(ZoneInfo(zone))
            sums = days.setdefault(day.strftime("%Y-%m-%d"), [0.0, 0, 0, 0, 0])
            for n, name in enumerate(("cost", "input", "output", "cache_creation", "cache_read")):
                sums[n] += q[name]
        daily = report("daily", "-z", zone)["daily"]
        assert sorted(days) == [d["date"] for d in daily]
        for d in daily:
            assert days[d["date"]][0] == pytest.approx(d["totalCost"], abs=1e-9)
            assert days[d["date"]][1:] == [d["inputTokens"], d["outputTokens"], d["cacheCreationTokens"], d["cacheReadTokens"]]

    last = [b for b in report("blocks")["blocks"] if not b["isGap"]][-1]
    start, first, last_call, calls, i, o, cc, cr, cost, models = header["block"]
    assert (utc_iso_us(start), utc_iso_us(last_call), calls) == (last["startTime"], last["actualEndTime"], last["entries"])
    assert (i, o, cc, cr) == tuple(last["tokenCounts"][k] for k in ("inputTokens", "outputTokens",
                                                                     "cacheCreationInputTokens", "cacheReadInputTokens"))
    assert cost == pytest.approx(last["costUSD"], abs=1e-9) and models == last["models"]


def test_line_shows_the_session_today_block_burn_rate_and_context(built_box):
    box = built_box
    line = shown(statusline(box, B, main_file(box, B), window=200_000))
    assert line["model"] == "Opus"
    assert line["session"] == pytest.approx(report("session", "-z", "UTC", "-i", B)["sessions"][0]["totalCost"], abs=0.005)
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    expected_today = sum(d["totalCost"] for d in report("daily", "-z", "UTC")["daily"] if d["date"] == today)
    assert line["today"] == pytest.approx(expected_today, abs=0.005)
    [active] = report("blocks", "--active")["blocks"]
    assert line["block"] == pytest.approx(active["costUSD"], abs=0.005)
    assert line["burn"] == pytest.approx(active["burnRate"]["costPerHour"], abs=0.005)
    assert line["context"] == "7,000 (4%)"  # B's last main-thread call: 5,000 input + 2,000 cache writes
    # without a window from Claude Code: 200,000; with one, that one
    assert shown(statusline(box, B, main_file(box, B)))["context"] == "7,000 (4%)"
    assert shown(statusline(box, B, main_file(box, B), window=1_000_000))["context"] == "7,000 (1%)"


def test_lines_written_after_the_build_show_at_once_and_equal_the_next_build(sandbox):
    now = datetime.now(timezone.utc)
    records = write_history(sandbox, now)
    materialize_all(sandbox)
    ago = lambda minutes: now - timedelta(minutes=minutes)  # noqa: E731
    before = shown(statusline(sandbox, B, main_file(sandbox, B)))

    # B: a later, larger copy of its last (fast) call, same ids; a long-context call; a call writing the cache for
    # an hour; a half-written line; a new subagent file
    larger = json.loads(json.dumps(records["b2"]))
    larger["message"]["usage"] = fast(usage(5000, 9000, cc=2000, cc_1h=1000))
    half = json.dumps(at(assistant(B, 0, "msg_b4", "req_b4", usage(9_000_000, 9)), ago(1))).encode()[:-40]
    with open(main_file(sandbox, B), "ab") as handle:
        for record in (at(larger, ago(24)),
                       at(assistant(B, 0, "msg_b5", "req_b5", usage(150_000, 1000, cr=60_000), model=SONNET), ago(3)),
                       at(assistant(B, 0, "msg_b3", "req_b3", usage(100_000, 4000, cc=20_000, cc_1h=20_000, cr=50_000)),
                          ago(2))):
            handle.write(json.dumps(record).encode() + b"\n")
        handle.write(half)
    write_jsonl(subagent_file(sandbox, B, "y2"), [at(assistant(B, 0, "msg_y1", "req_y1", usage(200_000, 1000), model=HAIKU,
                                                               sidechain=True, agent_id="y2"), ago(1))])
    after = shown(statusline(sandbox, B, main_file(sandbox, B), window=1_000_000))
    assert after["session"] > before["session"] + 1.0  # not stale: the new calls cost over a dollar
    assert after["block"] > before["block"] + 1.0  # (today too, unless midnight fell in between)
    assert after["context"] == "170,000 (17%)"  # msg_b3: 100,000 input + 20,000 + 50,000 cache, of 1,000,000
    materialize_all(sandbox)  # the next build counts the same calls the statusline added
    assert_same_line(after, shown(statusline(sandbox, B, main_file(sandbox, B), window=1_000_000)))
    assert_as_reported(after, B)

    # C, a session started after the build (so are its calls), resumed from A: its first line is a copy of a
    # call A is charged for
    started = datetime.now(timezone.utc)
    write_jsonl(main_file(sandbox, C), [copied_into(C, records["a1"]), at(user(C, 0), started),
                                        at(assistant(C, 0, "msg_c1", "req_c1", usage(80_000, 2000)), started)])
    after = shown(statusline(sandbox, C, main_file(sandbox, C)))
    materialize_all(sandbox)
    assert_same_line(after, shown(statusline(sandbox, C, main_file(sandbox, C))))
    assert_as_reported(after, C)  # the copy stays A's


def assert_same_line(before: dict, after: dict) -> None:
    for name in ("session", "today", "block", "burn"):
        assert before[name] == pytest.approx(after[name], abs=0.011), name


def assert_as_reported(line: dict, session: str) -> None:
    sessions = {s["sessionId"]: s["totalCost"] for s in report("session", "-z", "UTC")["sessions"]}
    assert line["session"] == pytest.approx(sessions[session], abs=0.005)
    [active] = report("blocks", "--active")["blocks"]
    assert line["block"] == pytest.approx(active["costUSD"], abs=0.005)
    assert line["burn"] == pytest.approx(active["burnRate"]["costPerHour"], abs=0.005)


def write_header(path: Path, **fields) -> Path:
    header = {"format": 1, "published_at": 0, "built_through": None, "fast_multiplier": 2.0, "block_us": 5 * 3600 * 10**6,
              "prices": {}, "quarter_hours": [], "block": None, **fields}
    path.write_text(json.dumps(header) + "\n")
    return path


def test_no_input_bad_input_or_no_published_file_still_print_a_line(tmp_path, sandbox):
    transcript = write_jsonl(tmp_path / "t.jsonl", [assistant("s", 0, "msg_1", "req_1", usage(40_000, 10, cr=10_000))])
    missing = tmp_path / "none" / "warehouse.duckdb.statusline.jsonl"
    line = shown_or_fallback(statusline(sandbox, "s", transcript, file=missing))
    assert line == "🤖 Opus | 💰 no star-pipeline data yet (run star-pipeline build) | 🧠 50,000 (25%)"

    header = write_header(tmp_path / "w.statusline.jsonl")
    for stdin in (b"", b"not json", b"[1, 2]", b'{"session_id": 7, "model": "x", "context_window": []}', b"\xff\xfe"):
        line = shown(statusline(sandbox, None, None, stdin=stdin, file=header))
        assert (line["session"], line["today"], line["block"], line["context"]) == (None, 0.0, None, "N/A")
    # a transcript that is not there: the session has cost nothing since the build, the context is unknown
    line = shown(statusline(sandbox, "s", tmp_path / "gone.jsonl", file=header))
    assert (line["session"], line["context"]) == (0.0, "N/A")
    assert not list(tmp_path.glob("**/statusline-errors.log"))


def shown_or_fallback(proc: subprocess.CompletedProcess) -> str:
    text = proc.stdout.decode()
    assert text.count("\n") == 1, text
    return text.rstrip("\n")


def test_a_broken_published_file_prints_a_short_line_and_logs_why(tmp_path, sandbox):
    broken = tmp_path / "w.statusline.jsonl"
    broken.write_bytes(b'{"format": 1, "prices": {"trunc')
    text = shown_or_fallback(statusline(sandbox, "s", None, file=broken))
    assert text.startswith("🤖 Claude | ") and "statusline-errors.log" in text
    log = tmp_path / "statusline-errors.log"
    assert "JSONDecodeError" in log.read_text() and log.stat().st_mode & 0o777 == 0o600


def test_statusline_imports_neither_dagster_nor_duckdb_nor_yaml(tmp_path):
    header = write_header(tmp_path / "w.statusline.jsonl")
    code = (
        "import sys, io; from star_pipeline.cli import main; "
        "sys.stdin = io.TextIOWrapper(io.BytesIO(b'{\"session_id\": \"s\"}')); "
        f"main(['statusline', '--file', {str(header)!r}]); "
        "heavy = [m for m in ('dagster', 'duckdb', 'yaml', 'pyarrow', 'star_pipeline.config') if m in sys.modules]; "
        "print('heavy:' + ','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[-1] == "heavy:"


def test_help_answers_without_waiting_for_claude_codes_input():
    proc = subprocess.Popen([STAR_PIPELINE, "statusline", "--help"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.wait(timeout=60) == 0  # stdin stays open: the status line itself would wait on it
        assert b"--file" in proc.stdout.read()
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
