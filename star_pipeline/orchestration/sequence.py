"""What runs after what: an ingest run, then ONE run that classifies with every registered revision of
the classifiers and rebuilds the aggregates (two runs per change, whatever the number of classifiers).

`star-pipeline build` follows it in-process (`run_pipeline`); in `dagster dev` the
after-ingest sensor requests the same run (`downstream_request`), and the schedules
wait for a first ingest (`has_ingested`).
"""

from __future__ import annotations

from dagster import DagsterRunStatus, RunRequest, RunsFilter

from star_pipeline.classified.specs import CLASSIFIER_REVISIONS, revisions_run
from star_pipeline.orchestration.jobs import AGGREGATE_JOB, INGEST_JOB, REFRESH_JOB


def has_ingested(instance) -> bool:
    """Whether an ingest has succeeded: before one there are no tables to classify, rebuild or check."""
    return bool(instance.get_runs(filters=RunsFilter(job_name=INGEST_JOB, statuses=[DagsterRunStatus.SUCCESS]), limit=1))


def last_ingest(instance):
    """The ingest run that succeeded last (by the time it finished), or None."""
    records = instance.get_run_records(
        filters=RunsFilter(job_name=INGEST_JOB, statuses=[DagsterRunStatus.SUCCESS]), limit=1, order_by="update_timestamp")
    return records[0].dagster_run if records else None


def ingest_pending(instance):
    """An ingest run still to finish (queued or running), or None."""
    runs = instance.get_runs(
        filters=RunsFilter(job_name=INGEST_JOB, statuses=[
            DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]),
        limit=1,
    )
    return runs[0] if runs else None


def after_ingest(revisions: list[str]) -> tuple[str, dict]:
    """The job that follows an ingest and its run's keyword arguments: one run over every registered revision of
    the classifiers and the aggregate layer, or the aggregates alone while no revision is registered yet."""
    return (REFRESH_JOB, revisions_run(revisions)) if revisions else (AGGREGATE_JOB, {})


def downstream_request(instance, after_run_id: str) -> RunRequest:
    """After an ingest, as a sensor's request: `after_ingest`'s run."""
    job, run_arguments = after_ingest(instance.get_dynamic_partitions(CLASSIFIER_REVISIONS.name))
    suffix = "refresh" if job == REFRESH_JOB else "aggregate"
    return RunRequest(run_key=f"{after_run_id}:{suffix}", job_name=job, **run_arguments)
