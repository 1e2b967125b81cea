"""What `make dev` costs to leave running: memory and CPU of its processes while nothing new arrives.

Starts `dg dev` as `make dev` does (from the repository root, on 127.0.0.1, umask 077) with its own
DAGSTER_HOME and warehouse in a temporary folder and a configuration whose Claude Code folder holds a few
session files copied from `--corpus` (every other source points at a folder that does not exist, as on a
machine without that agent). It waits until the first ingest and the run after it have finished and no run
has been queued for a while, then samples every process of dg dev's process group (RSS, PSS and CPU time,
from /proc) every `--interval` seconds for `--minutes`, and counts the sensor and schedule ticks in that window
(GraphQL). Then it stops dg dev as Ctrl-C does (and kills what is left after a minute). A sensor tick's CPU is the daemon's, the code server's and the user-code server's CPU over the
window divided by the ticks: an upper bound, since the daemon's other loops (run queue, monitoring) count too.

    python -m star_pipeline.bench.idle --minutes 10
    python -m star_pipeline.bench.idle --attach PGID --port 3123 --minutes 3   # a dg dev already running

Linux only (/proc). Prints a Markdown table; the figures in BENCHMARKS.md ("Idle cost of make dev") came from it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "claude" / "projects"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024

# What each process of `dg dev` is, by a piece of its command line (the first that matches).
ROLES = [
    ("code-server start", "code server (proxy)"),
    ("api grpc", "user code (gRPC)"),
    ("dagster_webserver", "webserver"),
    ("dagster._daemon", "daemon"),
    ("resource_tracker", "multiprocessing resource tracker"),
    ("spawn_main", "run worker"),
    ("execute_run", "run worker"),
    (" dev ", "dg dev (supervisor)"),
]


@dataclass
class Sample:
    pid: int
    role: str
    rss_bytes: int
    pss_bytes: int
    cpu_seconds: float


def role_of(cmdline: str) -> str:
    for piece, role in ROLES:
        if piece in f" {cmdline} ":
            return role
    return cmdline[:60]


def process_group(pgid: int) -> list[Sample]:
    """Every live process whose process group is `pgid`, with its RSS and user+system CPU time."""
    samples = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # it ended while we looked
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state is fields[0]
        if int(fields[2]) != pgid:
            continue
        utime, stime, rss_pages = int(fields[11]), int(fields[12]), int(fields[21])
        samples.append(Sample(int(entry), role_of(cmdline), rss_pages * PAGE_SIZE, pss_bytes(int(entry)),
                              (utime + stime) / CLOCK_TICKS))
    return sorted(samples, key=lambda s: s.pid)


def pss_bytes(pid: int) -> int:
    """The process's proportional set size: its private pages plus its share of pages mapped by others too (shared
    libraries), so that a sum over processes counts each page once, unlike RSS. 0 when unreadable."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        answer = json.loads(exc.read() or b"{}")
    if answer.get("errors") or not answer.get("data"):
        raise RuntimeError(f"GraphQL on port {port} answered {answer.get('errors')}")
    return answer["data"]


def runs(port: int) -> list[dict]:
    data = graphql(port, "{ runsOrError { ... on Runs { results { runId jobName status startTime endTime } } } }")
    return data["runsOrError"]["results"]


