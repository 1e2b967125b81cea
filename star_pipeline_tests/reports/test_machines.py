"""`report --machine`: two machines' sessions in one warehouse, per machine or one machine's.

laptop-a has session S1 (calls of 100+10 and 200+20 tokens), laptop-b session S2 (5000+500), and
both have a synced copy of session S3 (50+5) at the same path, which counts once, for laptop-a
(the smaller id: normalized reads one machine's lines per path).
"""

from __future__ import annotations

import json

import pytest

from star_pipeline_tests.builders import SLUG
from star_pipeline_tests.conftest import materialize_all
from star_pipeline_tests.normalized.test_machines import calls
from star_pipeline_tests.raw.test_machines import on_machine
from star_pipeline_tests.reports.test_report import report
from star_pipeline_tests.builders import write_jsonl

S1 = "11111111-57a5-4f26-b12d-d022ee4e51b7"
S2 = "22222222-57a5-4f26-b12d-d022ee4e51b7"
S3 = "33333333-57a5-4f26-b12d-d022ee4e51b7"


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    from star_pipeline_tests.conftest import Sandbox

    root = tmp_path_factory.mktemp("team")
    box = Sandbox(root)
    root_a, root_b, shared = root / "a" / "projects", root / "b" / "projects", root / "shared" / "projects"
    write_jsonl(root_a / SLUG / f"{S1}.jsonl", calls(S1, (100, 10), (200, 20)))
    write_jsonl(root_b / SLUG / f"{S2}.jsonl", calls(S2, (5000, 500)))
    write_jsonl(shared / SLUG / f"{S3}.jsonl", calls(S3, (50, 5)))
    b = on_machine(box, "laptop-b", claude_roots=[root_b, shared])
    a = on_machine(box, "laptop-a", claude_roots=[root_a, shared])
    materialize_all(b)
    materialize_all(a)
    return a


def as_json(box, *args):
    return json.loads(report(box, *args, "--json", "-z", "UTC").stdout)


def tokens(entry: dict) -> tuple:
    return entry["inputTokens"], entry["outputTokens"], entry["totalTokens"]


def test_daily_with_machine_has_a_row_per_machine_with_its_tokens(team):
    data = as_json(team, "daily", "--machine")
    rows = {(e["date"], e["machine"]): tokens(e) for e in data["daily"]}
    assert rows == {("2026-03-01", "laptop-a"): (350, 35, 385), ("2026-03-01", "laptop-b"): (5000, 500, 5500)}
    assert tokens(data["totals"]) == (5350, 535, 5885)  # S3 once, not twice
    table = report(team, "daily", "--machine", "-z", "UTC").stdout
    assert "Machine" in table.splitlines()[2]
    assert [line.split()[:2] for line in table.splitlines() if "laptop" in line] == [
        ["2026-03-01", "laptop-a"], ["2026-03-01", "laptop-b"]]


def test_machine_name_keeps_that_machines_rows_only(team):
    data = as_json(team, "monthly", "--machine", "laptop-b")
    assert [(e["month"], e["machine"], tokens(e)) for e in data["monthly"]] == [("2026-03", "laptop-b", (5000, 500, 5500))]
    assert tokens(data["totals"]) == (5000, 500, 5500)
    sessions = as_json(team, "session", "--machine", "laptop-a")["sessions"]
    assert sorted((s["sessionId"], s["machine"], tokens(s)) for s in sessions) == [
        (S1, "laptop-a", (300, 30, 330)), (S3, "laptop-a", (50, 5, 55))]


def test_session_and_blocks_name_each_rows_machine(team):
    sessions = as_json(team, "session", "--machine")["sessions"]
    assert {s["sessionId"]: s["machine"] for s in sessions} == {S1: "laptop-a", S2: "laptop-b", S3: "laptop-a"}
    blocks = as_json(team, "blocks", "--machine")["blocks"]
    assert sorted((b["machine"], b["totalTokens"]) for b in blocks if not b["isGap"]) == [("laptop-a", 385), ("laptop-b", 5500)]
    assert "laptop-b" in report(team, "blocks", "--machine").stdout
    projects = as_json(team, "projects", "--machine")["projects"]
    assert [p["machines"] for p in projects] == [["laptop-a", "laptop-b"]]


def test_an_unknown_machine_names_the_known_ones(team):
    proc = report(team, "daily", "--machine", "laptop-c", check=False)
    assert proc.returncode != 0 and "--machine 'laptop-c'" in proc.stderr and "laptop-a" in proc.stderr
    proc = report(team, "daily", "--machine", "--by", "model", check=False)
    assert proc.returncode != 0 and "pick one" in proc.stderr


def search(box, *args):
    import os
    import subprocess

    from star_pipeline_tests.reports.test_report import STAR_PIPELINE

    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(box.config_path)}
    proc = subprocess.run([STAR_PIPELINE, "search", *args], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_search_finds_one_machines_sessions_and_names_each_hits_machine(team):
    hits = json.loads(search(team, "fix the failing test", "--json", "--mode", "lexical"))["hits"]
    assert {h["session_id"]: h["machine"] for h in hits} == {S1: "laptop-a", S2: "laptop-b", S3: "laptop-a"}
    only_b = json.loads(search(team, "fix the failing test", "--json", "--machine", "laptop-b"))["hits"]
    assert [(h["session_id"], h["machine"]) for h in only_b] == [(S2, "laptop-b")]
    assert "laptop-b" in search(team, "fix the failing test", "--machine", "laptop-b")


def test_the_mcp_tools_filter_and_split_by_machine(team):
    from star_pipeline_tests.search.test_mcp import answer, call_server

    _, (found, per_machine, one) = call_server(team, [
        ("search_history", {"query": "fix the failing test", "machine": "laptop-a"}),
        ("usage", {"report": "daily", "per_machine": True}),
        ("usage", {"report": "daily", "machine": "laptop-b"}),
    ])
    assert sorted(h["session_id"] for h in answer(found)["hits"]) == [S1, S3]
    assert {(e["machine"], e["totalTokens"]) for e in answer(per_machine)["daily"]} == {("laptop-a", 385), ("laptop-b", 5500)}
    assert [(e["machine"], e["totalTokens"]) for e in answer(one)["daily"]] == [("laptop-b", 5500)]
