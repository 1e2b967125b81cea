"""The sensors that keep the warehouse current by themselves (all on by default).

- one per source (raw/sensors.py): a changed file requests an ingest;
- after each successful ingest: one run that classifies and rebuilds the aggregates (`sequence.py`);
- a new or edited classifier file makes a new revision: a partition and a run (classified/sensors.py).
On a `machine.role: raw-only` machine only the first, and its runs capture raw lines only (`capture_raw`).
"""

from __future__ import annotations

from dagster import DagsterRunStatus, DefaultSensorStatus, SkipReason, run_status_sensor

from star_pipeline.classified.sensors import build_classifier_files_sensor
from star_pipeline.orchestration.jobs import AGGREGATE_JOB, CAPTURE_JOB, INGEST_JOB, REFRESH_JOB
from star_pipeline.orchestration.sequence import downstream_request, has_ingested, ingest_pending
from star_pipeline.raw.sensors import TICK_SECONDS, build_source_sensors

# The after-ingest sensor looks every 10 s (or the source sensors' interval, when shorter): it reads only
# the instance's run records, and each tick it waits is time a new session waits for the reports.
AFTER_INGEST_TICK_SECONDS = min(TICK_SECONDS, 10)


def build_after_ingest_sensor(jobs: dict):
    """After each successful ingest: one run that classifies with every registered revision and rebuilds the
    aggregates."""
    @run_status_sensor(
        name="after_ingest_sensor",
        run_status=DagsterRunStatus.SUCCESS,
        monitored_jobs=[jobs[INGEST_JOB]],
        request_jobs=[jobs[REFRESH_JOB], jobs[AGGREGATE_JOB]],
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=AFTER_INGEST_TICK_SECONDS,
        description="After each ingest, one run: classifies the new items with every registered revision of the "
        "classifiers, then rebuilds the aggregates.",
    )
    def after_ingest_sensor(context):
        pending = ingest_pending(context.instance)
        if pending is not None:
            # Another ingest is on its way (the source sensors often fire together): its success
            # triggers this sensor again, so classify and rebuild once, after the last one.
            return SkipReason(f"ingest run {pending.run_id} is still to finish; downstream runs wait for it")
        return downstream_request(context.instance, context.dagster_run.run_id)

    return after_ingest_sensor


def build_sensors(settings, jobs: dict, normalized_keys: list) -> list:
    if getattr(settings, "machine_role", "writer") == "raw-only":
        # a team member's machine: its changed files start capture runs, and nothing else runs here
        return build_source_sensors(settings, CAPTURE_JOB, [])
    return [
        build_classifier_files_sensor(settings.classifiers_dir, has_ingested),
        *build_source_sensors(settings, INGEST_JOB, normalized_keys),
        build_after_ingest_sensor(jobs),
    ]
