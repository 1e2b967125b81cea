"""Sensors that ingest new sessions by themselves.

One sensor per source walks its folders and compares every matching file's
size, mtime, inode and ctime with the previous tick (a digest in the cursor);
it never opens DuckDB. When something changed it requests a run of the
source's raw capture and the whole normalized layer, with a run key naming the
source, the new state's digest and how many files changed. What follows an
ingest is orchestration's (orchestration/sensors.py). All are on by default.
"""

import hashlib
import json
import os

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from star_pipeline.raw.asset_keys import files_key, lines_key
from star_pipeline.raw.capture import discover_source_files
from star_pipeline.sources import SOURCES, Source, project_markers
from star_pipeline.storage.project_folders import ProjectScan, project_folders

# How often the sensors look (seconds); STAR_PIPELINE_SENSOR_INTERVAL overrides it (the end-to-end test uses 3).
TICK_SECONDS = int(os.environ.get("STAR_PIPELINE_SENSOR_INTERVAL", "30"))


def folder_state(roots: list[str], source: Source, scan: ProjectScan | None = None) -> dict:
    """A digest of (path, size, mtime, inode, ctime) of every file of a source (`Source.files`; a database with its
    write-ahead log; its files in the project folders `scan` finds, from its cache while fresh), with the file
    count and total size."""
    folders = project_folders(scan, project_markers()) if scan is not None and source.project_files else []
    found = discover_source_files(source, roots, folders).files
    hasher = hashlib.sha256()
    total = 0
    for path, (_disk_path, st, _capture) in sorted(found.items()):
        hasher.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\0{st.st_ctime_ns}\n".encode())
        total += st.st_size
    return {"digest": hasher.hexdigest(), "files": len(found), "bytes": total}


def build_source_sensor(source: Source, roots: list[str], job_name: str, downstream_keys: list,
                        scan: ProjectScan | None = None):
    @sensor(
        name=f"{source.name}_files_sensor",
        minimum_interval_seconds=TICK_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        job_name=job_name,
        description=f"Ingests new or grown files under {roots} ({source.description})",
    )
    def source_files_sensor(context: SensorEvaluationContext):
        state = folder_state(roots, source, scan)
        previous = json.loads(context.cursor) if context.cursor else {"digest": None, "files": 0, "bytes": 0}
        if state["digest"] == previous["digest"]:
            return SkipReason(f"no change in {state['files']} files")
        # The cursor stays small (a digest and two counts) even with 100,000 files.
        context.update_cursor(json.dumps(state))
        if state["files"] == 0 and previous["files"] == 0:
            # an agent that is not installed: nothing to ingest, so no run (dagster dev would otherwise start
            # one per such source at its first tick); its first file, or the last one going, starts one
            return SkipReason(f"no files under {roots}")
        return RunRequest(
            run_key=f"{source.name}:{state['files']}files:{state['bytes']}bytes:{state['digest'][:16]}",
            asset_selection=[lines_key(source), files_key(source), *downstream_keys],
            tags={
                "star_pipeline/source": source.name,
                "star_pipeline/files": str(state["files"]),
                "star_pipeline/new_bytes": str(state["bytes"] - previous["bytes"]),
                "star_pipeline/files_added": str(state["files"] - previous["files"]),
            },
        )

    return source_files_sensor


def build_source_sensors(settings, job_name: str, normalized_keys: list) -> list:
    scan = ProjectScan.of(settings.project_roots, settings.project_scan_depth, settings.warehouse_path)
    return [build_source_sensor(source, [str(p) for p in settings.roots[source.name]], job_name, normalized_keys, scan)
            for source in SOURCES]
