"""`star-pipeline build` end to end: progress, exit codes, and crash safety under SIGKILL."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from star_pipeline_tests.conftest import held_by_another_process

STAR_PIPELINE = str(Path(sys.executable).with_name("star-pipeline"))


def write_session(folder: Path, name: str, lines: int, width: int = 200) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl"
    with path.open("w") as handle:
        for i in range(lines):
            record = {
                "type": "user",
                "sessionId": name,
                "uuid": f"{name}-{i}",
                "timestamp": "2026-01-01T00:00:00.000Z",
                "message": {"role": "user", "content": "x" * (width + (i * 7919) % width)},
            }
            handle.write(json.dumps(record) + "\n")
    return path


def build(sandbox, timeout=300, *flags):
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(sandbox.config_path)}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run([STAR_PIPELINE, "build", *flags], capture_output=True, text=True, env=env, timeout=timeout)


def readable_by_others(root: Path) -> list[str]:
    """Files and folders below `root` (not `root` itself: the user's) that group or others may read."""
    found = []
    for folder, dirs, files in os.walk(root):
        for name in [*(os.path.join(folder, d) for d in dirs), *(os.path.join(folder, f) for f in files)]:
            mode = os.lstat(name).st_mode
            if not os.path.islink(name) and mode & 0o044:
                found.append(f"{name} {oct(mode & 0o777)}")
    return found


def snapshot(db_path) -> tuple:
    """Everything that must be identical between two builds over the same files."""
    conn = duckdb.connect(str(db_path), read_only=True)
    try:
        lines = conn.execute(
            "SELECT path, file_version, line_number, byte_offset, byte_length, sha256, ends_with_newline "
            "FROM raw.claude_code_lines ORDER BY path, file_version, byte_offset"
        ).fetchall()
        files = conn.execute(
            "SELECT path, file_version, size_bytes, consumed_offset, consumed_sha256, line_count, "
            "source_deleted_at IS NULL, superseded_at IS NULL FROM raw.claude_code_files ORDER BY path, file_version"
        ).fetchall()
        return lines, files
    finally:
        conn.close()


def test_a_build_stops_with_a_clear_message_when_another_process_holds_the_warehouse(sandbox, tmp_path):
    """The first job cannot open the file: the build waits once (lock_timeout_seconds: 5), names the holder, stops."""
    write_session(sandbox.claude_root / "-home-u-proj", "s1", 5)
    assert build(sandbox).returncode == 0
    write_session(sandbox.claude_root / "-home-u-proj", "s2", 5)  # work to do, so the build opens the warehouse
    with held_by_another_process(sandbox.warehouse, tmp_path) as holder:
        started = time.monotonic()
        proc = build(sandbox)
        elapsed = time.monotonic() - started
    assert proc.returncode == 1
    assert f"is locked by process {holder.pid}" in proc.stdout and "Nothing was written" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert elapsed < 60  # one wait of lock_timeout_seconds, not one per step
    assert snapshot(sandbox.warehouse)[0]  # what the first build stored is still there


def test_a_warehouse_path_holding_another_kind_of_file_gets_a_clear_message_and_is_left_alone(sandbox):
    write_session(sandbox.claude_root / "-home-u-proj", "s1", 5)
    sandbox.warehouse.parent.mkdir(parents=True, exist_ok=True)
    sandbox.warehouse.write_bytes(b"my notes, not a database\n" * 400)
    before = sandbox.warehouse.read_bytes()
    proc = build(sandbox)
    assert proc.returncode == 1
    assert f"{sandbox.warehouse}: DuckDB cannot open it" in proc.stdout and "not a DuckDB warehouse" in proc.stdout
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(sandbox.config_path)}
    report = subprocess.run([STAR_PIPELINE, "report", "daily"], capture_output=True, text=True, env=env, timeout=60)
    assert report.returncode == 2 and "Traceback" not in report.stderr
    assert f"{sandbox.warehouse}: DuckDB cannot open it" in report.stderr and "move this file away" in report.stderr
    assert sandbox.warehouse.read_bytes() == before


