"""Source-folder sensors: a run only when files changed, keyed by what changed, without opening DuckDB."""

import json

from dagster import DagsterInstance, RunRequest, build_sensor_context

from star_pipeline.sources import SOURCES
from star_pipeline_tests.conftest import build_defs


def test_claude_sensor_requests_a_run_only_when_files_change(sandbox):
    folder = sandbox.claude_root / "-home-u-p"
    folder.mkdir(parents=True)
    session = folder / "s1.jsonl"
    session.write_text(json.dumps({"type": "user", "sessionId": "s1"}) + "\n")
    defs = build_defs(sandbox)

    first = defs.get_sensor_def("claude_code_files_sensor").evaluate_tick(build_sensor_context(instance=DagsterInstance.ephemeral()))
    [request] = first.run_requests
    assert isinstance(request, RunRequest) and request.run_key.startswith("claude_code:1files:")
    assert request.tags["star_pipeline/files_added"] == "1"
    assert ["raw", "claude_code_lines"] in [k.path for k in request.asset_selection]
    assert ["normalized", "normalized_usage"] in [k.path for k in request.asset_selection]

    unchanged = defs.get_sensor_def("claude_code_files_sensor").evaluate_tick(
        build_sensor_context(cursor=first.cursor, instance=DagsterInstance.ephemeral()))
    assert not unchanged.run_requests and unchanged.skip_message and "no change in 1 files" in unchanged.skip_message

    with session.open("a") as handle:
        handle.write(json.dumps({"type": "assistant", "sessionId": "s1"}) + "\n")
    grown = defs.get_sensor_def("claude_code_files_sensor").evaluate_tick(
        build_sensor_context(cursor=first.cursor, instance=DagsterInstance.ephemeral()))
    [again] = grown.run_requests
    assert again.run_key != request.run_key and int(again.tags["star_pipeline/new_bytes"]) > 0
    assert not sandbox.warehouse.exists()  # sensors never open (or create) the warehouse


def test_missing_folders_are_a_skip_not_an_error_nor_a_run(sandbox):
    defs = build_defs(sandbox)
    for source in SOURCES:  # no agent has written anything under the sandbox's home
        sensor = defs.get_sensor_def(f"{source.name}_files_sensor")
        result = sensor.evaluate_tick(build_sensor_context(instance=DagsterInstance.ephemeral()))
        assert not result.run_requests and "no files under" in result.skip_message
        later = sensor.evaluate_tick(build_sensor_context(cursor=result.cursor, instance=DagsterInstance.ephemeral()))
        assert not later.run_requests
    folder = sandbox.claude_root / "-home-u-p"  # the agent's first file starts a run
    folder.mkdir(parents=True)
    (folder / "s1.jsonl").write_text(json.dumps({"type": "user", "sessionId": "s1"}) + "\n")
    sensor = defs.get_sensor_def("claude_code_files_sensor")
    empty = sensor.evaluate_tick(build_sensor_context(cursor=json.dumps({"digest": "x", "files": 0, "bytes": 0}),
                                                      instance=DagsterInstance.ephemeral()))
    assert len(empty.run_requests) == 1


def test_every_sensor_and_schedule_is_on_by_default(sandbox):
    from dagster import DefaultScheduleStatus, DefaultSensorStatus

    defs = build_defs(sandbox)
    sensors = {s.name: s for s in defs.sensors}
    assert set(sensors) == {"classifier_files_sensor", "after_ingest_sensor",
                            *(f"{source.name}_files_sensor" for source in SOURCES)}
    assert {"claude_code_files_sensor", "codex_files_sensor", "hook_spool_files_sensor"} <= set(sensors)
    assert all(s.default_status == DefaultSensorStatus.RUNNING for s in sensors.values())
    assert {s.name for s in defs.schedules} == {"hourly_aggregate_rebuild", "nightly_invariant_sweep"}
    assert all(s.default_status == DefaultScheduleStatus.RUNNING for s in defs.schedules)


def test_project_folder_agents_are_found_by_the_scan_and_a_tick_reads_its_cache(sandbox):
    """Aider's history in a project under home starts a run with no configuration; a tick within the hour reads
    the scan's cache (a project made since is not looked for), a stale cache is scanned again."""
    first_project = sandbox.home / "projects" / "calc"
    first_project.mkdir(parents=True)
    (first_project / ".aider.chat.history.md").write_text("# aider chat started at 2025-05-04 17:02:36\n")
    defs = build_defs(sandbox)
    sensor = defs.get_sensor_def("aider_files_sensor")
    first = sensor.evaluate_tick(build_sensor_context(instance=DagsterInstance.ephemeral()))
    [request] = first.run_requests
    assert request.run_key.startswith("aider:1files:")

    second_project = sandbox.home / "projects" / "game"
    second_project.mkdir()
    (second_project / ".aider.chat.history.md").write_text("# aider chat started at 2025-05-05 09:00:00\n")
    cached = sensor.evaluate_tick(build_sensor_context(cursor=first.cursor, instance=DagsterInstance.ephemeral()))
    assert not cached.run_requests and "no change in 1 files" in cached.skip_message

    cache = sandbox.warehouse.parent / "project_folders.json"
    content = json.loads(cache.read_text())
    cache.write_text(json.dumps({**content, "scanned_at": content["scanned_at"] - 7200}))  # two hours old
    rescanned = sensor.evaluate_tick(build_sensor_context(cursor=first.cursor, instance=DagsterInstance.ephemeral()))
    [again] = rescanned.run_requests
    assert again.run_key.startswith("aider:2files:")
    assert not sandbox.warehouse.exists()
