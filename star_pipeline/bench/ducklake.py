"""The team warehouse (issue 20) beside the single file: the same builds on a DuckLake, measured in `make bench`.

    python -m star_pipeline.bench.ducklake [--size-mb 100] [--corpus real-distinct|real|generated] [--write BENCHMARKS.md]

(`python -m star_pipeline.bench.run` runs it too, unless --no-ducklake.) A throwaway PostgreSQL cluster
(bench/local_postgres.py) holds the lakes' catalogs, one database per lake, and each lake's Parquet files are a
folder on local disk. On one corpus (the amplified real one with every copy's texts distinct, as a real
history's, when ../shared is present):
1. Full build from empty, single file vs DuckLake (wall, peak memory), then the incremental refresh the main
   bench measures (one new session into the built warehouse, and the same refresh into an empty one) on both.
   Every build records its runs in a DAGSTER_HOME of its own, on both sides alike, so that the step timings and
   warehouse_maintenance's data_files_before/after can be read afterwards.
2. A member and the writer (issue 34): a member machine (raw-only, its own sessions) on that lake: its capture
   finding nothing new, and one new session; then the writer's rebuild, against the single file's refresh of
   the same change. And a small team's first build: ../shared/corpus split between a writer and a member building
   at once into a fresh lake, against a single file of the union.
3. Three writers: the corpus's files split into three disjoint parts of whole sessions (three configs, each with
   its own roots, spool and warehouse folder, one lake), three `build --raw-only` at once, against one
   `build --raw-only` of the union into a fresh lake. The raw layers of the two lakes must then be equal per
   source (lines, distinct line keys, bytes, manifest): a difference is a failure of the lake, not of the timing.
Without PostgreSQL the part is skipped with a note. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from star_pipeline.bench.measure import (AMPLIFY, BIN, CORPUS, fmt_ratio, machine_summary, publish, timed,
                                         write_config)

REPO_ROOT = Path(__file__).resolve().parents[2]
WRITERS = 3
TARGET = "(issue 20: side by side)"


# ---------------------------------------------------------------- pure logic: the corpus split among writers

def session_unit(key: str) -> str:
    """The session a corpus file belongs to: a main transcript (`p/S.jsonl`) and every file under its folder
    (`p/S/subagents/agent-x.jsonl`) are one unit, so a writer captures whole sessions as a machine would."""
    parts = PurePosixPath(key).parts
    if "subagents" in parts[:-1]:
        return "/".join(parts[:parts.index("subagents")])
    return str(PurePosixPath(key).with_suffix(""))


def split_files(sizes: dict[str, int], parts: int = WRITERS) -> list[list[str]]:
    """`sizes` (file key -> bytes) in `parts` disjoint lists covering every key, whole sessions (session_unit)
    together, balanced by bytes: each unit, largest first, goes to the part with the fewest bytes so far."""
    units: dict[str, list[str]] = {}
    for key in sorted(sizes):
        units.setdefault(session_unit(key), []).append(key)
    totals = [0] * parts
    out: list[list[str]] = [[] for _ in range(parts)]
    for unit, keys in sorted(units.items(), key=lambda item: (-sum(sizes[k] for k in item[1]), item[0])):
        lightest = min(range(parts), key=lambda i: (totals[i], i))
        out[lightest] += keys
        totals[lightest] += sum(sizes[k] for k in keys)
    return [sorted(part) for part in out]


# ---------------------------------------------------------------- configurations and builds

def corpus_roots(corpus_label: str, folder: Path) -> dict[str, Path]:
    """The corpus's Claude Code and Codex roots (bench/corpora.py's REAL, REAL_DISTINCT and GENERATED layouts)."""
    if corpus_label.startswith("real"):
        return {"claude": folder / ".claude" / "projects"}
    return {"claude": folder / "claude" / "projects", "codex": folder / "codex" / "sessions"}


def lake_config(folder: Path, catalog: str, data_path: Path, roots: dict[str, list[Path]]) -> Path:
    """A configuration like bench/measure.write_config's (this folder's own warehouse path and spool), on the
    DuckLake `catalog` with its Parquet files in `data_path`."""
    config = write_config(folder, claude=roots.get("claude", []), codex=roots.get("codex", []))
    return as_lake(config, catalog, data_path)


def as_lake(config: Path, catalog: str, data_path: Path) -> Path:
    """`config` (a single-file configuration) rewritten in place to name the DuckLake instead."""
    import json

    text = config.read_text()
    config.write_text(text.replace("warehouse:\n", f"warehouse:\n  kind: ducklake\n  catalog: {json.dumps(catalog)}\n"
                                   f"  data_path: {json.dumps(str(data_path))}\n", 1))
    return config


def dagster_home_of(config: Path) -> Path:
    """The DAGSTER_HOME a benchmark build of `config` records its runs in (the project's pools, like make build)."""
    home = config.parent / "dagster_home"
    if not (home / "dagster.yaml").exists():
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copy(REPO_ROOT / "instance" / "dagster.yaml", home / "dagster.yaml")
    return home


def build_env(config: Path) -> dict:
    return {**os.environ, "STAR_PIPELINE_CONFIG": str(config), "DAGSTER_HOME": str(dagster_home_of(config))}


class BuildFailed(RuntimeError):
    pass


def build(config: Path, *args: str) -> tuple[float, int | None, str]:
    """Wall seconds, peak RSS (KiB) and output of `star-pipeline build` over `config`, its runs recorded."""
    elapsed, peak, proc = timed([str(BIN / "star-pipeline"), "build", *args], env=build_env(config))
    output = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        raise BuildFailed(f"build {' '.join(args)} of {config} failed (exit {proc.returncode}):\n{output[-3000:]}\n"
                          f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return elapsed, peak, output


def retries_in(output: str) -> int:
    """Commits that lost to another machine's and were tried again (what storage/warehouse/lake_engine.py's
    retry_on_conflict logs)."""
    return output.count("another machine wrote the same table at the same time; trying again")


def concurrent_builds(configs: list[Path], *args: str) -> tuple[float, list[tuple[int, float, int | None, str]]]:
    """Wall seconds of `star-pipeline build` over every config at once (from the first start to the last end),
    and per process (exit code, its own wall seconds, peak RSS KiB, output)."""
    time_bin = shutil.which("time") or "/usr/bin/time"
    started = time.perf_counter()
    procs = []
    for config in configs:
        cmd = [str(BIN / "star-pipeline"), "build", *args]
        cmd = [time_bin, "-v", *cmd] if os.path.exists(time_bin) else cmd
        procs.append((subprocess.Popen(cmd, env=build_env(config), stdout=subprocess.PIPE, stderr=subprocess.PIPE),
                      time.perf_counter()))
    results = []
    for proc, began in procs:
        out, err = proc.communicate()
        own, peak = time.perf_counter() - began, None  # an upper bound: the processes are waited for in order
        for line in err.decode(errors="replace").splitlines():
            if "Maximum resident set size" in line:
                peak = int(line.split(":")[1])
            elif "Elapsed (wall clock) time" in line:  # /usr/bin/time's own, exact: [h:]mm:ss.ss
                own = sum(float(part) * 60 ** i for i, part in enumerate(reversed(line.rsplit(" ", 1)[1].split(":"))))
        results.append((proc.returncode, own, peak, out.decode(errors="replace") + err.decode(errors="replace")[-2000:]))
    return time.perf_counter() - started, results


def raw_layer_summary(config: Path) -> dict[str, tuple]:
    """Per raw table of the warehouse of `config`: lines tables (rows, distinct line keys, bytes, distinct
    paths), manifests (rows, lines they account for)."""
    from star_pipeline.config import load_settings
    from star_pipeline.storage.warehouse import connect, quote_ident

    settings = load_settings(config)
    summary: dict[str, tuple] = {}
    with connect(settings.warehouse_path, read_only=True, **settings.connect_options()) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
            "AND table_schema = 'raw' ORDER BY table_name").fetchall()]
        for table in tables:
            name = f"raw.{quote_ident(table)}"
            if table.endswith("_lines"):
                summary[table] = conn.execute(
                    f"SELECT count(*), count(DISTINCT (path, file_version, byte_offset)), coalesce(sum(byte_length), 0), "
                    f"count(DISTINCT path) FROM {name}").fetchone()
            elif table.endswith("_files"):
                summary[table] = conn.execute(f"SELECT count(*), coalesce(sum(line_count), 0) FROM {name}").fetchone()
    return summary