def test_build_reports_progress_and_succeeds(sandbox):
    write_session(sandbox.claude_root / "-home-u-proj", "s1", 25)
    proc = build(sandbox)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "materialized raw/claude_code_lines: 25 rows written" in proc.stdout
    assert "claude_code: read 1 files (1 new" in proc.stderr  # live progress from the step
    assert "check raw/claude_code_lines:claude_code_lines_match_files passed" in proc.stdout


def test_a_build_finding_nothing_new_stops_before_dagster_and_a_new_line_builds_again(sandbox):
    path = write_session(sandbox.claude_root / "-home-u-proj", "s1", 25)
    assert build(sandbox).returncode == 0
    stored = sandbox.warehouse.stat().st_mtime_ns
    again = build(sandbox)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing new since the last build" in again.stdout
    assert "claude_code 1" in again.stdout  # the files it found unchanged, per source
    assert "materialized" not in again.stdout and "dagster" not in again.stderr
    assert sandbox.warehouse.stat().st_mtime_ns == stored
    forced = build(sandbox, 300, "--force")
    assert "materialized raw/claude_code_lines: 0 rows written" in forced.stdout
    with path.open("a") as handle:
        handle.write('{"type":"user","uuid":"late","sessionId":"s1","timestamp":"2026-01-01T00:00:01.000Z"}\n')
    grown = build(sandbox)
    assert "why: claude_code: files changed" in grown.stdout
    assert "materialized raw/claude_code_lines: 1 rows written" in grown.stdout
    # only the source that changed is captured; the layers above run as usual
    assert "capturing only the sources whose files changed: claude_code" in grown.stdout
    assert "raw/codex_lines" not in grown.stdout and "raw_codex" not in grown.stdout
    assert "materialized normalized/normalized_messages: 1 rows written" in grown.stdout


def test_a_first_build_skips_the_sources_without_files_it_never_captured_but_not_one_it_did(sandbox):
    """A first build runs the raw steps of the sources it has files of (on a DuckLake each other one costs half a
    second for two empty tables); a source whose files are gone is captured again all the same, so that its
    manifest says they were deleted, even when the build's record was lost."""
    from star_pipeline.storage.build_state import state_path

    path = write_session(sandbox.claude_root / "-home-u-proj", "s1", 5)
    first = build(sandbox)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "materialized raw/claude_code_lines: 5 rows written" in first.stdout
    assert "skipped the raw steps of the sources with no files that were never captured: " in first.stdout
    assert "raw/codex_lines" not in first.stdout and "raw_codex" not in first.stdout
    with duckdb.connect(str(sandbox.warehouse), read_only=True) as conn:
        # the tables of the sources skipped are there (made by the normalizing step) and empty
        assert conn.execute("SELECT count(*) FROM raw.codex_lines").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM normalized.normalized_messages").fetchone() == (5,)
    path.unlink()
    state_path(sandbox.warehouse).unlink()  # as after a build that failed: no record to compare with
    again = build(sandbox)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "raw/claude_code_files" in again.stdout and "raw/codex_lines" not in again.stdout
    with duckdb.connect(str(sandbox.warehouse), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM raw.claude_code_files WHERE source_deleted_at IS NOT NULL").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM raw.claude_code_lines").fetchone() == (5,)  # nothing lost
    forced = build(sandbox, 300, "--force")
    assert forced.returncode == 0 and "materialized raw/codex_lines: 0 rows written" in forced.stdout


def test_a_raw_only_capture_finding_nothing_new_stops_before_dagster(sandbox):
    """A team member's capture, every minute from cron: nothing new costs a listing of its folders."""
    path = write_session(sandbox.claude_root / "-home-u-proj", "s1", 5)
    first = build(sandbox, 300, "--raw-only")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "materialized raw/claude_code_lines: 5 rows written" in first.stdout
    again = build(sandbox, 300, "--raw-only")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing new since the last raw-only capture" in again.stdout
    assert "materialized" not in again.stdout and "dagster" not in again.stderr
    with path.open("a") as handle:
        handle.write('{"type":"user","uuid":"late","sessionId":"s1","timestamp":"2026-01-01T00:00:01.000Z"}\n')
    grown = build(sandbox, 300, "--raw-only")
    assert "capturing only the sources whose files changed: claude_code" in grown.stdout
    assert "materialized raw/claude_code_lines: 1 rows written" in grown.stdout
    assert "raw_codex" not in grown.stdout and "normalized" not in grown.stdout
    full = build(sandbox)  # the full build keeps its own record: a capture is no build of the layers above
    assert "materialized normalized/normalized_messages: 6 rows written" in full.stdout


