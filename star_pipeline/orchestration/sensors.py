"""The sensors that keep the warehouse current by themselves (all on by default).

- one per source (raw/sensors.py): a changed file requests an ingest;
- after each successful ingest: one run that classifies and rebuilds the aggregates (`sequence.py`);
- a new or edited classifier file makes a new revision: a partition and a run (classified/sensors.py);
- a budget crossing its warn_at or its limit: one run that records the alert (budgets/sensors.py).
On a `machine.role: raw-only` machine only the first, and its runs capture raw lines only (`capture_raw`).
"""

from __future__ import annotations

from dagster import DefaultSensorStatus, SkipReason, sensor

from star_pipeline.budgets.sensors import build_budget_alerts_sensor
from star_pipeline.classified.sensors import build_classifier_files_sensor
from star_pipeline.storage.dagster_instance import sensor_instance
from star_pipeline.orchestration.jobs import AGGREGATE_JOB, CAPTURE_JOB, INGEST_JOB, REFRESH_JOB
from star_pipeline.orchestration.sequence import downstream_request, has_ingested, ingest_pending, last_ingest
from star_pipeline.raw.sensors import TICK_SECONDS, build_source_sensors

# The after-ingest sensor looks every 10 s (or the source sensors' interval, when shorter): it reads only
# the instance's run records, and each tick it waits is time a new session waits for the reports.
AFTER_INGEST_TICK_SECONDS = min(TICK_SECONDS, 10)


def build_after_ingest_sensor(jobs: dict):
    """After each successful ingest: one run that classifies with every registered revision and rebuilds the
    aggregates.

    A plain sensor whose cursor is the last ingest run it answered, not a `run_status_sensor`: Dagster opens a
    new instance for each tick of one (70 ms of CPU with SQLite, every 10 s while nothing happens), where this
    one asks the instance the code server keeps (storage/dagster_instance.py) for the latest successful ingest.
    """
    @sensor(
        name="after_ingest_sensor",
        jobs=[jobs[REFRESH_JOB], jobs[AGGREGATE_JOB]],
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=AFTER_INGEST_TICK_SECONDS,
        description="After each ingest, one run: classifies the new items with every registered revision of the "
        "classifiers, then rebuilds the aggregates.",
    )
    def after_ingest_sensor(context):
        instance = sensor_instance(context)
        ingest = last_ingest(instance)
        if ingest is None or ingest.run_id == context.cursor:
            return SkipReason("no ingest has succeeded since the last downstream run was requested")
        pending = ingest_pending(instance)
        if pending is not None:
            # Another ingest is on its way (the source sensors often fire together): its success is the next
            # latest one, so classify and rebuild once, after the last one.
            context.update_cursor(ingest.run_id)
            return SkipReason(f"ingest run {pending.run_id} is still to finish; downstream runs wait for it")
        context.update_cursor(ingest.run_id)
        return downstream_request(instance, ingest.run_id)

    return after_ingest_sensor


def build_sensors(settings, jobs: dict, normalized_keys: list) -> list:
    if getattr(settings, "machine_role", "writer") == "raw-only":
        # a team member's machine: its changed files start capture runs, and nothing else runs here
        return build_source_sensors(settings, CAPTURE_JOB, [])
    return [
        build_classifier_files_sensor(settings.classifiers_dir, has_ingested),
        *build_source_sensors(settings, INGEST_JOB, normalized_keys),
        build_after_ingest_sensor(jobs),
        build_budget_alerts_sensor(settings.published_anchor),
    ]
