"""The normalized checks pass on a clean build and fail, blocking the build, when the tables lie."""

import json

import duckdb

from star_pipeline_tests.builders import write_session
from star_pipeline_tests.conftest import materialize_all


def append_a_line(sandbox):
    """Grow the session file, so that the next run's checks cover it (a run checks the files it touched)."""
    with (sandbox.claude_root / "-home-u-p" / "s1.jsonl").open("a") as handle:
        handle.write(json.dumps({"type": "user", "sessionId": "s1", "uuid": "u9", "timestamp": "2026-03-01T10:00:09.000Z",
                                 "message": {"role": "user", "content": "more"}}) + "\n")


def check_results(result):
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def tamper(sandbox, sql):
    conn = duckdb.connect(str(sandbox.warehouse))
    try:
        conn.execute(sql)
    finally:
        conn.close()


def test_checks_pass_on_a_clean_build(sandbox):
    write_session(sandbox)
    results = check_results(materialize_all(sandbox))
    assert results["messages_rebuild_identity"] and results["every_raw_line_accounted_for"]
    assert all(results.values()), results


def test_tampered_message_fails_rebuild_identity(sandbox):
    write_session(sandbox)
    materialize_all(sandbox)
    tamper(sandbox, "UPDATE normalized.normalized_messages SET output_tokens = 999 WHERE uuid = 'u1'")
    append_a_line(sandbox)
    result = materialize_all(sandbox, raise_on_error=False)
    assert check_results(result)["messages_rebuild_identity"] is False
    assert not result.success  # blocking: the rebuilt tables below did not run on bad input


def test_lost_message_fails_accounting_and_duplicate_fails_unique_key(sandbox):
    write_session(sandbox)
    materialize_all(sandbox)
    tamper(
        sandbox,
        "INSERT INTO normalized.normalized_messages SELECT * FROM normalized.normalized_messages WHERE uuid = 'u0';"
        "DELETE FROM normalized.normalized_messages WHERE uuid = 'u2';",
    )
    append_a_line(sandbox)
    results = check_results(materialize_all(sandbox, raise_on_error=False))
    assert results["every_raw_line_accounted_for"] is False
    assert results["normalized_messages_unique_key"] is False


def test_a_message_pointing_at_the_wrong_line_fails_accounting_though_the_counts_agree(sandbox):
    """Run alone (every file), the accounting compares per-file fingerprints of the keys, not only counts:
    a message moved to an offset no raw line has leaves the file's counts equal."""
    from star_pipeline_tests.conftest import run_checks_alone

    write_session(sandbox)
    materialize_all(sandbox)
    tamper(sandbox, "UPDATE normalized.normalized_messages SET byte_offset = byte_offset + 1 WHERE uuid = 'u1'")
    result = run_checks_alone(sandbox, (["normalized", "normalized_messages"], "every_raw_line_accounted_for"))
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed is False
    assert evaluation.metadata["unaccounted"].value == 1 and evaluation.metadata["orphans_or_duplicates"].value == 1
