"""Schedules: the hourly aggregate rebuild and the nightly sweep of every check (both on by default)."""

from __future__ import annotations

from dagster import DefaultScheduleStatus, ScheduleDefinition

from star_pipeline.orchestration.jobs import AGGREGATE_JOB, SWEEP_JOB
from star_pipeline.orchestration.sequence import has_ingested


def _after_first_ingest(context) -> bool:
    """Schedules skip until a first ingest succeeded: before it there are no tables to rebuild or check."""
    return has_ingested(context.instance)


def build_schedules() -> list:
    return [
        ScheduleDefinition(name="hourly_aggregate_rebuild", job_name=AGGREGATE_JOB, cron_schedule="5 * * * *",
                           default_status=DefaultScheduleStatus.RUNNING, execution_timezone="UTC",
                           should_execute=_after_first_ingest),
        ScheduleDefinition(name="nightly_invariant_sweep", job_name=SWEEP_JOB, cron_schedule="30 3 * * *",
                           default_status=DefaultScheduleStatus.RUNNING, execution_timezone="UTC",
                           should_execute=_after_first_ingest),
    ]
