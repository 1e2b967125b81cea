"""`make bench`: measure star_pipeline against baselines measured in the same run, and print ratios.

    python -m star_pipeline.bench.run [--size-mb 1024] [--scaling] [--no-real] [--no-repeated] [--no-generated]
                                      [--no-agentsview] [--no-ccusage] [--no-fixed-cost] [--no-hook]
                                      [--no-search] [--no-freshness] [--no-ducklake] [--write BENCHMARKS.md]

Three corpora of about the same size, each measured the same way (`corpus_rows`): when ../shared/corpus is
present, its real Claude Code transcripts amplified by ../shared/tools/amplify.py (copies under new ids) with
`--distinct` (real-distinct: every copy's texts new, as in a real history; the one issue 29's targets count on)
and without it (real: copies repeat their texts, kept beside it), then the generated one (bench/generate.py).
The baselines run over the same files in the same run: agentsview 0.46.1 (installed into a venv of the bench's own
under ~/.cache/star_pipeline/bench, never into the project; `AGENTSVIEW_NO_DAEMON=1 agentsview sync` into a store
of its own; skipped with a note when it cannot be installed), ccusage 20.0.24 through npx (when npx works) and one
DuckDB read_json query computing the deduplicated daily totals. Per corpus:
1. Full build of every layer from an empty warehouse (wall time, peak memory) vs agentsview's first sync
   (target: at most its time at 1 GB, stretch half; peak memory at most 1 GiB), ccusage `claude daily` and DuckDB.
2. A build that finds nothing new vs agentsview's sync finding nothing new (target: under 1.5 s).
3. Report latency: `star-pipeline report daily --json` (whole process) vs ccusage and vs
   `agentsview usage daily --no-sync` (it reads its store, as ours reads the warehouse).
4. Statusline latency: `star-pipeline statusline` (median of 50 runs, the command install-hooks --statusline
   installs) for the corpus's largest session vs ccusage 20.0.24 `statusline --no-cache` (median of 5; without
   its cache it computes the line, as it must after every new message); beside it the guard's: `star-pipeline
   guard` (median of 50, the command install-hooks --guard installs) for the same payload, against the budgets
   bench/measure.py's configuration sets (the issue's three examples).
5. A new session: one of about 3.5 MB (a real transcript of that size under new ids; ../shared/corpus's largest
   is 3.0 MB, so its largest ones joined under one new session id and cut at a line end, measure.pick_transcripts)
   and then one of about 50 KB (its transcript of about that size) go into the built warehouse;
   `star-pipeline build` wall and peak memory (targets at 1 GB: 3 s and 500 MiB; 50 KB under 2 s) vs agentsview's
   sync of the same change, ccusage (which rescans everything) and the same session into an empty warehouse.
6. Growth (--scaling, on real-distinct, or the generated corpus without ../shared): full build at 4x the size
   (target: at most 4.2x the time), and the report on that warehouse against the report at 1x (nearly flat) and
   against ccusage at 4x.
7. Tokens: our Claude Code total beside ccusage's and agentsview's (ours must equal ccusage's).
Then the fixed cost: the full build of a 20 MB corpus (real-distinct; target under 4 s) beside agentsview's sync
(--no-fixed-cost skips it); hook latency (median of 200 `star-pipeline hook` runs vs `python -c pass`), freshness
under `make dev` (bench/freshness.py: seconds from a new session to `report session`, and the runs each change
makes; --no-freshness skips it), and search
(star_pipeline/bench/search.py; --no-search skips it): recall@10 of the labelled queries per mode over
../shared/corpus, `star-pipeline search` latency per mode over the amplified corpus vs `grep -rFil`, and
the cost of indexing one new session. Then the team warehouse (star_pipeline/bench/ducklake.py; --no-ducklake
skips it): the real corpus's full build and incremental refresh on a DuckLake with a PostgreSQL catalog beside
the single file, and three concurrent `build --raw-only` writers against one (their raw layers must be equal).
Nothing here asserts on time: it prints figures, ratios and the targets beside them.
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
import traceback
from datetime import datetime, timezone
from pathlib import Path

from star_pipeline.bench import agentsview
from star_pipeline.bench.agentsview import Agentsview
from star_pipeline.bench.corpora import GENERATED, REAL, REAL_DISTINCT, Corpus
from star_pipeline.bench.measure import AMPLIFY, BIN, CORPUS, build, fmt_ratio, machine_summary, publish, timed

CCUSAGE = ["npx", "-y", "ccusage@20.0.24"]


def ccusage_available() -> bool:
    if not shutil.which("npx"):
        return False
    try:
        return subprocess.run([*CCUSAGE, "--version"], capture_output=True, timeout=300).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def ccusage_daily(claude_dir: Path) -> tuple[float, int | None, int | None]:
    """Wall time, peak memory and the total tokens ccusage reports over `claude_dir`/projects (to prove it read
    the same data)."""
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(claude_dir)}
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


def duckdb_baseline(claude_dir: Path) -> tuple[float, int | None]:
    elapsed, peak, proc = timed([sys.executable, "-c", DUCKDB_BASELINE, str(claude_dir / "projects")])
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.decode()[-2000:])
    return elapsed, peak


def report_latency(config: Path, timezone_name: str = "UTC") -> float:
    """Median of 5 `report daily --json` in a time zone (UTC reads the stored date key; another zone
    converts every call's time)."""
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(config)}
    runs = []
    for _ in range(5):
        elapsed, _, proc = timed([str(BIN / "star-pipeline"), "report", "daily", "--json", "-z", timezone_name], env=env)
        runs.append(elapsed)
    return statistics.median(runs)