def describe_summary(summary: dict[str, tuple]) -> str:
    lines = {table: values for table, values in summary.items() if table.endswith("_lines") and values[0]}
    return "; ".join(f"{table.removesuffix('_lines')} {v[0]:,} lines ({v[1]:,} distinct keys, {v[2] / 2**20:.1f} MB, "
                     f"{v[3]:,} files)" for table, v in lines.items()) or "no lines"


def run_facts(config: Path, since: float) -> dict:
    """From the runs `config`'s builds recorded after `since` (epoch seconds): seconds per step (summed over
    runs), per run (job name -> wall seconds) and warehouse_maintenance's metadata."""
    import logging

    from dagster import AssetKey, DagsterInstance

    logging.getLogger("alembic").setLevel(logging.WARNING)
    instance = DagsterInstance.from_config(str(dagster_home_of(config)))
    try:
        steps: dict[str, float] = {}
        runs: dict[str, float] = {}
        for run in instance.get_runs():
            stats = instance.get_run_stats(run.run_id)
            if not stats.start_time or stats.start_time < since:
                continue
            if stats.end_time:
                runs[run.job_name] = runs.get(run.job_name, 0.0) + stats.end_time - stats.start_time
            for step in instance.get_run_step_stats(run.run_id):
                if step.start_time and step.end_time:
                    steps[step.step_key] = steps.get(step.step_key, 0.0) + step.end_time - step.start_time
        maintenance = {}
        records = instance.fetch_materializations(AssetKey(["aggregate", "warehouse_maintenance"]), limit=1).records
        for record in records:
            if record.timestamp >= since:
                metadata = record.event_log_entry.asset_materialization.metadata
                maintenance = {name: value.value for name, value in metadata.items()}
        return {"steps": steps, "runs": runs, "maintenance": maintenance}
    finally:
        instance.dispose()