def test_build_exits_non_zero_when_a_blocking_check_fails(sandbox):
    path = write_session(sandbox.claude_root / "-p", "s1", 5)
    assert build(sandbox).returncode == 0
    conn = duckdb.connect(str(sandbox.warehouse))
    conn.execute("UPDATE raw.claude_code_lines SET line_bytes = 'tampered'::BLOB WHERE line_number = 2")
    conn.close()
    with path.open("a") as handle:
        handle.write('{"type":"user","uuid":"late"}\n')  # the run touches the file, so the check reads it
    proc = build(sandbox)
    assert proc.returncode == 1
    assert "claude_code_lines_match_files FAILED" in proc.stdout
    assert f"{path}#v1: manifest 6 lines" in proc.stdout  # the stored bytes no longer add up to the file


def test_nothing_a_build_writes_is_readable_by_others(sandbox, tmp_path):
    """Under a permissive umask, with a DAGSTER_HOME an older version left readable: after the build the data
    folder, DAGSTER_HOME and the working folder hold nothing that group or others can read."""
    write_session(sandbox.claude_root / "-p", "s1", 200, width=3000)
    home = tmp_path / "dagster_home"
    home.mkdir(mode=0o755)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.chmod(home / "dagster.yaml", 0o644)
    workdir = tmp_path / "workdir"
    workdir.mkdir(mode=0o755)
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(sandbox.config_path), "DAGSTER_HOME": str(home)}
    proc = subprocess.run([STAR_PIPELINE, "build"], capture_output=True, text=True, env=env, cwd=workdir,
                          preexec_fn=lambda: os.umask(0o022), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    spill = Path(f"{sandbox.warehouse}.spill")
    assert spill.is_dir() and spill.stat().st_mode & 0o777 == 0o700
    assert readable_by_others(sandbox.warehouse.parent) == []
    assert readable_by_others(home) == []
    assert readable_by_others(workdir) == []  # no ./.tmp spill folder


def test_a_model_without_a_price_warns_and_the_build_succeeds(sandbox):
    """unknown_models_listed is a non-blocking check: it prints a warning, and only failed steps and
    blocking checks fail a build. A current Codex model genai-prices lacks is priced by the second source."""
    from star_pipeline_tests.builders import codex_file, session_meta, token_count, turn_context, write_jsonl

    for session, model in (("019b0c1d-2e3f-7a4b-8c5d-6e7f8a9b0c1d", "gpt-5.3-codex-spark"),
                           ("019b0c1d-2e3f-7a4b-8c5d-6e7f8a9b0c2e", "acme-unpriced-9")):
        write_jsonl(codex_file(sandbox, session), [
            session_meta(session), turn_context(1, model), token_count(2, (1000, 200, 50, 10))])

    proc = build(sandbox)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "unknown_models_listed WARNING" in proc.stdout and "acme-unpriced-9" in proc.stdout
    assert "gpt-5.3-codex-spark" not in proc.stdout.split("unknown_models_listed WARNING")[1].splitlines()[1]
    conn = duckdb.connect(str(sandbox.warehouse), read_only=True)
    try:
        costs = dict(conn.execute("SELECT model, cost_usd FROM aggregate.fact_token_usage").fetchall())
    finally:
        conn.close()
    assert costs["gpt-5.3-codex-spark"] == pytest.approx((800 * 1.75 + 200 * 0.175 + 50 * 14.0) / 1e6)
    assert costs["acme-unpriced-9"] is None


def test_build_with_a_malformed_config_names_file_and_key(sandbox):
    sandbox.config_path.write_text(sandbox.config_path.read_text().replace("lock_timeout_seconds: 5", "lock_timeout: 5"))
    proc = build(sandbox)
    assert proc.returncode == 2
    assert f"{sandbox.config_path}: unknown key 'warehouse.lock_timeout'" in proc.stderr


@pytest.mark.slow
def test_sigkill_mid_build_then_rerun_equals_a_clean_build(sandbox, tmp_path):
    for i in range(30):
        write_session(sandbox.claude_root / "-home-u-big", f"s{i:02d}", 1500, width=1500)
    # A clean reference build in its own warehouse.
    clean = tmp_path / "clean.duckdb"
    sandbox.write_config(extra="")
    reference_config = sandbox.config_path.read_text().replace(str(sandbox.warehouse), str(clean))
    reference_path = tmp_path / "reference.yaml"
    reference_path.write_text(reference_config)
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(reference_path)}
    subprocess.run([STAR_PIPELINE, "build"], check=True, capture_output=True, env=env)
    expected = snapshot(clean)
    assert len(expected[0]) == 30 * 1500

    killed_mid_write = 0
    for delay in (1.0, 2.0, 3.0):
        for leftover in sandbox.warehouse.parent.glob("warehouse.duckdb*"):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        proc = subprocess.Popen(
            [STAR_PIPELINE, "build"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "STAR_PIPELINE_CONFIG": str(sandbox.config_path)},
            start_new_session=True,
        )
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.returncode == -signal.SIGKILL:
            killed_mid_write += 1
        assert readable_by_others(sandbox.warehouse.parent) == []  # what a killed build left is private too
        rerun = build(sandbox)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert snapshot(sandbox.warehouse) == expected
    assert killed_mid_write >= 1  # at least one kill landed while the build was running