def largest_session_payload(claude_dir: Path) -> bytes:
    """Claude Code's hook payload (as the statusline and the guard get it) for the largest main transcript under
    `claude_dir`/projects."""
    projects = claude_dir / "projects"
    # amplified copies nest the projects one folder deeper than Claude Code does: any main transcript under it
    mains = [path for path in projects.rglob("*.jsonl") if "subagents" not in path.parts]
    transcript = max(mains, key=lambda path: (path.stat().st_size, path))
    return json.dumps({"hook_event_name": "Status", "session_id": transcript.stem, "transcript_path": str(transcript),
                       "cwd": "/home/dev", "model": {"id": "claude-opus-4-6", "display_name": "Opus"},
                       "workspace": {"current_dir": "/home/dev", "project_dir": "/home/dev"}}).encode()


def wall(cmd: list[str], payload: bytes, env: dict | None = None) -> tuple[float, str]:
    """Wall seconds of one whole process given `payload` on stdin, and what it printed (no /usr/bin/time: ms matter
    here)."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, input=payload, capture_output=True, env=env)
    return time.perf_counter() - started, proc.stdout.decode().strip()


def statusline_latency(config: Path, claude_dir: Path, use_ccusage: bool, runs: int = 50) -> tuple[float, float | None, str]:
    """Median wall seconds of `star-pipeline statusline` on the built warehouse for the largest main transcript
    under `claude_dir`/projects, of ccusage's statusline for the same payload (None without ccusage), and our line."""
    from star_pipeline.config import load_settings
    from star_pipeline.storage.statusline_file import statusline_file

    published = statusline_file(load_settings(config).published_anchor)
    payload = largest_session_payload(claude_dir)
    ours = [wall([str(BIN / "star-pipeline"), "statusline", "--file", str(published)], payload) for _ in range(runs)]
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(claude_dir)}
    theirs = [wall([*CCUSAGE, "statusline", "--no-cache", "--offline"], payload, env)[0]
              for _ in range(5 if use_ccusage else 0)]
    return (statistics.median(seconds for seconds, _ in ours), statistics.median(theirs) if theirs else None,
            ours[-1][1])


def guard_latency(config: Path, claude_dir: Path, runs: int = 50) -> float:
    """Median wall seconds of `star-pipeline guard` (a PreToolUse hook) on the built warehouse for the payload the
    statusline is timed with: the budgets file, the statusline file and the session's transcripts read."""
    from star_pipeline.config import load_settings
    from star_pipeline.storage.budgets_file import budgets_file

    published = budgets_file(load_settings(config).published_anchor)
    payload = largest_session_payload(claude_dir)
    return statistics.median(wall([str(BIN / "star-pipeline"), "guard", "--file", str(published)], payload)[0]
                             for _ in range(runs))


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


