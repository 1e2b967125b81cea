"""The project's jobs, by name: one ingest, one classification, one classification and rebuild, one
aggregate rebuild, one check sweep, and the recording of budget alerts (budgets/alerts.py)."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from star_pipeline.budgets.alerts import build_budget_alerts_job
from star_pipeline.storage.load_log import failure_hook_for_warehouse

# Raw capture alone: a team member's machine on a DuckLake (`star-pipeline build --raw-only`).
CAPTURE_JOB = "capture_raw"
# Raw capture and normalization: every unpartitioned asset below the classified layer.
INGEST_JOB = "ingest_and_normalize"
# The classified layer, for one revision of the classifiers folder or a range of them.
CLASSIFY_JOB = "classify"
# What follows an ingest, in one run: every registered revision classifies the new items, then the aggregates.
REFRESH_JOB = "classify_and_rebuild"
# The aggregate layer and star schema, rebuilt hourly by schedule.
AGGREGATE_JOB = "rebuild_aggregates"
# Every check of every layer, nightly (the full versions: rebuild identity over everything).
SWEEP_JOB = "nightly_invariant_sweep"


RUN_LOGGING = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
"""Every job's default run config: runs log at INFO, each step's own progress lines and failures, not Dagster's
DEBUG event stream (1,317 of 1,696 lines of nine minutes of `make dev`); the UI still shows every event."""


def build_jobs() -> dict:
    """Every job, by name."""
    record_failures = {failure_hook_for_warehouse()}
    jobs = [
        define_asset_job(INGEST_JOB, selection=AssetSelection.groups("raw", "normalized"), hooks=record_failures,
                         config=RUN_LOGGING, description="Capture new source lines and normalize them."),
        define_asset_job(CAPTURE_JOB, selection=AssetSelection.groups("raw"), hooks=record_failures,
                         config=RUN_LOGGING, description="Capture this machine's new source lines, and nothing above "
                         "(a team member's machine; the elected writer rebuilds the other layers)."),
        define_asset_job(CLASSIFY_JOB, selection=AssetSelection.groups("classified"), hooks=record_failures,
                         config=RUN_LOGGING, description="Classify with the classifier versions of the run's revisions."),
        define_asset_job(REFRESH_JOB, selection=AssetSelection.groups("classified", "aggregate"), hooks=record_failures,
                         config=RUN_LOGGING, description="After an ingest: classify the new items with every registered "
                         "revision of the classifiers, then rebuild the aggregates and the star schema."),
        define_asset_job(AGGREGATE_JOB, selection=AssetSelection.groups("aggregate"), hooks=record_failures,
                         config=RUN_LOGGING, description="Rebuild the aggregates and the star schema from the layers below."),
        define_asset_job(SWEEP_JOB, selection=AssetSelection.all_asset_checks(), config=RUN_LOGGING,
                         description="Run every check over the whole warehouse, without materializing anything."),
        build_budget_alerts_job(record_failures),
    ]
    return {job.name: job for job in jobs}