def ticks_between(port: int, start: float, end: float) -> dict[str, int]:
    """Ticks of every sensor and schedule between two times (Unix seconds), by name."""
    data = graphql(port, f"""{{ workspaceOrError {{ ... on Workspace {{ locationEntries {{ locationOrLoadError {{
        ... on RepositoryLocation {{ repositories {{
            sensors {{ name sensorState {{ ticks(afterTimestamp: {start}, beforeTimestamp: {end}, limit: 100000) {{ status }} }} }}
            schedules {{ name scheduleState {{ ticks(afterTimestamp: {start}, beforeTimestamp: {end}, limit: 100000) {{ status }} }} }}
        }} }} }} }} }} }} }}""")
    counts = {}
    for entry in data["workspaceOrError"]["locationEntries"]:
        for repository in entry["locationOrLoadError"]["repositories"]:
            for sensor in repository["sensors"]:
                counts[sensor["name"]] = len(sensor["sensorState"]["ticks"])
            for schedule in repository["schedules"]:
                counts[schedule["name"]] = len(schedule["scheduleState"]["ticks"])
    return counts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dg_dev(folder: Path, corpus: Path, files: int, port: int) -> subprocess.Popen:
    """`dg dev` as `make dev` starts it, over a copy of the first `files` session files of `corpus`."""
    home = folder / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "instance" / "dagster.yaml", home / "dagster.yaml")
    claude = folder / "claude" / "projects"
    sessions = sorted(corpus.glob("*/*.jsonl"))[:files]
    if not sessions:
        raise SystemExit(f"{corpus}: no Claude Code session files (<project>/<session>.jsonl) to copy; "
                         "point --corpus at a Claude Code projects folder.")
    for session in sessions:
        (claude / session.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(session, claude / session.parent.name / session.name)
    from star_pipeline.sources import SOURCES

    roots = "".join(f"  {s.roots_key}: [{folder / 'absent' / s.name}]\n"
                    for s in SOURCES if not s.single_root and s.name != "claude_code")
    config = folder / "star_pipeline.yaml"
    config.write_text(f"warehouse:\n  path: {folder / 'warehouse.duckdb'}\n"
                      f"sources:\n  claude_code_roots: [{claude}]\n{roots}  hook_spool_dir: {folder / 'spool'}\n"
                      "  project_roots: []\n")  # nor the project folders' scan of this machine's home
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "DAGSTER_HOME": str(home), "STAR_PIPELINE_CONFIG": str(config),
           "VIRTUAL_ENV": str(bin_dir.parent)}
    env.pop("STAR_PIPELINE_SENSOR_INTERVAL", None)  # the default interval: what a user leaves running
    log = (folder / "dg-dev.log").open("w")
    return subprocess.Popen([str(bin_dir / "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=lambda: os.umask(0o077))


def wait_until_settled(port: int, quiet_seconds: float, timeout: float) -> None:
    """Until GraphQL answers, an ingest and the run after it succeeded, and no run was busy for `quiet_seconds`."""
    deadline = time.monotonic() + timeout
    quiet_since = None
    current: list[dict] = []
    while time.monotonic() < deadline:
        try:
            current = runs(port)
        except OSError:
            time.sleep(2)
            continue
        busy = any(r["status"] in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED") for r in current)
        done = {r["jobName"] for r in current if r["status"] == "SUCCESS"}
        ready = not busy and {"ingest_and_normalize", "classify_and_rebuild"} <= done
        quiet_since = (quiet_since or time.monotonic()) if ready else None
        if quiet_since is not None and time.monotonic() - quiet_since >= quiet_seconds:
            return
        time.sleep(3)
    raise SystemExit(f"dg dev did not settle within {timeout:.0f} s (runs: {current or 'none yet'})")


def measure(pgid: int, port: int, minutes: float, interval: float) -> str:
    """Sample the process group for `minutes`; a Markdown table of each process's memory and CPU, and the ticks."""
    first = {s.pid: s for s in process_group(pgid)}
    start, peak = time.time(), {pid: s.rss_bytes for pid, s in first.items()}
    last = first
    runs_before = {r["runId"] for r in runs(port)}
    while time.time() - start < minutes * 60:
        time.sleep(min(interval, max(0.0, start + minutes * 60 - time.time())))
        last = {s.pid: s for s in process_group(pgid)}
        for pid, s in last.items():
            peak[pid] = max(peak.get(pid, 0), s.rss_bytes)
    end = time.time()
    window_minutes = (end - start) / 60

    lines = ["| process | RSS at start (MiB) | RSS at end (MiB) | peak RSS (MiB) | PSS at end (MiB) | CPU (s/min) |",
             "|---|---:|---:|---:|---:|---:|"]
    totals = [0.0, 0.0, 0.0, 0.0]
    tick_cpu = 0.0
    for pid in sorted(set(first) | set(last)):
        before, after = first.get(pid), last.get(pid)
        role = (after or before).role
        cpu = (after.cpu_seconds if after else 0.0) - (before.cpu_seconds if before else 0.0)
        row = [before.rss_bytes / MIB if before else 0.0, after.rss_bytes / MIB if after else 0.0,
               after.pss_bytes / MIB if after else 0.0, cpu]
        lines.append(f"| {role} | {row[0]:.0f} | {row[1]:.0f} | {peak[pid] / MIB:.0f} | {row[2]:.0f} | "
                     f"{cpu / window_minutes:.2f} |")
        totals = [t + v for t, v in zip(totals, row)]
        if role in ("daemon", "code server (proxy)", "user code (gRPC)"):
            tick_cpu += cpu
    lines.append(f"| **total** | **{totals[0]:.0f}** | **{totals[1]:.0f}** | | **{totals[2]:.0f}** | "
                 f"**{totals[3] / window_minutes:.2f}** |")
    lines.insert(0, f"Idle window: {window_minutes:.1f} min, sampled every {interval:.0f} s.\n")
    try:
        ticks = ticks_between(port, start, end)
        new_runs = [r for r in runs(port) if r["runId"] not in runs_before]
    except (OSError, RuntimeError) as exc:  # the samples above stand without them
        return "\n".join(lines + ["", f"(ticks not counted: {exc})"])
    sensor_ticks = sum(n for name, n in ticks.items() if name.endswith("sensor"))
    lines += ["", f"Runs started in the window: {len(new_runs)}. Sensor ticks: {sensor_ticks} "
              f"({', '.join(f'{name} {n}' for name, n in sorted(ticks.items()) if n)}).",
              f"Daemon + code server + user code CPU per sensor tick: {1000 * tick_cpu / max(sensor_ticks, 1):.1f} ms "
              "(an upper bound: the daemon's other loops count too)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the idle window (default 10)")
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between samples (default 15)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                        help=f"a Claude Code projects folder to copy sessions from (default {DEFAULT_CORPUS})")
    parser.add_argument("--files", type=int, default=3, help="how many session files to copy (default 3)")
    parser.add_argument("--port", type=int, help="the webserver's port (default: a free one)")
    parser.add_argument("--attach", type=int, metavar="PGID",
                        help="measure a dg dev already running in this process group (with --port) instead")
    parser.add_argument("--settle-seconds", type=float, default=60.0,
                        help="how long no run must be busy before the window opens (default 60)")
    args = parser.parse_args(argv)

    if args.attach:
        if not args.port:
            parser.error("--attach needs the --port of that dg dev's webserver")
        wait_until_settled(args.port, args.settle_seconds, 900)
        print(measure(args.attach, args.port, args.minutes, args.interval))
        return
    port = args.port or free_port()
    with tempfile.TemporaryDirectory(prefix="star_pipeline_idle_") as tmp:
        process = start_dg_dev(Path(tmp), args.corpus, args.files, port)
        try:
            wait_until_settled(port, args.settle_seconds, 900)
            print(measure(process.pid, port, args.minutes, args.interval))
        finally:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C, as `make dev` is stopped: dg dev stops its services
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


if __name__ == "__main__":
    main()