PROBE = """
import json, statistics, sys, time
from star_pipeline.config import load_settings
from star_pipeline.storage.warehouse import connect
settings = load_settings(sys.argv[1])
started = time.perf_counter()
with connect(settings.warehouse_path, **settings.connect_options()) as conn:
    opened = time.perf_counter() - started
    queries = []
    for _ in range(20):
        began = time.perf_counter()
        conn.execute("SELECT count(*), max(file_version) FROM raw.claude_code_files").fetchall()
        queries.append(time.perf_counter() - began)
    conn.execute("CREATE SCHEMA IF NOT EXISTS bench_probe")
    conn.execute("CREATE OR REPLACE TABLE bench_probe.t (n INTEGER, s VARCHAR)")
    commits = []
    for n in range(20):
        began = time.perf_counter()
        conn.execute("BEGIN TRANSACTION")
        conn.execute("INSERT INTO bench_probe.t SELECT i, repeat('x', 100) FROM range(?) r(i)", [1000])
        conn.execute("COMMIT")
        commits.append(time.perf_counter() - began)
    conn.execute("DROP TABLE bench_probe.t")
    conn.execute("DROP SCHEMA bench_probe")
print(json.dumps({"open": opened, "query": statistics.median(queries), "commit": statistics.median(commits)}))
"""


def probe(config: Path) -> dict:
    """In one process on `config`'s warehouse: seconds to open a writable connection (extensions, attach,
    migration check), the median of 20 small catalog-bound reads, and of 20 commits of 1,000 rows."""
    import json

    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(config)}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.run([sys.executable, "-c", PROBE, str(config)], capture_output=True, env=env)
    if proc.returncode != 0:
        raise BuildFailed(f"the connection probe failed over {config}: {proc.stderr.decode(errors='replace')[-2000:]}")
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def parquet_files(data_path: Path) -> int:
    return sum(1 for _ in data_path.rglob("*.parquet")) if data_path.exists() else 0


def link_tree(files: list[str], sources: dict[str, Path], dest: Path) -> int:
    """Hard links (copies where linking fails) of `files` ("<root label>/<relative path>") under dest/<label>/;
    their bytes."""
    total = 0
    for key in files:
        label, rel = key.split("/", 1)
        source, target = sources[label] / rel, dest / label / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
        total += source.stat().st_size
    return total


