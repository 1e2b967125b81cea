"""What runs after what: ingest, then every registered classifier version, then the aggregates.

`star-pipeline build` follows it in-process (`run_pipeline`); in `dagster dev` the
after-ingest sensor requests the same runs (`downstream_requests`), and the schedules
wait for a first ingest (`has_ingested`).
"""

from __future__ import annotations

from dagster import DagsterRunStatus, RunRequest, RunsFilter

from star_pipeline.classified.specs import CLASSIFIERS
from star_pipeline.orchestration.jobs import AGGREGATE_JOB, INGEST_JOB, classify_job_name


def has_ingested(instance) -> bool:
    """Whether an ingest has succeeded: before one there are no tables to classify, rebuild or check."""
    return bool(instance.get_runs(filters=RunsFilter(job_name=INGEST_JOB, statuses=[DagsterRunStatus.SUCCESS]), limit=1))


def ingest_pending(instance):
    """An ingest run still to finish (queued or running), or None."""
    runs = instance.get_runs(
        filters=RunsFilter(job_name=INGEST_JOB, statuses=[
            DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]),
        limit=1,
    )
    return runs[0] if runs else None


def downstream_requests(instance, after_run_id: str) -> list[RunRequest]:
    """After an ingest: one run per registered version of every classifier, then the aggregate rebuild."""
    requests = [
        RunRequest(run_key=f"{after_run_id}:{version}", job_name=classify_job_name(spec.name), partition_key=version)
        for spec in CLASSIFIERS
        for version in instance.get_dynamic_partitions(spec.partitions.name)
    ]
    requests.append(RunRequest(run_key=f"{after_run_id}:aggregate", job_name=AGGREGATE_JOB))
    return requests
