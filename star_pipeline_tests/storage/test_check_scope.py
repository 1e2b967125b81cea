"""Recomputing checks keep within a budget in a materialization run and cover everything when run alone."""

import json

import duckdb
import pytest

from star_pipeline.storage import check_scope
from star_pipeline.storage.check_scope import CHECK_FILES, choose_check_files
from star_pipeline_tests.conftest import materialize_all, run_checks_alone


@pytest.fixture
def conn():
    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA raw")
    conn.execute("CREATE TABLE raw.claude_code_files (path VARCHAR, file_version INTEGER, consumed_offset BIGINT)")
    conn.execute("CREATE TABLE raw.codex_files (path VARCHAR, file_version INTEGER, consumed_offset BIGINT)")
    for i in range(20):
        conn.execute("INSERT INTO raw.claude_code_files VALUES (?, 1, 10)", [f"/c/{i}.jsonl"])
    conn.execute("INSERT INTO raw.claude_code_files VALUES ('/c/0.jsonl', 2, 30)")  # two versions: 40 bytes in all
    conn.execute("INSERT INTO raw.codex_files VALUES ('/x/rollout.jsonl', 1, 10)")
    yield conn
    conn.close()


CANDIDATES = """
    SELECT 'claude_code' AS source, path, path = ? AS preferred FROM raw.claude_code_files WHERE file_version = 1
    UNION ALL SELECT 'codex', '/x/rollout.jsonl', FALSE
"""


MANIFESTS = {"claude_code": "raw.claude_code_files", "codex": "raw.codex_files"}


def chosen(conn) -> list[tuple[str, str]]:
    return conn.execute(f"SELECT source, path FROM {CHECK_FILES} ORDER BY ALL").fetchall()


def test_no_budget_takes_every_candidate(conn):
    assert choose_check_files(conn, CANDIDATES, ["/c/5.jsonl"], seed="run-1", budget_bytes=None, manifests=MANIFESTS) == (21, 21)
    assert ("codex", "/x/rollout.jsonl") in chosen(conn)


def test_budget_counts_raw_bytes_and_takes_preferred_files_first(conn):
    picked, total = choose_check_files(conn, CANDIDATES, ["/c/0.jsonl"], seed="run-1", budget_bytes=45, manifests=MANIFESTS)
    # /c/0.jsonl is preferred and holds 40 bytes (both versions); one more 10-byte file starts below 45
    assert (picked, total) == (2, 21)
    assert ("claude_code", "/c/0.jsonl") in chosen(conn)


def test_the_first_file_is_taken_even_when_it_alone_exceeds_the_budget(conn):
    assert choose_check_files(conn, CANDIDATES, ["/c/0.jsonl"], seed="run-1", budget_bytes=1, manifests=MANIFESTS)[0] == 1
    assert chosen(conn) == [("claude_code", "/c/0.jsonl")]


def test_each_run_draws_another_sample_and_a_run_draws_the_same_one_twice(conn):
    samples = {}
    for seed in ("run-1", "run-2", "run-3", "run-1"):
        choose_check_files(conn, CANDIDATES, ["nothing preferred"], seed=seed, budget_bytes=50, manifests=MANIFESTS)
        samples.setdefault(seed, []).append(chosen(conn))
    assert samples["run-1"][0] == samples["run-1"][1]
    assert len({tuple(s[0]) for s in samples.values()}) > 1


def write_sessions(sandbox, count: int) -> None:
    folder = sandbox.claude_root / "-home-u-p"
    folder.mkdir(parents=True)
    for s in range(count):
        lines = [
            {
                "type": "assistant", "sessionId": f"s{s}", "uuid": f"s{s}-u{i}", "timestamp": f"2026-03-01T10:0{s}:0{i}.000Z",
                "requestId": f"req_{s}_{i}",
                "message": {"id": f"msg_{s}_{i}", "model": "claude-sonnet-4-6", "role": "assistant",
                            "content": [{"type": "text", "text": "hi"}],
                            "usage": {"input_tokens": 10, "output_tokens": 5}},
            }
            for i in range(3)
        ]
        (folder / f"s{s}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


def identity_evaluation(result):
    return {e.check_name: e for e in result.get_asset_check_evaluations()}["messages_rebuild_identity"]


def run_identity_check_alone(sandbox):
    return run_checks_alone(sandbox, (["normalized", "normalized_messages"], "messages_rebuild_identity"))


def test_rebuild_identity_samples_within_the_budget_in_a_run_and_covers_everything_alone(sandbox, monkeypatch):
    monkeypatch.setattr(check_scope, "CHECK_BUDGET_BYTES", 1)
    write_sessions(sandbox, 5)
    in_run = identity_evaluation(materialize_all(sandbox).results[0])
    assert in_run.passed
    assert in_run.metadata["files"].value == 1
    assert "1 of 5 files, a sample" in in_run.metadata["scope"].value

    conn = duckdb.connect(str(sandbox.warehouse))
    try:
        conn.execute("UPDATE normalized.normalized_messages SET output_tokens = 999 WHERE uuid = 's3-u1'")
    finally:
        conn.close()
    alone = identity_evaluation(run_identity_check_alone(sandbox))
    assert alone.passed is False
    assert alone.metadata["files"].value == 5 and "all 5 files" in alone.metadata["scope"].value
    assert alone.metadata["rows_missing"].value == 1 and alone.metadata["rows_extra"].value == 1


def test_message_kinds_rerun_samples_within_the_budget_in_its_run_and_covers_everything_alone(sandbox, monkeypatch):
    monkeypatch.setattr(check_scope, "CHECK_BUDGET_BYTES", 1)
    write_sessions(sandbox, 5)
    result = materialize_all(sandbox)
    evaluations = [
        e for r in result.results for e in r.get_asset_check_evaluations() if e.check_name == "derived_message_kinds_rerun_identical"
    ]
    (in_run,) = evaluations
    assert in_run.passed
    (scope,) = in_run.metadata["scope"].value.values()
    assert "1 of 5 files, a sample" in scope

    conn = duckdb.connect(str(sandbox.warehouse))
    try:
        conn.execute("UPDATE classified.derived_message_kinds SET kind = 'tampered' WHERE path LIKE '%s4.jsonl'")
    finally:
        conn.close()
    alone = run_checks_alone(sandbox, (["classified", "derived_message_kinds"], "derived_message_kinds_rerun_identical"))
    (evaluation,) = alone.get_asset_check_evaluations()
    assert evaluation.passed is False
    (scope,) = evaluation.metadata["scope"].value.values()
    assert "all 5 files" in scope


def test_a_run_that_finds_nothing_new_checks_nothing_instead_of_everything(sandbox):
    """Checks attached to a run cover what that run wrote: after a run with no new lines, no file."""
    write_sessions(sandbox, 3)
    materialize_all(sandbox)
    ingest = materialize_all(sandbox).results[0]
    evaluations = {e.check_name: e for e in ingest.get_asset_check_evaluations()}

    raw = evaluations["claude_code_lines_match_files"]
    assert raw.passed and raw.metadata["scope"].value == "files touched by this run"
    assert raw.metadata["files_checked"].value == 0
    identity = evaluations["messages_rebuild_identity"]
    assert identity.passed and identity.metadata["files"].value == 0
    assert identity.metadata["scope"].value.startswith("files normalized by this run")

    alone = run_checks_alone(sandbox, (["raw", "claude_code_lines"], "claude_code_lines_match_files"))
    (evaluation,) = alone.get_asset_check_evaluations()
    assert evaluation.metadata["scope"].value == "all files" and evaluation.metadata["files_checked"].value == 3