def step_comparison(file_facts: dict, lake_facts: dict, top: int = 6) -> str:
    """The steps where the lake spent the most time over the file, and the sums over every step."""
    file_steps, lake_steps = file_facts["steps"], lake_facts["steps"]
    extra = sorted(lake_steps, key=lambda step: lake_steps[step] - file_steps.get(step, 0.0), reverse=True)[:top]
    shown = ", ".join(f"{step} {lake_steps[step]:.1f} s (file {file_steps.get(step, 0.0):.1f} s)" for step in extra)
    per_step = [lake_steps[s] - file_steps[s] for s in lake_steps if s in file_steps]
    median = statistics.median(per_step) if per_step else 0.0
    runs = "; ".join(f"{job} lake {lake_facts['runs'][job]:.1f} s / file {file_facts['runs'].get(job, 0.0):.1f} s"
                     for job in lake_facts["runs"])
    return (f"runs: {runs}; {len(lake_steps)} steps, summed {sum(lake_steps.values()):.1f} s on the lake against "
            f"{sum(file_steps.values()):.1f} s on the file (median extra per step {median * 1000:.0f} ms); most extra: "
            f"{shown}")


# ---------------------------------------------------------------- the measurements

def lake_rows(work: Path, size_mb: float, corpus_label: str = "real-distinct") -> tuple[list, list, list]:
    """Rows (measurement, ducklake, single file, ratio, target), notes, and failures (the raw layers of the
    three writers' lake and the single writer's differ, or a lake build failed)."""
    from star_pipeline.bench import local_postgres
    from star_pipeline.bench.corpora import GENERATED, REAL, REAL_DISTINCT

    if corpus_label.startswith("real") and not ((CORPUS / "claude" / "projects").is_dir() and AMPLIFY.exists()):
        rows, notes, failures = lake_rows(work, size_mb, "generated")
        return rows, [f"DuckLake: the real corpus is absent ({CORPUS}); measured on the generated one.", *notes], failures
    corpus = {"real": REAL, "real-distinct": REAL_DISTINCT}.get(corpus_label, GENERATED)
    try:
        cluster = local_postgres.start()
    except local_postgres.PostgresUnavailable as exc:
        return [], [f"The DuckLake measurements were skipped: {exc}"], []
    rows: list[tuple] = []
    notes: list[str] = []
    failures: list[str] = []
    try:
        _measure(cluster, corpus, work / "ducklake", size_mb, rows, notes, failures)
    except BuildFailed as exc:
        failures.append(str(exc))
    except Exception as exc:  # the figures measured so far are still written, with what stopped them
        traceback.print_exc()
        failures.append(f"the DuckLake measurements stopped: {exc!r}")
    finally:
        cluster.stop()
        shutil.rmtree(work / "ducklake", ignore_errors=True)
    return rows, notes, failures


