"""End to end, with real components: `dagster dev` in a subprocess, its GraphQL API, its daemon running
the sensors, and the report command reading what they built. No mocks of Dagster.

Marked slow: it starts the webserver and daemon (about a minute on two cores) and waits for sensor ticks
(STAR_PIPELINE_SENSOR_INTERVAL=3 seconds here instead of 30).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from star_pipeline_tests.conftest import REPO_ROOT

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def claude_session(session_id: str, cwd: str, output_tokens: int) -> str:
    lines = [
        {"type": "user", "sessionId": session_id, "uuid": f"{session_id}-u", "parentUuid": None, "cwd": cwd,
         "timestamp": "2026-05-01T10:00:00.000Z", "version": "2.1.39", "gitBranch": "main",
         "message": {"role": "user", "content": "please add tests"}},
        {"type": "assistant", "sessionId": session_id, "uuid": f"{session_id}-a", "parentUuid": f"{session_id}-u",
         "cwd": cwd, "timestamp": "2026-05-01T10:00:05.000Z", "requestId": f"req_{session_id}",
         "message": {"id": f"msg_{session_id}", "model": "claude-sonnet-4-6", "role": "assistant",
                     "content": [{"type": "text", "text": "done"}],
                     "usage": {"input_tokens": 10, "output_tokens": output_tokens, "cache_read_input_tokens": 1000,
                               "cache_creation_input_tokens": 0}}},
    ]
    return "".join(json.dumps(line) + "\n" for line in lines)


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("e2e")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "instance" / "dagster.yaml", home / "dagster.yaml")
    claude = tmp_path / "claude" / "projects"
    (claude / "-home-u-demo").mkdir(parents=True)
    (claude / "-home-u-demo" / "first.jsonl").write_text(claude_session("first", "/home/u/demo", 100))
    classifiers = tmp_path / "classifiers"
    shutil.copytree(REPO_ROOT / "config" / "classifiers", classifiers)
    config = tmp_path / "star_pipeline.yaml"
    config.write_text(
        f"warehouse:\n  path: {tmp_path / 'warehouse.duckdb'}\n  lock_timeout_seconds: 120\n"
        f"sources:\n  claude_code_roots: [{claude}]\n  codex_roots: [{tmp_path / 'codex'}]\n"
        f"  hook_spool_dir: {tmp_path / 'spool'}\n"
        f"classified:\n  classifiers_dir: {classifiers}\n"
    )
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "STAR_PIPELINE_CONFIG": str(config),
           "STAR_PIPELINE_SENSOR_INTERVAL": "3", "VIRTUAL_ENV": str(BIN.parent)}
    log = (tmp_path / "dagster-dev.log").open("w")
    process = subprocess.Popen(  # as `make dev` starts it
        [str(BIN / "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if graphql(port, "{ version }"):
                    break
            except OSError:
                time.sleep(1)
        else:
            raise AssertionError("dagster dev did not answer within 180 s:\n" + (tmp_path / "dagster-dev.log").read_text()[-3000:])
        yield {"port": port, "env": env, "claude": claude, "config": config, "log": tmp_path / "dagster-dev.log",
               "tmp": tmp_path, "classifiers": classifiers}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def report_totals(env) -> dict:
    proc = subprocess.run([str(BIN / "star-pipeline"), "report", "session", "--json"], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {}
    return {s["sessionId"]: s["outputTokens"] for s in json.loads(proc.stdout)["sessions"]}


def test_dagster_dev_serves_the_graph_and_ingests_new_sessions_by_itself(dagster_dev):
    port = dagster_dev["port"]
    nodes = graphql(port, "{ assetNodes { assetKey { path } groupName hasAssetChecks } }")["assetNodes"]
    groups = {n["groupName"] for n in nodes}
    assert {"raw", "normalized", "classified", "aggregate"} <= groups
    assert any(n["hasAssetChecks"] for n in nodes if n["groupName"] == "aggregate")
    workspace = graphql(port, """{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {
        ... on RepositoryLocation { repositories { sensors { name sensorState { status } }
                                                   schedules { name scheduleState { status } } } } } } } } }""")
    [entry] = workspace["workspaceOrError"]["locationEntries"]
    [repository] = entry["locationOrLoadError"]["repositories"]
    sensors = {s["name"]: s["sensorState"]["status"] for s in repository["sensors"]}
    schedules = {s["name"]: s["scheduleState"]["status"] for s in repository["schedules"]}
    assert sensors["claude_code_files_sensor"] == "RUNNING" and sensors["after_ingest_sensor"] == "RUNNING"
    assert schedules == {"hourly_aggregate_rebuild": "RUNNING", "nightly_invariant_sweep": "RUNNING"}

    # The first session reaches the reports without a click.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and report_totals(dagster_dev["env"]).get("first") != 100:
        time.sleep(3)
    assert report_totals(dagster_dev["env"]).get("first") == 100, dagster_dev["log"].read_text()[-4000:]

    # A new session file dropped into the watched folder follows, in two runs: its ingest, then one run that
    # classifies with every registered revision and rebuilds the aggregates.
    assert wait_for(lambda: settled(port), 300, 3)
    before = {r["runId"] for r in runs(port)}
    (dagster_dev["claude"] / "-home-u-demo" / "second.jsonl").write_text(claude_session("second", "/home/u/demo", 250))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and report_totals(dagster_dev["env"]).get("second") != 250:
        time.sleep(3)
    assert report_totals(dagster_dev["env"]) == {"first": 100, "second": 250}, dagster_dev["log"].read_text()[-4000:]
    assert wait_for(lambda: settled(port), 300, 3)
    # (not the hourly schedule's run, should the test span its minute: it started at 00:05 in one CI run)
    assert sorted(r["jobName"] for r in runs(port) if r["runId"] not in before and not started_by_schedule(r)) == [
        "classify_and_rebuild", "ingest_and_normalize"]
    failed = graphql(port, '{ runsOrError(filter: {statuses: [FAILURE]}) { ... on Runs { results { runId jobName } } } }')
    assert failed["runsOrError"]["results"] == []


def chromium_or_skip() -> str:
    """Debian's chromium, installed here when missing (CI runs as root with the package registry reachable)."""
    found = shutil.which("chromium")
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], capture_output=True, timeout=900,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        found = shutil.which("chromium")
    if not found:
        pytest.skip("Debian's chromium is not installed and could not be installed here")
    return found


