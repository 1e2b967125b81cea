"""Freshness under `make dev`: seconds from a new transcript written to its tokens in `report session`.

    python -m star_pipeline.bench.freshness [--bursts 3] [--size-mb 20] [--write BENCHMARKS.md]

Starts `dg dev` as `make dev` does (its own DAGSTER_HOME, the default sensor interval unless
STAR_PIPELINE_SENSOR_INTERVAL says otherwise) over an amplified copy of ../shared/corpus (a generated
corpus when it is absent), waits until the first ingest reached the reports, then, per burst, writes one
new session (a real transcript under new ids) and polls `star-pipeline report session --json` until
the session shows. Per burst it also counts the runs the change made (runs started from the write until
every run finished). Baseline, in the same run: `star-pipeline build` of the same change into a copy
of the warehouse, what the same refresh costs when nothing waits for a sensor tick.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from star_pipeline.bench.generate import generate
from star_pipeline.bench.measure import BIN, CORPUS, amplify, build, fmt_ratio, machine_summary, publish, renewed_copy, write_config

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTANCE_YAML = REPO_ROOT / "instance" / "dagster.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def _runs(port: int) -> list[dict]:
    data = _graphql(port, "{ runsOrError { ... on Runs { results { runId jobName status } } } }")
    return data["runsOrError"]["results"]


def _sessions(config: Path) -> set[str]:
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(config)}
    proc = subprocess.run([str(BIN / "star-pipeline"), "report", "session", "--json"], capture_output=True, text=True, env=env)
    return {s["sessionId"] for s in json.loads(proc.stdout)["sessions"]} if proc.returncode == 0 else set()


def _wait(predicate, timeout: float, what: str, log: Path) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.5)
    raise SystemExit(f"{what} did not happen within {timeout:.0f} s; dg dev's log ends:\n{log.read_text()[-3000:]}")


def _settled(port: int) -> bool:
    return all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in _runs(port))


def measure(work: Path, bursts: int, size_mb: float) -> tuple[list[tuple], list[str]]:
    corpus = work / "corpus"
    if (CORPUS / "claude" / "projects").is_dir():
        amplify(corpus, size_mb)
        claude = corpus / ".claude" / "projects"
        what = f"an amplified copy of {CORPUS} (~{size_mb:g} MB)"
    else:
        generate(corpus, size_mb)
        claude = corpus / "claude" / "projects"
        what = f"a generated corpus of {size_mb:g} MB"
    samples = sorted(claude.rglob("*.jsonl"), key=lambda p: p.stat().st_size)
    sample = next(p for p in samples if "subagents" not in p.parts and p.stat().st_size > 50_000)
    config = write_config(work / "live", claude=[claude], codex=[])
    home = work / "dagster_home"
    home.mkdir(mode=0o700)
    shutil.copy(INSTANCE_YAML, home / "dagster.yaml")
    port = _free_port()
    log = work / "dg-dev.log"
    env = {**os.environ, "DAGSTER_HOME": str(home), "STAR_PIPELINE_CONFIG": str(config), "VIRTUAL_ENV": str(BIN.parent)}
    interval = env.get("STAR_PIPELINE_SENSOR_INTERVAL", "30")
    with log.open("w") as out:
        process = subprocess.Popen([str(BIN / "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)], cwd=REPO_ROOT,
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    rows, notes, waits, run_counts, builds = [], [], [], [], []
    try:
        def answers() -> bool:
            try:
                return bool(_graphql(port, "{ version }"))
            except OSError:
                return False

        _wait(answers, 300, "dg dev answering", log)
        first = _wait(lambda: bool(_sessions(config)) and _settled(port), 1800, "the first ingest reaching the reports", log)
        print(f"freshness: first build visible after {first:.0f} s", flush=True)
        for burst in range(bursts):
            before = {r["runId"] for r in _runs(port)}
            session_id, size = renewed_copy(sample, sample.parent)
            waits.append(_wait(lambda: session_id in _sessions(config), 900, f"session {session_id} in the report", log))
            _wait(lambda: _settled(port), 900, "the runs of the burst finishing", log)
            run_counts.append(len([r for r in _runs(port) if r["runId"] not in before]))
            print(f"freshness: burst {burst + 1}: {waits[-1]:.1f} s, {run_counts[-1]} runs", flush=True)
            time.sleep(5)  # past the run-status sensor's next tick, so bursts do not overlap
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # the same refresh without a sensor: a copy of the warehouse, one more new session, `star-pipeline build`
    offline = work / "offline"
    shutil.copytree(work / "live", offline, ignore=shutil.ignore_patterns("bench.yaml", "*.spill"))
    offline_config = write_config(offline, claude=[claude], codex=[])
    build(offline_config)  # catches up with the bursts' sessions
    for _ in range(bursts):
        renewed_copy(sample, sample.parent)
        builds.append(build(offline_config)[0])
    median, build_median = statistics.median(waits), statistics.median(builds)
    rows.append((f"freshness under make dev, median of {bursts} new sessions ({size / 2**10:.0f} KB each)",
                 f"{median:.1f} s (each: {', '.join(f'{w:.0f}' for w in waits)})",
                 f"star-pipeline build of the same change {build_median:.1f} s", fmt_ratio(median, build_median),
                 "(reference)"))
    rows.append(("runs per change burst under make dev", f"{statistics.median(run_counts):g} (each: "
                 f"{', '.join(map(str, run_counts))})", "", "", "at most 2"))
    notes.append(f"Freshness over {what}, sensor interval {interval} s (make dev's default is 30 s): a new file waits "
                 "up to one interval for the source sensor, then the ingest run, then the after-ingest sensor's tick and "
                 "its run (every registered classifier revision, then the aggregate rebuild).")
    return rows, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--size-mb", type=float, default=20)
    parser.add_argument("--write", type=Path, help="append the results to this markdown file")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="star-pipeline-freshness-"))
    try:
        rows, notes = measure(work, args.bursts, args.size_mb)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    publish(f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, freshness under make dev ({machine_summary()})",
            ["measurement", "star_pipeline", "baseline (same run)", "ratio", "target"], rows, notes, args.write)


if __name__ == "__main__":
    main()