def _measure(cluster, corpus, work: Path, size_mb: float, rows: list, notes: list, failures: list) -> None:
    label = corpus.label
    folder = work / "corpus"
    print(f"ducklake: making a {size_mb:g} MB {label} corpus ...", flush=True)
    total_mb = corpus.make(folder, size_mb)
    at = f"{label} {total_mb:.0f} MB"

    # 1. full build, then the incremental refresh, on the single file and on the lake
    file_config = corpus.config(work / "file", folder)
    lake_data = work / "lake" / "data"
    lake_catalog = cluster.create_database("bench_full")
    lake_config_path = as_lake(corpus.config(work / "lake", folder), lake_catalog, lake_data)
    since = time.time()
    print(f"ducklake: full build over {total_mb:.0f} MB, single file ...", flush=True)
    file_s, file_kib, _ = build(file_config)
    file_full = run_facts(file_config, since)
    since = time.time()
    print(f"ducklake: full build over {total_mb:.0f} MB, DuckLake ...", flush=True)
    lake_s, lake_kib, lake_out = build(lake_config_path)
    lake_full = run_facts(lake_config_path, since)
    files_after_full = parquet_files(lake_data)
    rows += [(f"{at}: full build, wall", f"ducklake {lake_s:.1f} s", f"single file {file_s:.1f} s",
              fmt_ratio(lake_s, file_s), TARGET),
             (f"{at}: full build, peak memory", f"ducklake {(lake_kib or 0) / 1024:.0f} MiB",
              f"single file {(file_kib or 0) / 1024:.0f} MiB", fmt_ratio(lake_kib, file_kib), TARGET)]
    maintenance = lake_full["maintenance"]
    notes.append(f"DuckLake full build: warehouse_maintenance (CHECKPOINT) {maintenance.get('seconds', '?')} s, data files "
                 f"{maintenance.get('data_files_before', '?')} before, {maintenance.get('data_files_after', '?')} after; "
                 f"{files_after_full} Parquet files on disk after the build (files of expired snapshots stay a day); "
                 f"conflicts tried again: {retries_in(lake_out)}.")
    notes.append(f"DuckLake full build, step timings: {step_comparison(file_full, lake_full)}.")

    print("ducklake: report daily --json ...", flush=True)
    file_report, lake_report = (_median_report(file_config), _median_report(lake_config_path))
    rows.append((f"{at}: report daily --json, median of 5", f"ducklake {lake_report * 1000:.0f} ms",
                 f"single file {file_report * 1000:.0f} ms", fmt_ratio(lake_report, file_report), TARGET))

    print("ducklake: connection probe ...", flush=True)
    file_probe, lake_probe = probe(file_config), probe(lake_config_path)
    new_file = probe(write_config(work / "probe-file", claude=[], codex=[]))
    new_lake = probe(lake_config(work / "probe-lake", cluster.create_database("bench_probe"), work / "probe-lake" / "data", {}))
    rows += [("first writable connection to a new warehouse (create, every migration)",
              f"ducklake {new_lake['open']:.1f} s", f"single file {new_file['open']:.1f} s",
              fmt_ratio(new_lake["open"], new_file["open"]), "(reference)"),
             (f"{at}: open a writable connection (process: extensions, attach, migration check)",
              f"ducklake {lake_probe['open'] * 1000:.0f} ms", f"single file {file_probe['open'] * 1000:.0f} ms",
              fmt_ratio(lake_probe["open"], file_probe["open"]), "(reference)"),
             (f"{at}: a small read (raw manifest count), median of 20", f"ducklake {lake_probe['query'] * 1000:.1f} ms",
              f"single file {file_probe['query'] * 1000:.1f} ms", fmt_ratio(lake_probe["query"], file_probe["query"]),
              "(reference)"),
             (f"{at}: a commit of 1,000 rows, median of 20", f"ducklake {lake_probe['commit'] * 1000:.1f} ms",
              f"single file {file_probe['commit'] * 1000:.1f} ms", fmt_ratio(lake_probe["commit"], file_probe["commit"]),
              "(reference)")]

    print("ducklake: incremental refresh ...", flush=True)
    new_size = corpus.add_session(folder, 800_000)
    since = time.time()
    file_inc, _, _ = build(file_config)
    file_inc_facts = run_facts(file_config, since)
    since = time.time()
    lake_inc, _, lake_inc_out = build(lake_config_path)
    lake_inc_facts = run_facts(lake_config_path, since)
    empty = work / "empty-corpus"
    corpus.add_session(empty, 800_000)
    file_empty, _, _ = build(corpus.config(work / "file-empty", empty))
    lake_empty, _, _ = build(as_lake(corpus.config(work / "lake-empty", empty), cluster.create_database("bench_empty"),
                                     work / "lake-empty" / "data"))
    rows += [(f"{at}: incremental, +{new_size / 2**20:.1f} MB session, all layers", f"ducklake {lake_inc:.1f} s",
              f"single file {file_inc:.1f} s", fmt_ratio(lake_inc, file_inc), TARGET),
             (f"{at}: the same refresh into an empty warehouse", f"ducklake {lake_empty:.1f} s",
              f"single file {file_empty:.1f} s", fmt_ratio(lake_empty, file_empty), TARGET),
             (f"{at}: incremental / empty, ducklake", fmt_ratio(lake_inc, lake_empty), f"single file "
              f"{fmt_ratio(file_inc, file_empty)}", "", "< 2x empty (issue 18)")]
    maintenance = lake_inc_facts["maintenance"]
    notes.append(f"DuckLake incremental: warehouse_maintenance {maintenance.get('seconds', '?')} s, data files "
                 f"{maintenance.get('data_files_before', '?')} before, {maintenance.get('data_files_after', '?')} after; "
                 f"{parquet_files(lake_data)} Parquet files on disk; conflicts tried again: {retries_in(lake_inc_out)}. "
                 f"Step timings: {step_comparison(file_inc_facts, lake_inc_facts)}.")
    _member_and_writer(corpus, work, folder, lake_config_path, lake_catalog, lake_data, at, rows, notes)
    for used in (work / "file", work / "lake", work / "probe-file", work / "probe-lake", empty, work / "file-empty",
                 work / "lake-empty", work / "member", work / "member-corpus", work / "file-team"):
        shutil.rmtree(used, ignore_errors=True)
    _small_team_first_build(cluster, work, rows, notes)

    # 2. three writers at once against one writer of the union
    roots = corpus_roots(label, folder)
    sizes = {f"{name}/{path.relative_to(root).as_posix()}": path.stat().st_size
             for name, root in roots.items() if root.is_dir() for path in sorted(root.rglob("*.jsonl"))}
    parts = split_files(sizes)
    part_dirs = [work / f"part{i + 1}" for i in range(WRITERS)]
    part_bytes = [link_tree(files, roots, part_dir) for files, part_dir in zip(parts, part_dirs)]
    total_bytes = sum(part_bytes)
    part_roots = [{name: [part_dir / name] for name in roots} for part_dir in part_dirs]
    union_roots = {name: [part_dir / name for part_dir in part_dirs] for name in roots}

    single = lake_config(work / "one-writer", cluster.create_database("bench_one_writer"), work / "one-writer-data",
                         union_roots)
    print(f"ducklake: one build --raw-only over {total_bytes / 2**20:.0f} MB ...", flush=True)
    since = time.time()
    one_s, one_kib, one_out = build(single, "--raw-only")
    one_facts = run_facts(single, since)
    team_catalog = cluster.create_database("bench_three_writers")
    writers = [lake_config(work / f"writer{i + 1}", team_catalog, work / "three-writers-data", part_roots[i])
               for i in range(WRITERS)]
    for i, config in enumerate(writers):  # three machines, each with its own id, as a team's are
        config.write_text(config.read_text() + f"machine:\n  id: bench-writer-{i + 1}\n")
    print(f"ducklake: {WRITERS} build --raw-only at once ({', '.join(f'{b / 2**20:.0f}' for b in part_bytes)} MB) ...",
          flush=True)
    since = time.time()
    three_s, results = concurrent_builds(writers, "--raw-only")
    writer_facts = [run_facts(config, since) for config in writers]
    for i, (code, _, _, output) in enumerate(results):
        if code != 0:
            failures.append(f"writer {i + 1} of {WRITERS} failed (exit {code}): {output[-3000:]}")
    retried = [retries_in(output) for _, _, _, output in results]
    mb = total_bytes / 2**20
    rows += [(f"{at}: {WRITERS} writers at once, build --raw-only, wall", f"{three_s:.1f} s ({mb / three_s:.1f} MB/s)",
              f"one writer of the union {one_s:.1f} s ({mb / one_s:.1f} MB/s)", fmt_ratio(three_s, one_s),
              "every machine's lines land"),
             (f"{at}: {WRITERS} writers at once, peak memory per writer",
              " / ".join(f"{(kib or 0) / 1024:.0f}" for _, _, kib, _ in results) + " MiB",
              f"one writer {(one_kib or 0) / 1024:.0f} MiB", "", "(reference)")]
    one_summary, three_summary = raw_layer_summary(single), raw_layer_summary(writers[0])
    equal = one_summary == three_summary
    notes.append(f"DuckLake, {WRITERS} writers: parts of {', '.join(f'{len(p):,} files / {b / 2**20:.1f} MB' for p, b in zip(parts, part_bytes))} "
                 f"(whole sessions); each writer's own wall {', '.join(f'{r[1]:.1f} s' for r in results)}; conflicts "
                 f"tried again per writer {retried} (one writer alone: {retries_in(one_out)}); "
                 f"{parquet_files(work / 'three-writers-data')} Parquet files on disk against "
                 f"{parquet_files(work / 'one-writer-data')} for one writer.")
    capture = [step for step in one_facts["steps"] if step.endswith("raw_claude_code")]
    if capture:
        step = capture[0]
        steps = ", ".join(f"{facts['steps'].get(step, 0.0):.1f} s" for facts in writer_facts)
        runs = ", ".join(f"{sum(facts['runs'].values()):.1f} s" for facts in writer_facts)
        notes.append(f"DuckLake, {WRITERS} writers: the capture step ({step}) took {steps} in the writers, "
                     f"{one_facts['steps'][step]:.1f} s for one writer; their runs (in-process, without the process "
                     f"start) {runs} against {sum(one_facts['runs'].values()):.1f} s.")
    if equal:
        notes.append(f"DuckLake, {WRITERS} writers: raw layer equal to one writer's, per source and manifest: "
                     f"{describe_summary(three_summary)}.")
    else:
        failures.append(f"DuckLake, {WRITERS} writers: raw layer DIFFERS from one writer's: three {three_summary} "
                        f"against one {one_summary}.")
    print(f"ducklake: raw layers of {WRITERS} writers and of one writer equal: {equal}", flush=True)


