"""The writer as a long-lived deployment: Dagster's run, event log and schedule storage in PostgreSQL (the `[team]`
extra, docs/guide/team.md). The daemon's own steps run here, in-process: its sensor iteration evaluates the
project's sensors in a code server it starts (workspace.yaml, as a deployment loads it), its run-queue iteration
launches the requested run in a run worker, and a new instance over the same database then reads back what they
recorded. The instance's dagster.yaml is instance/dagster.yaml plus the guide's block, pointed at a fresh database of
the session's cluster: the guide's example is the one tested.

Marked slow: it starts a code server and a run worker (subprocesses, as the daemon does).
"""

import logging
import os
import re
import time

import pytest
import yaml

from star_pipeline_tests.builders import SESSION, assistant, session_file, usage, user, write_jsonl
from star_pipeline_tests.conftest import REPO_ROOT, query

pytestmark = pytest.mark.slow

GUIDE = REPO_ROOT / "docs" / "guide" / "team.md"
INGEST_SENSOR = "claude_code_files_sensor"
PASSWORD_VARIABLE = "DAGSTER_PG_PASSWORD"
# a bound on the wait for the run worker, far above its few seconds: reached only when the run hangs
RUN_DEADLINE_SECONDS = 300


def dagster_postgres_or_skip() -> None:
    """dagster-postgres comes with the `dev` and `team` extras; a venv made before it was added lacks it: a skip
    that says so, except under CI (CI=true), where it is a failure, as a missing PostgreSQL is (conftest.py)."""
    try:
        import dagster_postgres  # noqa: F401
    except ImportError:
        message = "dagster-postgres is not installed: `pip install -e '.[dev]'` (or `make install`) installs it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def guide_storage_block() -> dict:
    """The guide's `storage: postgres:` example, parsed."""
    blocks = re.findall(r"^```yaml\n(.*?)^```", GUIDE.read_text(), flags=re.S | re.M)
    [block] = [b for b in blocks if b.startswith("storage:")]
    return yaml.safe_load(block)


def dagster_home_over(postgres_cluster, tmp_path, database: str):
    """A DAGSTER_HOME (owner-only) whose dagster.yaml is the project's instance settings plus the guide's storage
    block, its server, database and user those of `database` in the test cluster (a unix socket: no host name, the
    socket's folder as libpq's `host` parameter)."""
    storage = guide_storage_block()
    connection = storage["storage"]["postgres"]["postgres_db"]
    assert set(connection) == {"hostname", "port", "db_name", "username", "password", "scheme"}, connection
    connection.update(hostname="", db_name=database, username="star", params={"host": str(postgres_cluster.socket_dir)})
    settings = yaml.safe_load((REPO_ROOT / "instance" / "dagster.yaml").read_text())
    home = tmp_path / "dagster_home"
    home.mkdir(mode=0o700)
    (home / "dagster.yaml").write_text(yaml.safe_dump({**settings, **storage}))
    return home


def runs_in_postgres(postgres_cluster, database: str) -> list[tuple]:
    """(run_id, status, job name) of every row of the database's `runs` table, read with psycopg2 itself."""
    import psycopg2

    conn = psycopg2.connect(dbname=database, host=str(postgres_cluster.socket_dir), user="star")
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT run_id, status, pipeline_name FROM runs ORDER BY create_timestamp")
            return cursor.fetchall()
    finally:
        conn.close()


def wait_until_finished(instance, run_id: str):
    """The run once it has finished (polled: the run worker is another process)."""
    deadline = time.monotonic() + RUN_DEADLINE_SECONDS
    while True:
        run = instance.get_run_by_id(run_id)
        if run.is_finished or time.monotonic() > deadline:
            return run
        time.sleep(0.5)


def failure_of(instance, run) -> str:
    """What a run that did not succeed says about it: its status and its failure events' messages."""
    from dagster import DagsterEventType

    failures = [event.message or event.dagster_event.message
                for kind in (DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE)
                for event in instance.all_logs(run.run_id, of_type=kind)]
    return f"run {run.run_id} is {run.status.value} (after at most {RUN_DEADLINE_SECONDS} s): {failures}"