def test_dev_logs_at_info_and_shows_no_warning_a_user_cannot_act_on(dagster_dev):
    """After the runs above (sensors, ingest, classify, rebuild): no DEBUG event lines, no warnings."""
    lines = dagster_dev["log"].read_text(errors="replace").splitlines()
    assert any(" - INFO - " in line and "ingest_and_normalize" in line for line in lines)  # runs did log
    assert not [line for line in lines if " - DEBUG - " in line][:3]
    assert not [line for line in lines if "warning" in line.lower()][:3]


def test_browser_shows_the_four_layer_groups(dagster_dev):
    chromium = chromium_or_skip()
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={dagster_dev['tmp'] / 'chromium-profile'}", "--window-size=1600,1000",
             "--virtual-time-budget=30000"]
    url = f"http://127.0.0.1:{dagster_dev['port']}/asset-groups"
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout
    for group in ("raw", "normalized", "classified", "aggregate"):
        assert f">{group}<" in dom or f"{group}</" in dom, f"group {group} not on the asset graph page"
    subprocess.run([*flags, f"--screenshot={dagster_dev['tmp'] / 'asset_graph.png'}", url], capture_output=True, timeout=180)
    assert (dagster_dev["tmp"] / "asset_graph.png").stat().st_size > 10_000
    print(f"screenshot: {dagster_dev['tmp'] / 'asset_graph.png'}")


def wait_for(predicate, timeout: float, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


RUNS_QUERY = "{ runsOrError(limit: 200) { ... on Runs { results { runId jobName status tags { key value } } } } }"


def runs(port: int) -> list[dict]:
    return graphql(port, RUNS_QUERY)["runsOrError"]["results"]


def started_by_schedule(run: dict) -> bool:
    return any(tag["key"] == "dagster/schedule_name" for tag in run.get("tags") or [])


def settled(port: int) -> bool:
    """No run queued or in progress."""
    return all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs(port))


def test_sensor_run_backfill_and_scheduled_job_together_without_lock_errors(dagster_dev):
    """A sensor-triggered ingest, a three-partition classifier backfill and the scheduled job's run, all at once."""
    port = dagster_dev["port"]
    revisions = []
    path = dagster_dev["classifiers"] / "session_kinds.yaml"
    from star_pipeline.classified.rules import classifier_file_versions
    from star_pipeline.classified.specs import revision_key

    for n in range(3):
        path.write_text(path.read_text() + f"# edit {n}\n")
        revision = revision_key(classifier_file_versions(dagster_dev["classifiers"]))
        revisions.append(revision)
        done = wait_for(lambda: any(r["status"] == "SUCCESS" and {"key": "dagster/partition", "value": revision} in r["tags"]
                                    for r in runs(port)), 240)
        assert done, f"{revision} was not materialized by the classifier sensor"

    started = {r["runId"] for r in runs(port)}
    # 1. a sensor-triggered ingest: a session file grows
    with (dagster_dev["claude"] / "-home-u-demo" / "first.jsonl").open("a") as handle:
        handle.write(json.dumps({"type": "system", "sessionId": "first", "subtype": "turn_duration",
                                 "timestamp": "2026-05-01T10:01:00.000Z"}) + "\n")
    # 2. a three-partition backfill of a classifier
    backfill = graphql(port, "mutation { launchPartitionBackfill(backfillParams: {assetSelection: "
                       '[{path: ["classified", "derived_session_kinds"]}], partitionNames: ' + json.dumps(revisions) +
                       "}) { __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }")
    assert backfill["launchPartitionBackfill"]["__typename"] == "LaunchBackfillSuccess", backfill
    # 3. the job the hourly schedule runs
    launched = graphql(port, """mutation { launchRun(executionParams: {selector: {jobName: "rebuild_aggregates",
        repositoryLocationName: "star_pipeline", repositoryName: "__repository__"},
        executionMetadata: {tags: [{key: "dagster/schedule_name", value: "hourly_aggregate_rebuild"}]}}) {
        __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""")
    assert launched["launchRun"]["__typename"] == "LaunchRunSuccess", launched

    def all_finished():
        new = [r for r in runs(port) if r["runId"] not in started]
        kinds = {r["jobName"] for r in new}
        finished = all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in new)
        backfill_runs = [r for r in new if any(t["key"] == "dagster/backfill" for t in r["tags"])]
        if finished and "ingest_and_normalize" in kinds and "rebuild_aggregates" in kinds and len(backfill_runs) >= 3:
            return new
        return None

    new = wait_for(all_finished, 600, 3)
    assert new, f"runs did not finish: {runs(port)[:10]}"
    assert [r for r in new if r["status"] != "SUCCESS"] == [], new
    log = dagster_dev["log"].read_text()
    assert "Conflicting lock" not in log and "could not be released" not in log