def test_a_step_that_fails_before_writing_is_recorded_in_the_load_log(sandbox, monkeypatch):
    from star_pipeline.raw.capture import Capture
    from star_pipeline_tests.conftest import materialize_all, query

    write_session(sandbox.claude_root / "-p", "s1", 3)
    materialize_all(sandbox)

    def broken(self):
        raise RuntimeError("capture exploded")

    monkeypatch.setattr(Capture, "lines", broken)
    assert not materialize_all(sandbox, raise_on_error=False).success
    rows = query(sandbox, "SELECT asset_key, status, error FROM meta_load_log WHERE status = 'failure'")
    assert ("raw_claude_code", "failure", "RuntimeError: capture exploded") in rows


def test_a_failed_write_is_reported_with_duckdbs_error_and_what_to_do():
    """build prints the warehouse's own explanation of a failed write, not only the bare DuckDB error beneath it."""
    from dagster._utils.error import SerializableErrorInfo

    from star_pipeline.orchestration.progress import step_error

    duckdb_error = SerializableErrorInfo("Out of Memory Error: failed to allocate 16.0 MiB\n", [], "OutOfMemoryException")
    ours = SerializableErrorInfo(
        "writing normalized.normalized_messages failed: Out of Memory Error: failed to allocate 16.0 MiB. DuckDB ran out "
        "of its memory limit (warehouse.memory_limit: 1GiB). Nothing was written. Raise warehouse.memory_limit\n",
        [], "WarehouseWriteError", cause=duckdb_error)
    wrapped = SerializableErrorInfo('Error occurred while handling output "result"', [], "DagsterExecutionHandleOutputError",
                                    cause=ours)
    assert step_error(wrapped).startswith("writing normalized.normalized_messages failed: Out of Memory Error")
    assert "Raise warehouse.memory_limit" in step_error(wrapped)
    other = SerializableErrorInfo("step failed", [], "DagsterExecutionStepExecutionError",
                                  cause=SerializableErrorInfo("RuntimeError: capture exploded", [], "RuntimeError"))
    assert step_error(other) == "RuntimeError: capture exploded"


def test_a_warehouse_folder_that_cannot_be_created_gets_a_message(sandbox, tmp_path):
    """As a read-only parent folder would (root may write anywhere, so a file stands in the folder's way here)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    sandbox.config_path.write_text(sandbox.config_path.read_text().replace(
        f"path: {sandbox.warehouse}", f"path: {blocker / 'warehouse.duckdb'}"))
    proc = build(sandbox)
    assert proc.returncode == 1
    assert f"{blocker / 'warehouse.duckdb'}: cannot create {blocker}" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
