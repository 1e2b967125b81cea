"""Sensors that ingest new sessions by themselves.

One sensor per raw source walks its folders and compares every matching
file's size and mtime with the previous tick (a digest in the cursor); it
never opens DuckDB. When something changed it requests a run of the source's
raw capture and the whole normalized layer, with a run key naming the source,
the new state's digest and how many files changed. A run-status sensor then
follows every successful ingest with one run per registered classifier
version and an aggregate rebuild, so new sessions reach the reports without a
click. All are on by default.
"""

import hashlib
import json
import os

from dagster import (
    DagsterRunStatus,
    RunsFilter,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    run_status_sensor,
    sensor,
)

from star_pipeline.raw.capture import discover_files
from star_pipeline.raw.sources import RAW_SOURCES, RawSource

# How often the sensors look (seconds); STAR_PIPELINE_SENSOR_INTERVAL overrides it (the end-to-end test uses 3).
TICK_SECONDS = int(os.environ.get("STAR_PIPELINE_SENSOR_INTERVAL", "30"))


def folder_state(roots: list[str], pattern: str) -> dict:
    """A digest of (path, size, mtime, inode, ctime) of every matching file, with the file count and total size."""
    files = discover_files(roots, pattern).files
    hasher = hashlib.sha256()
    total = 0
    for path, (_disk_path, st) in sorted(files.items()):
        hasher.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\0{st.st_ctime_ns}\n".encode())
        total += st.st_size
    return {"digest": hasher.hexdigest(), "files": len(files), "bytes": total}


def build_source_sensor(source: RawSource, roots: list[str], job_name: str, downstream_keys: list):
    @sensor(
        name=f"{source.name}_files_sensor",
        minimum_interval_seconds=TICK_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        job_name=job_name,
        description=f"Ingests new or grown files under {roots} ({source.description})",
    )
    def source_files_sensor(context: SensorEvaluationContext):
        state = folder_state(roots, source.file_pattern)
        previous = json.loads(context.cursor) if context.cursor else {"digest": None, "files": 0, "bytes": 0}
        if state["digest"] == previous["digest"]:
            return SkipReason(f"no change in {state['files']} files")
        # The cursor stays small (a digest and two counts) even with 100,000 files.
        context.update_cursor(json.dumps(state))
        return RunRequest(
            run_key=f"{source.name}:{state['files']}files:{state['bytes']}bytes:{state['digest'][:16]}",
            asset_selection=[source.lines_key, source.files_key, *downstream_keys],
            tags={
                "star_pipeline/source": source.name,
                "star_pipeline/files": str(state["files"]),
                "star_pipeline/new_bytes": str(state["bytes"] - previous["bytes"]),
                "star_pipeline/files_added": str(state["files"] - previous["files"]),
            },
        )

    return source_files_sensor


def build_source_sensors(settings, job_name: str, normalized_keys: list) -> list:
    roots = {
        "claude_code": [str(p) for p in settings.claude_code_roots],
        "codex": [str(p) for p in settings.codex_roots],
        "hook_spool": [str(settings.hook_spool_dir)],
    }
    return [build_source_sensor(source, roots[source.name], job_name, normalized_keys) for source in RAW_SOURCES]


def build_downstream_sensor(ingest_job, classify_jobs: dict, aggregate_job):
    """After each successful ingest: classify with every registered version, then rebuild aggregates."""

    @run_status_sensor(
        name="after_ingest_sensor",
        run_status=DagsterRunStatus.SUCCESS,
        monitored_jobs=[ingest_job],
        request_jobs=[*classify_jobs.values(), aggregate_job],
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=TICK_SECONDS,
        description="Classifies new normalized rows with every registered classifier version and rebuilds the aggregates.",
    )
    def after_ingest_sensor(context):
        run_id = context.dagster_run.run_id
        pending = context.instance.get_runs(
            filters=RunsFilter(job_name=ingest_job.name, statuses=[
                DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]),
            limit=1,
        )
        if pending:
            # Another ingest is on its way (the three source sensors often fire together): its success
            # triggers this sensor again, so classify and rebuild once, after the last one.
            return SkipReason(f"ingest run {pending[0].run_id} is still to finish; downstream runs wait for it")
        requests = []
        for partitions_name, job in classify_jobs.items():
            for version in context.instance.get_dynamic_partitions(partitions_name):
                requests.append(RunRequest(run_key=f"{run_id}:{version}", job_name=job.name, partition_key=version))
        requests.append(RunRequest(run_key=f"{run_id}:aggregate", job_name=aggregate_job.name))
        return requests

    return after_ingest_sensor
