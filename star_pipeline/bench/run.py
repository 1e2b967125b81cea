"""`make bench`: measure star_pipeline against baselines measured in the same run, and print ratios.

    python -m star_pipeline.bench.run [--size-mb 100] [--scaling] [--write BENCHMARKS.md]

1. Full build of every layer from an empty warehouse (wall time, peak memory) vs
   ccusage 20.0.24 `claude daily --json --offline` (when npx works) and vs one
   DuckDB read_json query computing the deduplicated daily totals.
2. Report latency: `star-pipeline report daily --json` (whole process) vs ccusage.
3. Incremental: one new ~3 MB session into the built warehouse, refresh every layer,
   vs the same refresh into an empty warehouse.
4. Scaling (--scaling): full build at 4x the size (the time ratio should stay near 4), and the
   report on that warehouse against the report at 1x (nearly flat) and against ccusage at 4x.
5. Hook latency: median of 200 `star-pipeline hook` runs vs `python -c pass`.
6. Search (star_pipeline/bench/search.py; --no-search skips it): recall@10 of the labelled queries in
   search_queries.yaml per mode over ../shared/corpus; `star-pipeline search` latency per mode (whole
   process) over that corpus amplified to about --size-mb (and 4x with --scaling) vs `grep -rFil`; the
   build after one new session vs a build finding nothing new, and its search assets' share.
Nothing here asserts: it prints figures, ratios and the targets beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from star_pipeline.bench.generate import claude_session, generate
from star_pipeline.bench.measure import BIN, build, fmt_ratio, machine_summary, publish, timed, write_config

CCUSAGE = ["npx", "-y", "ccusage@20.0.24"]


def ccusage_available() -> bool:
    if not shutil.which("npx"):
        return False
    try:
        return subprocess.run([*CCUSAGE, "--version"], capture_output=True, timeout=300).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def ccusage_daily(corpus: Path) -> tuple[float, int | None, int | None]:
    """Wall time, peak memory and the total tokens ccusage reports (to prove it read the same data)."""
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(corpus / "claude")}
    elapsed, peak, proc = timed([*CCUSAGE, "claude", "daily", "--json", "--offline", "--timezone", "UTC"], env=env)
    try:
        total = json.loads(proc.stdout)["totals"]["totalTokens"]
    except (ValueError, KeyError):
        total = None
    return elapsed, peak, total


def our_claude_total(config: Path) -> int | None:
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(config)}
    proc = subprocess.run([str(BIN / "star-pipeline"), "report", "daily", "--json", "--source", "claude_code"],
                          capture_output=True, env=env)
    return json.loads(proc.stdout)["totals"]["totalTokens"] if proc.returncode == 0 else None


DUCKDB_BASELINE = """
import duckdb, sys
root = sys.argv[1]
duckdb.connect().execute('''
SELECT CAST(ts AS DATE), model, sum(i), sum(o), sum(cc), sum(cr) FROM (
  SELECT CAST(timestamp AS TIMESTAMP) AS ts, message.model AS model, message.usage.input_tokens AS i,
         message.usage.output_tokens AS o, message.usage.cache_creation_input_tokens AS cc,
         message.usage.cache_read_input_tokens AS cr
  FROM read_json(?, format='newline_delimited', ignore_errors=true, union_by_name=true,
                 columns={timestamp: 'VARCHAR', type: 'VARCHAR', requestId: 'VARCHAR',
                          message: 'STRUCT(id VARCHAR, model VARCHAR, usage STRUCT(input_tokens BIGINT, output_tokens BIGINT, cache_creation_input_tokens BIGINT, cache_read_input_tokens BIGINT))'})
  WHERE type = 'assistant'
  QUALIFY row_number() OVER (PARTITION BY message.id, requestId
      ORDER BY message.usage.input_tokens + message.usage.output_tokens + message.usage.cache_creation_input_tokens + message.usage.cache_read_input_tokens DESC) = 1
) GROUP BY ALL''', [root + '/**/*.jsonl']).fetchall()
"""


def duckdb_baseline(corpus: Path) -> tuple[float, int | None]:
    elapsed, peak, proc = timed([sys.executable, "-c", DUCKDB_BASELINE, str(corpus / "claude" / "projects")])
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.decode()[-2000:])
    return elapsed, peak


def report_latency(config: Path) -> float:
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(config)}
    runs = []
    for _ in range(5):
        elapsed, _, proc = timed([str(BIN / "star-pipeline"), "report", "daily", "--json"], env=env)
        runs.append(elapsed)
    return statistics.median(runs)


def hook_latency(runs: int = 200) -> tuple[float, float]:
    spool = Path(tempfile.mkdtemp(prefix="bench-spool-"))
    payload = json.dumps({"session_id": "s", "hook_event_name": "PostToolUse", "tool_name": "Bash"}).encode()
    hook, bare = [], []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(BIN / "star-pipeline"), "hook", "--spool-dir", str(spool)], input=payload, check=True)
        hook.append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - started)
    shutil.rmtree(spool)
    return statistics.median(hook), statistics.median(bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=100)
    parser.add_argument("--scaling", action="store_true", help="also build at 4x the size")
    parser.add_argument("--no-ccusage", action="store_true")
    parser.add_argument("--no-search", action="store_true", help="skip the search measurements")
    parser.add_argument("--write", type=Path, help="append the results to this markdown file")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="star-pipeline-bench-"))
    rows: list[tuple[str, str, str, str, str]] = []
    search_notes: list[str] = []
    try:
        corpus = work / "corpus"
        print(f"generating {args.size_mb:g} MB corpus ...", flush=True)
        written = generate(corpus, args.size_mb)
        total_mb = sum(written.values()) / 2**20
        use_ccusage = not args.no_ccusage and ccusage_available()

        config = write_config(work / "main", corpus)
        print("full build ...", flush=True)
        build_s, build_kib = build(config)
        duck_s, duck_kib = duckdb_baseline(corpus)
        cc_s, cc_kib, cc_total = ccusage_daily(corpus) if use_ccusage else (None, None, None)
        ours_total = our_claude_total(config)
        print(f"Claude Code total tokens: star_pipeline {ours_total}, ccusage {cc_total}", flush=True)
        rows.append(("full build, wall", f"{build_s:.1f} s", f"ccusage {cc_s:.1f} s" if cc_s else "ccusage n/a",
                     fmt_ratio(build_s, cc_s), "<= 4x ccusage at 1 GB"))
        rows.append(("full build, wall", f"{build_s:.1f} s", f"DuckDB read_json {duck_s:.1f} s", fmt_ratio(build_s, duck_s), "(reference)"))
        rows.append(("full build, peak memory", f"{(build_kib or 0) / 1024:.0f} MiB",
                     f"ccusage {(cc_kib or 0) / 1024:.0f} MiB" if cc_kib else "ccusage n/a", fmt_ratio(build_kib, cc_kib), "< 1 GiB at 1 GB"))

        print("report latency ...", flush=True)
        report_s = report_latency(config)
        rows.append(("report daily --json", f"{report_s * 1000:.0f} ms", f"ccusage daily {cc_s:.2f} s" if cc_s else "ccusage n/a",
                     fmt_ratio(report_s, cc_s), "< 1/5 of ccusage at 1 GB"))

        print("incremental refresh ...", flush=True)
        start = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
        import random

        new_size = claude_session(random.Random(99), corpus, "-home-dev-newproj", start, 700)
        incremental_s, _ = build(config)
        empty_corpus = work / "empty-corpus"
        claude_session(random.Random(99), empty_corpus, "-home-dev-newproj", start, 700)
        empty_s, _ = build(write_config(work / "empty", empty_corpus))
        rows.append((f"incremental: +{new_size / 2**20:.1f} MB session, all layers", f"{incremental_s:.1f} s",
                     f"same refresh on empty warehouse {empty_s:.1f} s", fmt_ratio(incremental_s, empty_s), "< 2x empty"))

        if args.scaling:
            print("scaling build at 4x ...", flush=True)
            big = work / "corpus4"
            generate(big, args.size_mb * 4)
            big_config = write_config(work / "big", big)
            big_s, big_kib = build(big_config)
            rows.append((f"full build at {args.size_mb * 4:g} MB", f"{big_s:.1f} s", f"at {args.size_mb:g} MB {build_s:.1f} s",
                         fmt_ratio(big_s, build_s), "near 4x"))
            rows.append((f"full build at {args.size_mb * 4:g} MB, peak memory", f"{(big_kib or 0) / 1024:.0f} MiB",
                         f"at {args.size_mb:g} MB {(build_kib or 0) / 1024:.0f} MiB", fmt_ratio(big_kib, build_kib), "(reference)"))
            big_report_s = report_latency(big_config)
            big_cc_s = ccusage_daily(big)[0] if use_ccusage else None
            rows.append((f"report daily --json at {args.size_mb * 4:g} MB", f"{big_report_s * 1000:.0f} ms",
                         f"at {args.size_mb:g} MB {report_s * 1000:.0f} ms", fmt_ratio(big_report_s, report_s),
                         "within 1.2x of the 1 GB report"))
            rows.append((f"report daily --json at {args.size_mb * 4:g} MB", f"{big_report_s * 1000:.0f} ms",
                         f"ccusage daily {big_cc_s:.2f} s" if big_cc_s else "ccusage n/a", fmt_ratio(big_report_s, big_cc_s),
                         "(reference)"))
            shutil.rmtree(big, ignore_errors=True)

        print("hook latency ...", flush=True)
        hook_s, bare_s = hook_latency()
        rows.append(("hook, median of 200", f"{hook_s * 1000:.1f} ms", f"python -c pass {bare_s * 1000:.1f} ms",
                     fmt_ratio(hook_s, bare_s), "< 30 ms"))

        if not args.no_search:
            from star_pipeline.bench.search import bench_rows

            for used in ("corpus", "main", "empty", "empty-corpus"):  # search amplifies real transcripts instead
                shutil.rmtree(work / used, ignore_errors=True)
            search_rows, search_notes = bench_rows(work, args.size_mb, args.scaling)
            rows += search_rows
    finally:
        shutil.rmtree(work, ignore_errors=True)

    publish(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, corpus {total_mb:.0f} MB ({machine_summary()})",
            ["measurement", "star_pipeline", "baseline (same run)", "ratio", "target"], rows,
            [f"Claude Code total tokens over the corpus: star_pipeline {ours_total:,}, ccusage "
             f"{cc_total if cc_total is None else format(cc_total, ',')} (the baselines read the same data).",
             *search_notes], args.write)


if __name__ == "__main__":
    main()