NEW_SESSION_BYTES = int(3.5 * 2**20)  # issue 29's new session (target 1)
SMALL_SESSION_BYTES = 50 * 2**10  # and its small one
FIXED_COST_MB = 20  # issue 29's fixed-cost corpus (target 4)


def seconds(name: str, value: float | None, digits: int = 1) -> str:
    return f"{name} {value:.{digits}f} s" if value is not None else f"{name} n/a"


def mib(name: str, kib: int | None) -> str:
    return f"{name} {kib / 1024:.0f} MiB" if kib else f"{name} n/a"


def session_size(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size / 2**10:.0f} KB"


def corpus_rows(corpus: Corpus, work: Path, size_mb: float, scaling: bool, use_ccusage: bool,
                agentsview_bin: Path | None) -> tuple[list, list]:
    """Rows (measurement, star_pipeline, baseline, ratio, target) and notes for one corpus; builds in `work`.
    agentsview (when `agentsview_bin`) syncs the same corpus, and the same changes, into a store of its own."""
    label = corpus.label
    folder = work / f"{label}-corpus"
    print(f"{label}: making a {size_mb:g} MB corpus ...", flush=True)
    total_mb = corpus.make(folder, size_mb)
    config = corpus.config(work / f"{label}-main", folder)
    peer = (Agentsview(agentsview_bin, work / f"{label}-agentsview", *corpus.agent_roots(folder))
            if agentsview_bin else None)
    print(f"{label}: full build over {total_mb:.0f} MB ...", flush=True)
    build_s, build_kib = build(config)
    print(f"{label}: agentsview sync, ccusage and DuckDB over the same files ...", flush=True)
    av_s, av_kib, av_synced = peer.sync() if peer else (None, None, None)
    duck_s, _ = duckdb_baseline(corpus.claude_dir(folder))
    cc_s, cc_kib, cc_total = ccusage_daily(corpus.claude_dir(folder)) if use_ccusage else (None, None, None)
    ours_total = our_claude_total(config)
    at = f"{label} {total_mb:.0f} MB"
    rows = [
        (f"{at}: full build from empty, wall", f"{build_s:.1f} s", seconds("agentsview sync", av_s),
         fmt_ratio(build_s, av_s), "<= agentsview at 1 GB (stretch 0.5x)"),
        (f"{at}: full build from empty, wall", f"{build_s:.1f} s", seconds("ccusage daily (no store)", cc_s),
         fmt_ratio(build_s, cc_s), "(reference)"),
        (f"{at}: full build from empty, wall", f"{build_s:.1f} s", seconds("DuckDB read_json", duck_s),
         fmt_ratio(build_s, duck_s), "(reference)"),
        (f"{at}: full build from empty, peak memory", f"{(build_kib or 0) / 1024:.0f} MiB",
         mib("agentsview sync", av_kib), fmt_ratio(build_kib, av_kib), "<= 1 GiB (1024 MiB) at 1 GB"),
        (f"{at}: full build from empty, peak memory", f"{(build_kib or 0) / 1024:.0f} MiB", mib("ccusage", cc_kib),
         fmt_ratio(build_kib, cc_kib), "(reference)"),
    ]
    print(f"{label}: a build finding nothing new ...", flush=True)
    noop_s, _ = build(config)
    av_noop_s = peer.sync()[0] if peer else None
    rows.append((f"{at}: build finding nothing new", f"{noop_s:.2f} s", seconds("agentsview sync", av_noop_s, 2),
                 fmt_ratio(noop_s, av_noop_s), "< 1.5 s"))
    print(f"{label}: report latency ...", flush=True)
    report_s = report_latency(config)
    av_daily_s, _, av_total = peer.daily() if peer else (None, None, None)
    rows.append((f"{at}: report daily --json", f"{report_s * 1000:.0f} ms", seconds("ccusage daily", cc_s, 2),
                 fmt_ratio(report_s, cc_s), "< 1/5 of ccusage at 1 GB"))
    rows.append((f"{at}: report daily --json", f"{report_s * 1000:.0f} ms",
                 seconds("agentsview usage daily --no-sync", av_daily_s, 2), fmt_ratio(report_s, av_daily_s),
                 "(reference)"))
    zoned_s = report_latency(config, "America/New_York")
    rows.append((f"{at}: report daily --json -z America/New_York", f"{zoned_s * 1000:.0f} ms", f"-z UTC {report_s * 1000:.0f} ms",
                 fmt_ratio(zoned_s, report_s), "fast in any zone"))
    print(f"{label}: statusline latency ...", flush=True)
    line_s, cc_line_s, line = statusline_latency(config, corpus.claude_dir(folder), use_ccusage)
    rows.append((f"{at}: statusline, median of 50", f"{line_s * 1000:.1f} ms",
                 f"ccusage statusline --no-cache {cc_line_s * 1000:.0f} ms" if cc_line_s else "ccusage n/a",
                 fmt_ratio(line_s, cc_line_s), "< 50 ms"))
    guard_s = guard_latency(config, corpus.claude_dir(folder))
    rows.append((f"{at}: guard (PreToolUse hook), median of 50", f"{guard_s * 1000:.1f} ms",
                 f"statusline {line_s * 1000:.1f} ms", fmt_ratio(guard_s, line_s), "< 150 ms"))
    notes = [f"{label} corpus, Claude Code total tokens: star_pipeline {ours_total:,}, ccusage "
             f"{cc_total if cc_total is None else format(cc_total, ',')}, agentsview "
             f"{av_total if av_total is None else format(av_total, ',')} (the baselines read the same data).",
             f"{label} corpus, our status line for its largest session: `{line}`"]
    synced = [f"{av_synced} sessions in the full import"]
    for size, wall_target, memory_target in ((NEW_SESSION_BYTES, "<= 3 s at 1 GB", "< 500 MiB at 1 GB"),
                                             (SMALL_SESSION_BYTES, "< 2 s at 1 GB", "(reference)")):
        print(f"{label}: one new {session_size(size)} session ...", flush=True)
        new_size = corpus.add_session(folder, size)
        incremental_s, incremental_kib = build(config)
        av_new_s, av_new_kib, av_new_synced = peer.sync() if peer else (None, None, None)
        synced.append(f"{av_new_synced} after the {session_size(new_size)} session")
        what = f"{at}: + one {session_size(new_size)} session, build"
        rows += [(f"{what} wall", f"{incremental_s:.1f} s", seconds("agentsview sync", av_new_s, 2),
                  fmt_ratio(incremental_s, av_new_s), wall_target),
                 (f"{what} peak memory", f"{(incremental_kib or 0) / 1024:.0f} MiB", mib("agentsview sync", av_new_kib),
                  fmt_ratio(incremental_kib, av_new_kib), memory_target)]
        if size == NEW_SESSION_BYTES:
            cc_new_s = ccusage_daily(corpus.claude_dir(folder))[0] if use_ccusage else None
            rows.append((f"{what} wall", f"{incremental_s:.1f} s", seconds("ccusage daily (rescans all)", cc_new_s),
                         fmt_ratio(incremental_s, cc_new_s), "(reference)"))
            empty = work / f"{label}-empty-corpus"
            corpus.add_session(empty, size)
            empty_s, _ = build(corpus.config(work / f"{label}-empty", empty))
            rows.append((f"{what} wall", f"{incremental_s:.1f} s",
                         seconds("same session into an empty warehouse", empty_s), fmt_ratio(incremental_s, empty_s),
                         "< 2x empty"))
    if peer:
        notes.append(f"{label} corpus, agentsview synced " + ", ".join(synced) + ".")
    for used in (folder, work / f"{label}-main", work / f"{label}-empty-corpus", work / f"{label}-empty",
                 work / f"{label}-agentsview"):
        shutil.rmtree(used, ignore_errors=True)

    if scaling:
        print(f"{label}: full build at 4x ...", flush=True)
        big = work / f"{label}-corpus4"
        big_mb = corpus.make(big, size_mb * 4)
        big_config = corpus.config(work / f"{label}-big", big)
        big_s, big_kib = build(big_config)
        rows.append((f"{label} {big_mb:.0f} MB: full build", f"{big_s:.1f} s", f"at {total_mb:.0f} MB {build_s:.1f} s",
                     fmt_ratio(big_s, build_s), "within 4.2x"))
        rows.append((f"{label} {big_mb:.0f} MB: full build, peak memory", f"{(big_kib or 0) / 1024:.0f} MiB",
                     f"at {total_mb:.0f} MB {(build_kib or 0) / 1024:.0f} MiB", fmt_ratio(big_kib, build_kib), "(reference)"))
        big_report_s = report_latency(big_config)
        big_cc_s = ccusage_daily(corpus.claude_dir(big))[0] if use_ccusage else None
        rows.append((f"{label} {big_mb:.0f} MB: report daily --json", f"{big_report_s * 1000:.0f} ms",
                     f"at {total_mb:.0f} MB {report_s * 1000:.0f} ms", fmt_ratio(big_report_s, report_s),
                     "within 1.2x of the 1 GB report"))
        rows.append((f"{label} {big_mb:.0f} MB: full build", f"{big_s:.1f} s",
                     f"ccusage daily {big_cc_s:.2f} s" if big_cc_s else "ccusage n/a", fmt_ratio(big_s, big_cc_s),
                     "(reference)"))
        for used in (big, work / f"{label}-big"):
            shutil.rmtree(used, ignore_errors=True)
    return rows, notes


