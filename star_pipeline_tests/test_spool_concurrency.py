"""Hook events appended while the spool is being ingested land exactly once."""

import io
import json
import threading
import time

from dagster import DagsterInstance

from star_pipeline.agent_side.hook import run_hook
from star_pipeline_tests.conftest import build_defs, query


def test_spool_appended_during_ingest_every_event_exactly_once(sandbox):
    events = 300
    done = threading.Event()

    def hooks():
        for i in range(events):
            payload = {"hook_event_name": "PostToolUse", "session_id": "s1", "tool_name": "Bash",
                       "tool_use_id": f"toolu_{i:05d}", "tool_response": "x" * (i % 50) * 100}
            run_hook(str(sandbox.spool_dir), stdin=io.BytesIO(json.dumps(payload).encode()))
            time.sleep(0.005)
        done.set()

    writer = threading.Thread(target=hooks)
    writer.start()
    job = build_defs(sandbox).resolve_job_def("ingest_and_normalize")
    instance = DagsterInstance.ephemeral()
    runs = 0
    while not done.is_set() or runs < 2:
        assert job.execute_in_process(instance=instance).success  # ingests while the hook keeps appending
        runs += 1
    writer.join()
    assert job.execute_in_process(instance=instance).success  # the last lines, written after the last run
    counts = query(sandbox, "SELECT count(*), count(DISTINCT tool_use_id) FROM normalized.normalized_hook_events")
    assert counts == [(events, events)]
    assert query(sandbox, "SELECT count(*) FROM normalized.normalized_parse_errors") == [(0,)]
    assert runs >= 2
