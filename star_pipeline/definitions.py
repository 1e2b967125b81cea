"""The Dagster code location: every asset, check, job, sensor and resource of star_pipeline.

The configuration (config/star_pipeline.yaml, or $STAR_PIPELINE_CONFIG) is
read once here; a malformed file fails the code location load with a message
naming the file and key.
"""

from __future__ import annotations

from dagster import (
    AssetSelection,
    DagsterRunStatus,
    DefaultScheduleStatus,
    Definitions,
    RunsFilter,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
)

from star_pipeline.aggregate.assets import aggregate_assets
from star_pipeline.aggregate.checks import aggregate_checks

from star_pipeline.classified.assets import ClassifiersResource, classified_assets
from star_pipeline.classified.checks import classified_checks
from star_pipeline.classified.sensors import build_classifier_files_sensor
from star_pipeline.classified.specs import CLASSIFIERS
from star_pipeline.config import Settings, load_settings
from star_pipeline.normalized.assets import normalized_assets
from star_pipeline.normalized.checks import normalized_checks
from star_pipeline.raw.assets import raw_capture_assets
from star_pipeline.raw.checks import raw_checks
from star_pipeline.raw.sensors import build_downstream_sensor, build_source_sensors
from star_pipeline.storage.io_manager import WarehouseIOManager
from star_pipeline.storage.load_log import failure_hook_for_warehouse
from star_pipeline.storage.private_files import owner_only_umask
from star_pipeline.storage.resources import SourceFoldersResource, WarehouseResource

# Raw capture and normalization: every unpartitioned asset below the classified layer.
INGEST_JOB = "ingest_and_normalize"
# The aggregate layer and star schema, rebuilt hourly by schedule.
AGGREGATE_JOB = "rebuild_aggregates"
# Every check of every layer, nightly (the full versions: rebuild identity over everything).
SWEEP_JOB = "nightly_invariant_sweep"


def has_ingested(context) -> bool:
    """Schedules skip until a first ingest succeeded: before it there are no tables to rebuild or check."""
    return bool(context.instance.get_runs(
        filters=RunsFilter(job_name=INGEST_JOB, statuses=[DagsterRunStatus.SUCCESS]), limit=1))


def classify_job_name(classifier: str) -> str:
    return f"classify_{classifier}"


def build_definitions(settings: Settings) -> Definitions:
    database = str(settings.warehouse_path)
    record_failures = {failure_hook_for_warehouse()}
    jobs = [
        define_asset_job(INGEST_JOB, selection=AssetSelection.groups("raw", "normalized"), hooks=record_failures,
                         description="Capture new source lines and normalize them."),
        *[
            define_asset_job(classify_job_name(spec.name), selection=AssetSelection.assets(spec.key),
                             hooks=record_failures, description=f"Classify with one version of {spec.name}.")
            for spec in CLASSIFIERS
        ],
        define_asset_job(AGGREGATE_JOB, selection=AssetSelection.groups("aggregate"), hooks=record_failures,
                         description="Rebuild the aggregates and the star schema from the layers below."),
        define_asset_job(SWEEP_JOB, selection=AssetSelection.all_asset_checks(),
                         description="Run every check over the whole warehouse, without materializing anything."),
    ]
    schedules = [
        ScheduleDefinition(name="hourly_aggregate_rebuild", job_name=AGGREGATE_JOB, cron_schedule="5 * * * *",
                           default_status=DefaultScheduleStatus.RUNNING, execution_timezone="UTC",
                           should_execute=has_ingested),
        ScheduleDefinition(name="nightly_invariant_sweep", job_name=SWEEP_JOB, cron_schedule="30 3 * * *",
                           default_status=DefaultScheduleStatus.RUNNING, execution_timezone="UTC",
                           should_execute=has_ingested),
    ]
    normalized_keys = [key for a in normalized_assets for key in a.keys]
    ingest_job = jobs[0]
    classify_jobs = {spec.partitions.name: job for spec, job in zip(CLASSIFIERS, jobs[1 : 1 + len(CLASSIFIERS)])}
    aggregate_job = jobs[1 + len(CLASSIFIERS)]
    sensors = [
        build_classifier_files_sensor(settings.classifiers_dir, INGEST_JOB),
        *build_source_sensors(settings, INGEST_JOB, normalized_keys),
        build_downstream_sensor(ingest_job, classify_jobs, aggregate_job),
    ]
    return Definitions(
        assets=[*raw_capture_assets, *normalized_assets, *classified_assets, *aggregate_assets],
        asset_checks=[*raw_checks, *normalized_checks, *classified_checks, *aggregate_checks],
        jobs=jobs,
        schedules=schedules,
        # One process per run, steps in order: starting a process per step costs seconds each on small
        # machines, and the single-writer pool serializes warehouse steps anyway.
        executor=in_process_executor,
        sensors=sensors,
        resources={
            "io_manager": WarehouseIOManager(
                database=database,
                lock_timeout_seconds=settings.lock_timeout_seconds,
                memory_limit=settings.memory_limit,
            ),
            "warehouse": WarehouseResource(
                database=database,
                lock_timeout_seconds=settings.lock_timeout_seconds,
                memory_limit=settings.memory_limit,
            ),
            "source_folders": SourceFoldersResource(
                claude_code_roots=[str(p) for p in settings.claude_code_roots],
                codex_roots=[str(p) for p in settings.codex_roots],
                hook_spool_dir=str(settings.hook_spool_dir),
                partial_line_quiet_seconds=settings.partial_line_quiet_seconds,
            ),
            "classifiers": ClassifiersResource(folder=str(settings.classifiers_dir)),
        },
    )


# dagster dev's code servers and the runs they start load this module: what they write
# (spill files, run history, compute logs) is the owner's only.
owner_only_umask()
defs = build_definitions(load_settings())