MEMBER_SESSION_BYTES = 800_000
"""The member's new session (issue 34, item 1): the size section 1's incremental refresh adds."""
MEMBER_ROUNDS = 3
"""New sessions on the member, one at a time, each captured and rebuilt: the figures are their medians."""


def _median(config: Path, *args: str, runs: int = 3) -> float:
    return statistics.median(build(config, *args)[0] for _ in range(runs))


def _member_and_writer(corpus, work: Path, folder: Path, writer: Path, catalog: str, lake_data: Path, at: str,
                       rows: list, notes: list) -> None:
    """Issue 34, items 1 and 2, on the lake section 1 built (its writer): a member machine (machine.role:
    raw-only, sessions of its own) captures into it; the writer rebuilds after the member's new session. The
    single file beside it reads the corpus and the member's folder both, and refreshes with the same change.
    MEMBER_ROUNDS new sessions, one after another: medians."""
    member_folder = work / "member-corpus"
    member_root = corpus.agent_roots(member_folder)[0]
    corpus_claude, corpus_codex = corpus.agent_roots(folder)
    member = lake_config(work / "member", catalog, lake_data, {"claude": [member_root]})
    member.write_text(member.read_text() + "machine:\n  id: bench-member\n  role: raw-only\n")
    single = write_config(work / "file-team", claude=[corpus_claude, member_root],
                          codex=[corpus_codex] if corpus_codex else [])
    corpus.add_session(member_folder, 50_000)  # the member's history so far: one small session
    print("ducklake: a member machine (raw-only) and the writer, beside a single file of both ...", flush=True)
    build(single)
    build(member)
    build(writer)
    member_noop = _median(member)
    single_noop = _median(single)
    rows.append((f"{at}: member's build --raw-only finding nothing new, median of 3", f"ducklake {member_noop:.2f} s",
                 f"single file's build finding nothing new {single_noop:.2f} s", fmt_ratio(member_noop, single_noop),
                 "< 2 s (issue 34)"))
    # MEMBER_ROUNDS rounds of one new session each (a build's wall varies by a few tenths of a second from one
    # run to the next): the single file refreshes, the member captures, the writer rebuilds; medians of each
    singles, members, writers, peaks = [], [], [], []
    for _ in range(MEMBER_ROUNDS):
        new_size = corpus.add_session(member_folder, MEMBER_SESSION_BYTES)
        singles.append(build(single)[0])
        member_s, member_kib, _ = build(member)
        members.append(member_s)
        peaks.append(member_kib or 0)
        since = time.time()
        writer_s, _, writer_out = build(writer)
        writers.append(writer_s)
    writer_facts = run_facts(writer, since)
    single_s, member_s, writer_s = (statistics.median(v) for v in (singles, members, writers))
    what = f"+ one {new_size / 2**20:.1f} MB session on the member, median of {MEMBER_ROUNDS}"
    rows += [(f"{at}: {what}: the member's build --raw-only", f"ducklake {member_s:.1f} s",
              f"single file's refresh {single_s:.1f} s", fmt_ratio(member_s, single_s), "< 3 s at 1 GB (issue 34)"),
             (f"{at}: {what}: then the writer's build", f"ducklake {writer_s:.1f} s",
              f"single file's refresh {single_s:.1f} s", fmt_ratio(writer_s, single_s), "<= 1.5x (issue 34)")]
    notes.append(f"DuckLake, member and writer, {MEMBER_ROUNDS} rounds of one new session: the member's captures "
                 f"{', '.join(f'{v:.1f}' for v in members)} s, the writer's rebuilds {', '.join(f'{v:.1f}' for v in writers)} s, "
                 f"the single file's refreshes {', '.join(f'{v:.1f}' for v in singles)} s; the member's capture peak memory "
                 f"{max(peaks) / 1024:.0f} MiB; the writer's last rebuild {writer_out.count(' took ')} steps, slowest: "
                 f"{', '.join(f'{k} {v:.1f} s' for k, v in sorted(writer_facts['steps'].items(), key=lambda kv: -kv[1])[:5])}.")