def test_sensors_start_runs_recorded_in_postgres_run_storage(sandbox, postgres_cluster, tmp_path, monkeypatch):
    from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
    from dagster._core.scheduler.instigation import InstigatorType, TickStatus
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
    from dagster._daemon.sensor import execute_sensor_iteration

    dagster_postgres_or_skip()
    database = f"dagster_runs_{os.getpid()}_{int(time.monotonic() * 1000) % 100000}"
    postgres_cluster.create_database(database)
    home = dagster_home_over(postgres_cluster, tmp_path, database)
    # the guide reads the password from the environment; the test cluster trusts its socket, so any value does
    monkeypatch.setenv(PASSWORD_VARIABLE, "unused-by-a-trusting-cluster")
    # the after-ingest sensor's interval (min(STAR_PIPELINE_SENSOR_INTERVAL, 10) s) in the code server: 1 s, so the
    # second iteration below, after the ingest run, evaluates it again
    monkeypatch.setenv("STAR_PIPELINE_SENSOR_INTERVAL", "1")
    write_jsonl(session_file(sandbox, SESSION), [
        user(SESSION, 0, "please add tests"),
        assistant(SESSION, 5, "msg_pg_1", "req_pg_1", usage(10, 321, cr=1000)),
    ])

    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage", instance.run_storage
        logger = logging.getLogger("star_pipeline_tests.sensor_daemon")
        with create_test_daemon_workspace_context(WorkspaceFileTarget(paths=[str(REPO_ROOT / "workspace.yaml")]),
                                                  instance) as workspace:
            # the daemon's sensor step: every sensor of the code location, once; the Claude Code one sees the session
            list(execute_sensor_iteration(workspace, logger, threadpool_executor=None, submit_threadpool_executor=None))
            [queued] = instance.get_runs()
            assert queued.status == DagsterRunStatus.QUEUED and queued.tags["dagster/sensor_name"] == INGEST_SENSOR
            # the daemon's run-queue step: launches it in a run worker of the code server, which writes to PostgreSQL
            list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(workspace))
            launched = instance.get_run_by_id(queued.run_id)
            assert launched.status != DagsterRunStatus.QUEUED, "the daemon's run-queue step did not launch the run"
            ingest = wait_until_finished(instance, queued.run_id)
            assert ingest.status == DagsterRunStatus.SUCCESS, failure_of(instance, ingest)
            # the next sensor step: the after-ingest sensor (in the code server, through the instance it opens from the
            # daemon's reference: PostgreSQL) finds that success and requests the classify-and-rebuild run
            time.sleep(1.1)  # its minimum interval, which the daemon keeps between two ticks of one sensor
            list(execute_sensor_iteration(workspace, logger, threadpool_executor=None, submit_threadpool_executor=None))

    # read back through a new instance over the same database, as a restarted webserver or daemon would
    with DagsterInstance.from_config(str(home)) as reopened:
        assert type(reopened.run_storage).__name__ == "PostgresRunStorage", reopened.run_storage
        runs = {run.tags.get("dagster/sensor_name"): run for run in reopened.get_runs()}
        assert set(runs) == {INGEST_SENSOR, "after_ingest_sensor"}, runs
        recorded = runs[INGEST_SENSOR]
        assert recorded.run_id == queued.run_id and recorded.status == DagsterRunStatus.SUCCESS
        assert recorded.job_name == "ingest_and_normalize" and recorded.tags["star_pipeline/source"] == "claude_code"
        assert recorded.tags["dagster/run_key"].startswith("claude_code:1files:")
        downstream = runs["after_ingest_sensor"]
        assert downstream.job_name == "classify_and_rebuild" and downstream.status == DagsterRunStatus.QUEUED
        assert reopened.get_run_stats(recorded.run_id).steps_succeeded > 0
        assert len(reopened.all_logs(recorded.run_id, of_type=DagsterEventType.RUN_SUCCESS)) == 1

        ticks = {state.instigator_name: reopened.get_ticks(state.instigator_origin_id, state.selector_id)
                 for state in reopened.all_instigator_state(instigator_type=InstigatorType.SENSOR)}
        # newest first: the second step found nothing new, the first started the ingest
        assert [tick.status for tick in ticks[INGEST_SENSOR]] == [TickStatus.SKIPPED, TickStatus.SUCCESS]
        assert ticks[INGEST_SENSOR][1].run_ids == [recorded.run_id]
        assert [tick.status for tick in ticks["after_ingest_sensor"]] == [TickStatus.SUCCESS, TickStatus.SKIPPED]
        assert ticks["after_ingest_sensor"][0].run_ids == [downstream.run_id]
        # the classifier sensor registered the folder's revision, a dynamic partition: in PostgreSQL too
        assert reopened.get_dynamic_partitions("classifier_revisions"), "no classifier revision was registered"
        # instance/dagster.yaml's pool (one step at a time on the DuckDB file): PostgreSQL's slots, all free again
        pool = reopened.event_log_storage.get_concurrency_info("duckdb_warehouse")
        assert (pool.slot_count, pool.active_slot_count, pool.pending_step_count) == (1, 0, 0), pool

        # and the rows are PostgreSQL's own, not a file's under DAGSTER_HOME
        assert sorted(runs_in_postgres(postgres_cluster, database)) == sorted([
            (recorded.run_id, "SUCCESS", "ingest_and_normalize"),
            (downstream.run_id, "QUEUED", "classify_and_rebuild")])
        assert not list(home.rglob("*.db")), list(home.rglob("*.db"))

    # the run did the work: the warehouse holds the session
    assert query(sandbox, "SELECT session_id, sum(output_tokens) FROM normalized.normalized_usage GROUP BY ALL") == [
        (SESSION, 321)]
