"""What makes `star-pipeline build` run again after a successful build (storage/build_state.py)."""

import os
import time
from pathlib import Path

from star_pipeline.config import Settings
from star_pipeline.storage.build_state import (capture_fingerprint, changed_sources, changes, fingerprint, read_state,
                                               read_step_seconds, timings_path, write_capture_state, write_state,
                                               write_step_seconds)

QUIET = 600


def settings_in(root: Path) -> Settings:
    classifiers = root / "classifiers"
    classifiers.mkdir(exist_ok=True)
    (classifiers / "kinds.yaml").write_text("rules: []\n")
    config = root / "config.yaml"
    if not config.exists():
        config.write_text("warehouse:\n  path: w.duckdb\n")
    (root / "w.duckdb").write_bytes(b"warehouse")
    return Settings(config_path=config, warehouse_path=root / "w.duckdb", lock_timeout_seconds=5, memory_limit="1GB",
                    roots={"claude_code": (root / "claude",), "hook_spool": (root / "spool",)},
                    partial_line_quiet_seconds=QUIET, classifiers_dir=classifiers)


def built(root: Path, monkeypatch) -> Settings:
    """Settings over `root`, with the state a successful build there would leave."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    root.mkdir(parents=True, exist_ok=True)
    settings = settings_in(root)
    session = root / "claude" / "-p" / "s1.jsonl"
    session.parent.mkdir(parents=True)
    session.write_text('{"type":"user"}\n')
    old = time.time() - 2 * QUIET  # quiet long before the build
    os.utime(session, (old, old))
    write_state(settings, fingerprint(settings), time.time())
    return settings


def reasons(settings: Settings, clock: float | None = None) -> list[str]:
    return changes(read_state(settings.warehouse_path), fingerprint(settings), QUIET, clock)


def test_nothing_changed_gives_no_reason_and_the_state_is_private(tmp_path, monkeypatch):
    settings = built(tmp_path, monkeypatch)
    assert reasons(settings) == []
    assert (tmp_path / "w.duckdb.build-state.json").stat().st_mode & 0o077 == 0


def test_no_state_means_build(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    settings = settings_in(tmp_path)
    assert reasons(settings) == ["no record of a successful build"]


def test_a_new_grown_or_deleted_file_of_a_source_is_named(tmp_path, monkeypatch):
    settings = built(tmp_path, monkeypatch)
    (tmp_path / "claude" / "-p" / "s2.jsonl").write_text("{}\n")
    assert reasons(settings) == ["claude_code: files changed"]
    settings = built(tmp_path / "b", monkeypatch)
    (tmp_path / "b" / "claude" / "-p" / "s1.jsonl").unlink()
    assert reasons(settings) == ["claude_code: files changed"]
    (tmp_path / "b" / "spool").mkdir()
    (tmp_path / "b" / "spool" / "events.jsonl").write_text("{}\n")
    assert "hook_spool: files changed" in reasons(settings)


def test_the_warehouse_a_copy_the_config_or_a_classifier_changing_makes_a_build(tmp_path, monkeypatch):
    settings = built(tmp_path, monkeypatch)
    (tmp_path / "w.duckdb.reports.duckdb").write_bytes(b"copy")  # a copy that was not there
    assert reasons(settings) == ["the warehouse or its published copies changed"]
    settings = built(tmp_path / "s", monkeypatch)
    (tmp_path / "s" / "w.duckdb.statusline.jsonl").write_bytes(b"{}\n")  # the statusline's file, written by dagster dev
    assert reasons(settings) == ["the warehouse or its published copies changed"]
    settings = built(tmp_path / "c", monkeypatch)
    (tmp_path / "c" / "classifiers" / "kinds.yaml").write_text("rules: [x]\n")
    (tmp_path / "c" / "config.yaml").write_text("warehouse:\n  path: other.duckdb\n")
    assert reasons(settings) == ["the configuration changed", "a classifier file changed"]


def test_a_half_written_last_line_whose_quiet_period_ended_since_the_last_build_makes_a_build(tmp_path, monkeypatch):
    settings = built(tmp_path, monkeypatch)
    session = tmp_path / "claude" / "-p" / "s1.jsonl"
    recent = time.time() - 10  # written just before the build that stored the state
    os.utime(session, (recent, recent))
    write_state(settings, fingerprint(settings), time.time())
    assert reasons(settings) == []  # not quiet yet: the build would hold the line back again
    later = reasons(settings, clock=time.time() + QUIET)
    assert later == ["claude_code: a file has been quiet for raw.partial_line_quiet_seconds since the last build"]


def test_a_classifier_version_registered_in_dagster_home_makes_a_build(tmp_path, monkeypatch):
    from dagster import DagsterInstance

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    settings = built(tmp_path, monkeypatch)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = DagsterInstance.get()
    instance.add_dynamic_partitions("classifier_revisions", ["message_kinds-aaaaaaaa"])
    write_state(settings, fingerprint(settings), time.time())
    assert reasons(settings) == []
    instance.add_dynamic_partitions("classifier_revisions", ["message_kinds-bbbbbbbb"])
    instance.dispose()
    assert reasons(settings) == ["the registered classifier versions changed"]


def test_step_times_are_kept_per_step_a_raw_only_build_keeping_the_others(tmp_path):
    """The estimate of the time left reads them (orchestration/progress.py); a damaged file is as none."""
    warehouse = tmp_path / "w.duckdb"
    assert read_step_seconds(warehouse) == {}
    write_step_seconds(warehouse, {"raw_codex": 2.5, "aggregate__dim_date": 0.25})
    write_step_seconds(warehouse, {"raw_codex": 1.0})  # a raw-only build after it
    assert read_step_seconds(warehouse) == {"raw_codex": 1.0, "aggregate__dim_date": 0.25}
    assert timings_path(warehouse).stat().st_mode & 0o777 == 0o600
    timings_path(warehouse).write_text('{"version": 1, "step_seconds": {"raw_codex": "slow", "raw_amp": -1, "raw_kimi"')
    assert read_step_seconds(warehouse) == {}
    timings_path(warehouse).write_text('{"version": 1, "step_seconds": {"raw_codex": "slow", "raw_amp": -1, "raw_kimi": 3}}')
    assert read_step_seconds(warehouse) == {"raw_kimi": 3.0}


def test_only_the_sources_whose_files_changed_are_named_unless_something_else_changed(tmp_path, monkeypatch):
    settings = built(tmp_path, monkeypatch)
    stored = read_state(settings.warehouse_path)
    assert changed_sources(stored, fingerprint(settings), QUIET) == []
    (tmp_path / "spool").mkdir()
    (tmp_path / "spool" / "events.jsonl").write_text("{}\n")
    assert changed_sources(stored, fingerprint(settings), QUIET) == ["hook_spool"]
    (tmp_path / "w.duckdb").unlink()  # a deleted warehouse holds no lines of any source: all are captured
    assert changed_sources(stored, fingerprint(settings), QUIET) is None
    assert changed_sources(None, fingerprint(settings), QUIET) is None


def test_a_raw_only_capture_keeps_its_own_record_which_the_warehouse_changing_does_not_touch(tmp_path, monkeypatch):
    settings = built(tmp_path, monkeypatch)
    assert read_state(settings.warehouse_path, capture=True) is None  # the full build's record is another
    write_capture_state(settings, capture_fingerprint(settings), time.time())
    assert (tmp_path / "w.duckdb.capture-state.json").stat().st_mode & 0o077 == 0
    captured = read_state(settings.warehouse_path, capture=True)
    assert changes(captured, capture_fingerprint(settings), QUIET) == []
    (tmp_path / "w.duckdb").write_bytes(b"written by the writer")  # what others wrote is no reason to capture
    assert changes(captured, capture_fingerprint(settings), QUIET) == []
    (tmp_path / "claude" / "-p" / "s2.jsonl").write_text("{}\n")
    assert changes(captured, capture_fingerprint(settings), QUIET) == ["claude_code: files changed"]
    assert changed_sources(captured, capture_fingerprint(settings), QUIET) == ["claude_code"]
    (tmp_path / "config.yaml").write_text("warehouse:\n  path: other.duckdb\n")
    assert changed_sources(captured, capture_fingerprint(settings), QUIET) is None


def test_a_project_folders_agent_file_growing_makes_a_build(tmp_path, monkeypatch):
    """Crush and Aider write into project folders: the build's record covers what their sensors watch."""
    from dataclasses import replace

    from star_pipeline.build import listed_sources

    project = tmp_path / "projects" / "app"
    project.mkdir(parents=True)
    history = project / ".aider.chat.history.md"
    history.write_text("# aider chat started at 2026-01-01 10:00:00\n")
    settings = replace(built(tmp_path, monkeypatch), roots={"claude_code": (tmp_path / "claude",), "aider": ()},
                       project_roots=(tmp_path / "projects",))
    write_state(settings, fingerprint(settings, listed_sources(settings)), time.time())
    assert changes(read_state(settings.warehouse_path), fingerprint(settings, listed_sources(settings)), QUIET) == []
    with history.open("a") as handle:
        handle.write("> Tokens: 1.2k sent, 80 received.\n")
    now = fingerprint(settings, listed_sources(settings))
    assert changes(read_state(settings.warehouse_path), now, QUIET) == ["aider: files changed"]
    assert changed_sources(read_state(settings.warehouse_path), now, QUIET) == ["aider"]