def _small_team_first_build(cluster, work: Path, rows: list, notes: list) -> None:
    """Issue 34, item 2: ../shared/corpus's Claude Code history (about 12 MB) split between two machines, whole
    sessions each, building at once into a fresh lake as the team guide sets them up: the writer (`build`) and a
    member (`build --raw-only`); the writer builds once more when the member's lines landed after its ingest.
    Until the lake holds both machines' history built, against one single file's build of the union."""
    source = CORPUS / "claude" / "projects"
    if not source.is_dir():
        notes.append(f"DuckLake, a small team's first build: skipped ({source} is absent).")
        return
    sizes = {f"claude/{p.relative_to(source).as_posix()}": p.stat().st_size for p in sorted(source.rglob("*.jsonl"))}
    halves = split_files(sizes, 2)
    dirs = [work / "team-a", work / "team-b"]
    mb = sum(link_tree(files, {"claude": source}, d) for files, d in zip(halves, dirs)) / 2**20
    single = write_config(work / "team-file", claude=[d / "claude" for d in dirs], codex=[])
    print(f"ducklake: a small team's first build ({mb:.0f} MB on two machines) ...", flush=True)
    single_s, _, _ = build(single)
    catalog, data = cluster.create_database("bench_small_team"), work / "small-team-data"
    writer = lake_config(work / "team-writer", catalog, data, {"claude": [dirs[0] / "claude"]})
    member = lake_config(work / "team-member", catalog, data, {"claude": [dirs[1] / "claude"]})
    member.write_text(member.read_text() + "machine:\n  id: bench-team-member\n  role: raw-only\n")
    started = time.perf_counter()
    procs = [subprocess.Popen([str(BIN / "star-pipeline"), "build"], env=build_env(config), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for config in (writer, member)]
    outputs = [proc.communicate()[0].decode(errors="replace") for proc in procs]
    for proc, output, name in zip(procs, outputs, ("writer", "member")):
        if proc.returncode != 0:
            raise BuildFailed(f"the small team's {name} failed (exit {proc.returncode}):\n{output[-3000:]}")
    at_once = time.perf_counter() - started
    again, _, again_out = build(writer)  # the member's lines, when they landed after the writer's ingest
    total = at_once + again
    rows.append((f"a small team's first build ({mb:.0f} MB, two machines at once, then the writer's follow-up)",
                 f"ducklake {total:.1f} s", f"single file of the union {single_s:.1f} s", fmt_ratio(total, single_s),
                 "<= 2x (issue 34)"))
    notes.append(f"DuckLake, a small team's first build: both machines at once {at_once:.1f} s, the writer's follow-up "
                 f"{again:.1f} s ({'nothing new' if 'nothing new' in again_out else 'it rebuilt'}).")
    for used in (*dirs, work / "team-file", work / "team-writer", work / "team-member", data):
        shutil.rmtree(used, ignore_errors=True)


def _median_report(config: Path) -> float:
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(config)}
    env.pop("DAGSTER_HOME", None)
    runs = []
    for _ in range(5):
        elapsed, _, proc = timed([str(BIN / "star-pipeline"), "report", "daily", "--json"], env=env)
        if proc.returncode != 0:
            raise BuildFailed(f"report daily failed over {config}: {proc.stderr.decode(errors='replace')[-2000:]}")
        runs.append(elapsed)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=100)
    parser.add_argument("--corpus", choices=("real-distinct", "real", "generated"), default="real-distinct",
                        help="real-distinct (the default: every copy's texts new, as a real history's), real "
                        "(texts repeated between copies) or generated")
    parser.add_argument("--write", type=Path, help="append the results to this markdown file")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="star-pipeline-bench-"))
    try:
        rows, notes, failures = lake_rows(work, args.size_mb, args.corpus)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    publish(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, DuckLake beside the single file, corpus of "
            f"{args.size_mb:g} MB ({machine_summary()})",
            ["measurement", "ducklake", "single file (same run)", "ratio", "target"], rows,
            notes + [f"FAILED: {failure}" for failure in failures], args.write)
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