def fixed_cost_rows(corpus: Corpus, work: Path, agentsview_bin: Path | None) -> list:
    """The full build of a 20 MB corpus (issue 29's fixed-cost figure: what every build pays whatever its size)
    beside agentsview's sync of the same files."""
    label = corpus.label
    folder = work / f"{label}-fixed-corpus"
    print(f"{label}: full build of a {FIXED_COST_MB} MB corpus (fixed cost) ...", flush=True)
    total_mb = corpus.make(folder, FIXED_COST_MB)
    build_s, _ = build(corpus.config(work / f"{label}-fixed", folder))
    av_s = None
    if agentsview_bin:
        av_s = Agentsview(agentsview_bin, work / f"{label}-fixed-agentsview", *corpus.agent_roots(folder)).sync()[0]
    for used in (folder, work / f"{label}-fixed", work / f"{label}-fixed-agentsview"):
        shutil.rmtree(used, ignore_errors=True)
    return [(f"{label} {total_mb:.0f} MB: full build from empty (fixed cost)", f"{build_s:.1f} s",
             seconds("agentsview sync", av_s, 2), fmt_ratio(build_s, av_s), "< 4 s")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=100)
    parser.add_argument("--scaling", action="store_true",
                        help="also build at 4x the size (the distinct real corpus, or the generated one without it)")
    parser.add_argument("--no-ccusage", action="store_true")
    parser.add_argument("--no-agentsview", action="store_true", help="skip the agentsview baseline")
    parser.add_argument("--no-generated", action="store_true", help="skip the generated corpus")
    parser.add_argument("--no-real", action="store_true", help="skip both amplified real corpora")
    parser.add_argument("--no-repeated", action="store_true",
                        help="skip the real corpus amplified with repeated texts (keep the distinct one)")
    parser.add_argument("--no-fixed-cost", action="store_true", help=f"skip the {FIXED_COST_MB} MB corpus build")
    parser.add_argument("--no-search", action="store_true", help="skip the search measurements")
    parser.add_argument("--no-hook", action="store_true", help="skip the hook latency")
    parser.add_argument("--no-freshness", action="store_true", help="skip freshness under make dev (bench/freshness.py)")
    parser.add_argument("--no-ducklake", action="store_true", help="skip the DuckLake measurements (bench/ducklake.py)")
    parser.add_argument("--write", type=Path, help="append the results to this markdown file")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="star-pipeline-bench-"))
    rows: list[tuple[str, str, str, str, str]] = []
    notes: list[str] = []
    try:
        use_ccusage = not args.no_ccusage and ccusage_available()
        if not use_ccusage:
            notes.append("The ccusage baseline was skipped: " + ("--no-ccusage." if args.no_ccusage else
                                                                 f"`{' '.join(CCUSAGE)} --version` did not run."))
        agentsview_bin, why = (None, "--no-agentsview") if args.no_agentsview else agentsview.install()
        if agentsview_bin is None:
            skipped = f"The agentsview {agentsview.VERSION} baseline was skipped: {why}."
            print(skipped, flush=True)
            notes.append(skipped)
        corpora = []
        if not args.no_real:
            if (CORPUS / "claude" / "projects").is_dir() and AMPLIFY.exists():
                corpora += [REAL_DISTINCT] + ([] if args.no_repeated else [REAL])
                notes.append("real-distinct: ../shared/corpus's Claude Code transcripts amplified with `amplify.py "
                             "--distinct` (every copy's texts new, as in a real history; issue 29's targets count on "
                             "it); real: amplified without it (copies repeat their texts, which flatters anything "
                             "computed per distinct text).")
            else:
                notes.append(f"The real corpus was skipped: {CORPUS / 'claude' / 'projects'} or {AMPLIFY} is absent.")
        corpora += [] if args.no_generated else [GENERATED]
        # the growth figure on the corpus that counts: the distinct real one, else the generated one
        scaled = next((wanted for wanted in (REAL_DISTINCT, GENERATED) if any(c is wanted for c in corpora)), None)
        for corpus in corpora:
            try:
                corpus_table, corpus_notes = corpus_rows(corpus, work, args.size_mb, args.scaling and corpus is scaled,
                                                         use_ccusage, agentsview_bin)
            except Exception as exc:  # the other measurements still run and are written
                traceback.print_exc()
                corpus_table, corpus_notes = [], [f"The {corpus.label} corpus's measurements stopped: {exc!r}."]
            rows += corpus_table
            notes += corpus_notes

        if not args.no_fixed_cost:
            fixed = REAL_DISTINCT if any(c is REAL_DISTINCT for c in corpora) else GENERATED
            try:
                rows += fixed_cost_rows(fixed, work, agentsview_bin)
            except Exception as exc:
                traceback.print_exc()
                notes.append(f"The {FIXED_COST_MB} MB build stopped: {exc!r}.")

        if not args.no_hook:
            print("hook latency ...", flush=True)
            hook_s, bare_s = hook_latency()
            rows.append(("hook, median of 200", f"{hook_s * 1000:.1f} ms", f"python -c pass {bare_s * 1000:.1f} ms",
                         fmt_ratio(hook_s, bare_s), "< 30 ms"))

        if not args.no_freshness:
            from star_pipeline.bench.freshness import measure as freshness

            print("freshness under make dev ...", flush=True)
            (work / "freshness").mkdir()
            fresh_rows, fresh_notes = freshness(work / "freshness", bursts=3, size_mb=20)
            rows += fresh_rows
            notes += fresh_notes

        if not args.no_search:
            from star_pipeline.bench.search import bench_rows

            search_rows, search_notes = bench_rows(work, args.size_mb, args.scaling)
            rows += search_rows
            notes += search_notes

        if not args.no_ducklake:
            from star_pipeline.bench.ducklake import lake_rows

            lake_table, lake_notes, lake_failures = lake_rows(work, args.size_mb, "generated" if args.no_real else "real-distinct")
            # its columns: measurement, on the lake, on the single file in the same run, ratio, target
            rows += lake_table
            notes += lake_notes + [f"FAILED (DuckLake): {failure}" for failure in lake_failures]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    publish(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, corpora of {args.size_mb:g} MB ({machine_summary()})",
            ["measurement", "star_pipeline", "baseline (same run)", "ratio", "target"], rows, notes, args.write)


if __name__ == "__main__":
    main()
