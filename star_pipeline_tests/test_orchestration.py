"""The after-ingest sensor: one classify-and-rebuild run after each successful ingest, none while nothing new
has succeeded, and one after the last of several ingests that run together."""

import time

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, build_sensor_context, partition_loading_context

from star_pipeline.orchestration.jobs import INGEST_JOB, REFRESH_JOB
from star_pipeline_tests.conftest import build_defs


def add_ingest(instance: DagsterInstance, run_id: str, status: DagsterRunStatus) -> None:
    instance.add_run(DagsterRun(job_name=INGEST_JOB, run_id=run_id, status=status))
    time.sleep(0.01)  # the next run's update time is later: "the last ingest" is the one that finished last


def tick(defs, instance: DagsterInstance, cursor: str | None):
    context = build_sensor_context(instance=instance, cursor=cursor, repository_def=defs.get_repository_def())
    # the code server gives a partitioned run request the instance's partitions; a test context needs telling
    with partition_loading_context(dynamic_partitions_store=instance):
        return defs.get_sensor_def("after_ingest_sensor").evaluate_tick(context)


def test_one_downstream_run_per_successful_ingest_and_none_while_idle(sandbox):
    defs = build_defs(sandbox)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("classifier_revisions", ["r1"])

    before = tick(defs, instance, None)
    assert before.run_requests == [] and "no ingest" in before.skip_message

    add_ingest(instance, "ingest-1", DagsterRunStatus.SUCCESS)
    first = tick(defs, instance, before.cursor)
    [request] = first.run_requests
    assert request.job_name == REFRESH_JOB and request.run_key == "ingest-1:refresh"

    idle = tick(defs, instance, first.cursor)
    assert idle.run_requests == [] and idle.cursor == first.cursor

    add_ingest(instance, "failed", DagsterRunStatus.FAILURE)
    assert tick(defs, instance, first.cursor).run_requests == []


def test_ingests_that_run_together_get_one_downstream_run_after_the_last(sandbox):
    defs = build_defs(sandbox)
    instance = DagsterInstance.ephemeral()
    add_ingest(instance, "ingest-a", DagsterRunStatus.SUCCESS)
    add_ingest(instance, "ingest-b", DagsterRunStatus.STARTED)

    waiting = tick(defs, instance, None)
    assert waiting.run_requests == [] and "ingest-b" in waiting.skip_message

    instance.delete_run("ingest-b")
    add_ingest(instance, "ingest-b", DagsterRunStatus.SUCCESS)
    [request] = tick(defs, instance, waiting.cursor).run_requests
    # no classifier revision registered yet: the aggregates alone
    assert request.run_key == "ingest-b:aggregate"
    assert tick(defs, instance, "ingest-b").run_requests == []
