"""The project's jobs, by name: one ingest, one per classifier, one aggregate rebuild, one check sweep."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from star_pipeline.classified.specs import CLASSIFIERS
from star_pipeline.storage.load_log import failure_hook_for_warehouse

# Raw capture and normalization: every unpartitioned asset below the classified layer.
INGEST_JOB = "ingest_and_normalize"
# The aggregate layer and star schema, rebuilt hourly by schedule.
AGGREGATE_JOB = "rebuild_aggregates"
# Every check of every layer, nightly (the full versions: rebuild identity over everything).
SWEEP_JOB = "nightly_invariant_sweep"


RUN_LOGGING = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
"""Every job's default run config: runs log at INFO, each step's own progress lines and failures, not Dagster's
DEBUG event stream (1,317 of 1,696 lines of nine minutes of `make dev`); the UI still shows every event."""


def classify_job_name(classifier: str) -> str:
    return f"classify_{classifier}"


def build_jobs() -> dict:
    """Every job, by name."""
    record_failures = {failure_hook_for_warehouse()}
    jobs = [
        define_asset_job(INGEST_JOB, selection=AssetSelection.groups("raw", "normalized"), hooks=record_failures,
                         config=RUN_LOGGING, description="Capture new source lines and normalize them."),
        *[
            define_asset_job(classify_job_name(spec.name), selection=AssetSelection.assets(spec.key),
                             hooks=record_failures, config=RUN_LOGGING,
                             description=f"Classify with one version of {spec.name}.")
            for spec in CLASSIFIERS
        ],
        define_asset_job(AGGREGATE_JOB, selection=AssetSelection.groups("aggregate"), hooks=record_failures,
                         config=RUN_LOGGING, description="Rebuild the aggregates and the star schema from the layers below."),
        define_asset_job(SWEEP_JOB, selection=AssetSelection.all_asset_checks(), config=RUN_LOGGING,
                         description="Run every check over the whole warehouse, without materializing anything."),
    ]
    return {job.name: job for job in jobs}
