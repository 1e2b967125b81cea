"""Search measurements of `make bench` (issue 17): quality on real transcripts, latency and index cost at size.

    python -m star_pipeline.bench.search [--size-mb 100] [--scaling] [--runs 1] [--write BENCHMARKS.md]

1. Recall@10 per mode (lexical, semantic, hybrid) of the labelled queries in search_queries.yaml over a
   warehouse built from ../shared/corpus (claude/, codex/ and the eight agents of agents/home): a query
   is found when one of its sessions is among the first 10 hits. Hybrid should beat lexical alone.
2. Latency: median wall time of `star-pipeline search --json --mode M QUERY` as a whole process over
   the real-shaped corpus ../shared/tools/amplify.py makes from the Claude Code transcripts at about
   --size-mb, against `grep -rFil WORD` over the same files in the same run (WORD: the query's longest
   word). With --scaling, again at 4x the size: the medians should stay flat.
3. Index cost per new session: `star-pipeline build` after one real Codex session (copied under a new
   session id, so its texts are new) is added to the built warehouse, against a build that finds
   nothing new; and the time of the search assets (search_documents, search_embeddings,
   published_search_copy) in each, read from the step timings of runs recorded in a DAGSTER_HOME.
Skipped, with a note, when ../shared/corpus is absent. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from star_pipeline.bench.measure import (AMPLIFY, BIN, CORPUS, amplify, fmt_ratio, machine_summary, publish, renewed_copy,
                                         timed, write_config)

MODES = ("lexical", "semantic", "hybrid")
QUERIES = Path(__file__).with_name("search_queries.yaml")
REPO_ROOT = Path(__file__).resolve().parents[2]
SEARCH_STEPS = ("search_documents", "search_embeddings", "published_search_copy")
NEW_SESSION = "2025/11/01/rollout-2025-11-01T11-34-37-97b66f6c-a160-40e0-bd0f-1fdcbbb9498b.jsonl"  # 1.7 MB, 873 texts


def load_queries(path: Path = QUERIES) -> list[dict]:
    """The labelled queries: [{query, sessions, note}, ...]."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def real_corpus_config(folder: Path, corpus: Path = CORPUS) -> Path:
    """A configuration over the real corpus: its claude/ and codex/ folders and every agent of agents/home
    at its default place (as if HOME were agents/home)."""
    from star_pipeline.sources import SOURCES

    home = corpus / "agents" / "home"
    agents = {s.roots_key: [home / s.default_roots[0].removeprefix("~/")] for s in SOURCES
              if not s.single_root and s.roots_key not in ("claude_code_roots", "codex_roots")
              and s.default_roots and s.default_roots[0].startswith("~/")}
    return write_config(folder, claude=[corpus / "claude" / "projects"], codex=[corpus / "codex" / "sessions"], **agents)


def _env(config: Path, dagster_home: Path | None = None) -> dict:
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(config)}
    env.pop("DAGSTER_HOME", None)
    if dagster_home:
        env["DAGSTER_HOME"] = str(dagster_home)
    return env


BUILD_PROBLEMS: list[str] = []
"""What failed in the builds of this process whose search copy was published all the same (see build)."""


def build(config: Path, dagster_home: Path | None = None) -> float:
    """Wall seconds of `star-pipeline build` over `config`; with `dagster_home`, its runs are recorded there (as
    `make build` does), so that the time of each step can be read afterwards. A build that fails but still
    leaves a search copy (a blocking check of another layer failed) is measured all the same and what
    failed is kept in BUILD_PROBLEMS for the notes; one that leaves no search copy stops the benchmark."""
    from star_pipeline.config import load_settings
    from star_pipeline.storage.published_copies import search_copy_path

    if dagster_home and not (dagster_home / "dagster.yaml").exists():
        dagster_home.mkdir(parents=True, exist_ok=True)
        project_yaml = REPO_ROOT / "instance" / "dagster.yaml"  # the project's pools, like `make build`
        if project_yaml.exists():
            shutil.copy(project_yaml, dagster_home / "dagster.yaml")
    copy = search_copy_path(load_settings(config).published_anchor)
    elapsed, _, proc = timed([str(BIN / "star-pipeline"), "build"], env=_env(config, dagster_home))
    if proc.returncode != 0:
        output = proc.stdout.decode(errors="replace")
        failed = sorted({line.strip()[:160] for line in output.splitlines() if line.startswith("  check ") and "FAILED" in line})
        if not copy.exists():
            raise SystemExit(f"build failed:\n{output[-3000:]}\n{proc.stderr.decode()[-3000:]}")
        BUILD_PROBLEMS.append(f"{config.parent.name}: {'; '.join(failed) or 'exit code ' + str(proc.returncode)}")
    return elapsed


def search_step_seconds(dagster_home: Path, since: float) -> dict[str, float]:
    """Seconds each search asset's step took in the runs that started after `since` (epoch seconds)."""
    import logging

    from dagster import DagsterInstance

    logging.getLogger("alembic").setLevel(logging.WARNING)  # its storage migrations' INFO lines
    instance = DagsterInstance.from_config(str(dagster_home))
    try:
        seconds: dict[str, float] = {}
        for run in instance.get_runs():
            stats = instance.get_run_stats(run.run_id)
            if not stats.start_time or stats.start_time < since:
                continue
            for step in instance.get_run_step_stats(run.run_id):
                name = next((n for n in SEARCH_STEPS if step.step_key.endswith(n)), None)
                if name and step.start_time and step.end_time:
                    seconds[name] = seconds.get(name, 0.0) + step.end_time - step.start_time
        return seconds
    finally:
        instance.dispose()


def ranks(config: Path, queries: list[dict] | None = None) -> dict[str, list[int | None]]:
    """Per mode, per labelled query, the rank (1-based) of its first right session in the top 10, else None.
    Searches in-process over the search copy of `config`'s warehouse (one connection, the model loaded once)."""
    from star_pipeline.config import load_settings
    from star_pipeline.search.query import SearchOptions, open_search_copy, search

    queries = load_queries() if queries is None else queries
    conn = open_search_copy(load_settings(config).warehouse_path)
    try:
        result: dict[str, list[int | None]] = {}
        for mode in MODES:
            result[mode] = []
            for entry in queries:
                hits = search(conn, SearchOptions(entry["query"], limit=10, mode=mode))
                found = [n for n, hit in enumerate(hits, start=1) if hit["session_id"] in entry["sessions"]]
                result[mode].append(found[0] if found else None)
        return result
    finally:
        conn.close()


def recall_at_10(config: Path, queries: list[dict] | None = None) -> dict[str, tuple[int, int]]:
    """Per mode, (queries with a right session in the top 10, queries)."""
    return {mode: (sum(r is not None for r in found), len(found)) for mode, found in ranks(config, queries).items()}


def grep_word(query: str) -> str:
    """The word grep looks for in place of a query: its longest word."""
    return max(re.findall(r"\w+", query), key=len)


def transcript_folders(config: Path) -> list[Path]:
    from star_pipeline.config import load_settings

    roots = load_settings(config).roots
    return [p for name, paths in roots.items() if name != "hook_spool" for p in paths if p.exists()]


def search_latency(config: Path, queries: list[str], runs: int = 1) -> dict[str, float]:
    """Median wall seconds per mode of `star-pipeline search --json --mode M QUERY` as a whole process, and
    under "grep" of `grep -rFil WORD` over the same transcript folders (same runs, interleaved)."""
    env = _env(config)
    grep_env = {**os.environ, "LC_ALL": "C"}
    folders = [str(p) for p in transcript_folders(config)]
    times: dict[str, list[float]] = {mode: [] for mode in (*MODES, "grep")}
    for _ in range(runs):
        for query in queries:
            for mode in MODES:
                started = time.perf_counter()
                proc = subprocess.run([str(BIN / "star-pipeline"), "search", "--json", "--mode", mode, query],
                                      env=env, capture_output=True)
                times[mode].append(time.perf_counter() - started)
                if proc.returncode != 0:
                    raise SystemExit(f"search failed: {proc.stderr.decode()[-2000:]}")
            started = time.perf_counter()
            subprocess.run(["grep", "-rFil", "--", grep_word(query), *folders], env=grep_env, capture_output=True)
            times["grep"].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def add_new_session(codex_sessions: Path, corpus: Path = CORPUS) -> tuple[str, int]:
    """One real Codex session copied into `codex_sessions` under a new session id (`renewed_copy`), so that
    its texts are new to a warehouse of amplified Claude Code copies and are embedded and indexed for
    real. Its id and size."""
    source = corpus / "codex" / "sessions" / NEW_SESSION
    if not source.exists():
        source = max((corpus / "codex" / "sessions").rglob("*.jsonl"), key=lambda p: p.stat().st_size)
    target_dir = codex_sessions / source.relative_to(corpus / "codex" / "sessions").parent
    return renewed_copy(source, target_dir)


def _documents_of(config: Path, session_id: str) -> int:
    from star_pipeline.config import load_settings
    from star_pipeline.search.query import open_search_copy

    conn = open_search_copy(load_settings(config).warehouse_path)
    try:
        return conn.execute("SELECT count(*) FROM documents WHERE session_id = ?", [session_id]).fetchone()[0]
    finally:
        conn.close()


def index_cost_per_session(config: Path, corpus_root: Path, dagster_home: Path | None = None) -> dict:
    """On the built warehouse of `config` (whose Codex root is `corpus_root`/codex/sessions): the wall time of
    `star-pipeline build` (no DAGSTER_HOME, like run.py's builds) finding nothing new, then after one new
    session. The search steps' seconds come from two more builds whose runs are recorded in `dagster_home`
    (default: beside the config; it should hold the first build's runs): nothing new, then a second new
    session. Recording runs costs every build seconds of its own, so those builds' wall times are not used."""
    dagster_home = dagster_home or config.parent / "dagster_home"
    noop_s = build(config)
    session_id, size = add_new_session(corpus_root / "codex" / "sessions")
    new_s = build(config)
    documents = _documents_of(config, session_id)
    started = time.time()
    build(config, dagster_home)
    noop_steps = search_step_seconds(dagster_home, started)
    add_new_session(corpus_root / "codex" / "sessions")
    started = time.time()
    build(config, dagster_home)
    new_steps = search_step_seconds(dagster_home, started)
    return {"session_id": session_id, "bytes": size, "noop_s": noop_s, "new_s": new_s, "documents": documents,
            "noop_search_s": sum(noop_steps.values()) if noop_steps else None, "noop_steps": noop_steps,
            "new_search_s": sum(new_steps.values()) if new_steps else None, "new_steps": new_steps}


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


def _s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.1f} s"


def bench_rows(work: Path, size_mb: float = 100, scaling: bool = False, runs: int = 1,
               corpus: Path = CORPUS) -> tuple[list[tuple], list[str]]:
    """The search section of `make bench`: rows (measurement, star_pipeline, baseline, ratio, target) and notes.
    Builds in `work` (the caller removes it)."""
    rows: list[tuple] = []
    notes: list[str] = []
    if not (corpus / "claude" / "projects").is_dir() or not AMPLIFY.exists():
        print(f"search: {corpus} (or {AMPLIFY}) is absent; the search measurements are skipped", flush=True)
        return rows, [f"Search measurements skipped: {corpus} is absent."]
    queries = load_queries()
    BUILD_PROBLEMS.clear()

    print("search: recall@10 over the real corpus ...", flush=True)
    real_config = real_corpus_config(work / "search-real", corpus)
    build_s = build(real_config)
    found = ranks(real_config, queries)
    recall = {mode: sum(r is not None for r in found[mode]) for mode in MODES}
    total = len(queries)
    for mode in MODES:
        baseline = f"lexical {recall['lexical']}/{total}" if mode != "lexical" else ""
        target = "beats lexical" if mode == "hybrid" else "(reference)"
        rows.append((f"search recall@10, {mode}", f"{recall[mode]}/{total}", baseline,
                     fmt_ratio(recall[mode], recall["lexical"]) if mode != "lexical" else "", target))
    for mode in MODES:
        missed = [n for n, r in enumerate(found[mode], start=1) if r is None]
        first = sum(r == 1 for r in found[mode])
        mrr = sum(1 / r for r in found[mode] if r) / total
        notes.append(f"Search, {mode}: right session first for {first}/{total} queries, mean reciprocal rank {mrr:.3f} "
                     f"(0 beyond 10); missed (not in the top 10) queries {missed or 'none'}, numbered as in "
                     "search_queries.yaml.")
    if recall["hybrid"] <= recall["lexical"]:
        notes.append(f"Hybrid does NOT beat lexical: {recall['hybrid']}/{total} vs {recall['lexical']}/{total}.")
    notes.append(f"Recall corpus: ../shared/corpus (claude, codex, agents/home), built in {build_s:.1f} s.")

    print(f"search: amplifying the real Claude Code transcripts to about {size_mb:g} MB ...", flush=True)
    texts = [entry["query"] for entry in queries]
    amp = work / "search-amp"
    amp_mb = amplify(amp, size_mb, corpus)
    amp_config = write_config(work / "search-amp-warehouse", claude=[amp / ".claude" / "projects"],
                              codex=[amp / "codex" / "sessions"])  # empty until the new session
    dagster_home = work / "search-dagster-home"
    print(f"search: building over {amp_mb:.0f} MB ...", flush=True)
    amp_build_s = build(amp_config, dagster_home)
    print("search: latency ...", flush=True)
    latency = search_latency(amp_config, texts, runs)
    for mode in MODES:
        rows.append((f"search --json --mode {mode} at {amp_mb:.0f} MB, median of {len(texts) * runs}",
                     _ms(latency[mode]), f"grep -rFil WORD {_ms(latency['grep'])}",
                     fmt_ratio(latency[mode], latency["grep"]), "< 100 ms at 1 GB"))

    print("search: index cost of one new session ...", flush=True)
    cost = index_cost_per_session(amp_config, amp, dagster_home)
    rows.append((f"index: +1 Codex session ({cost['bytes'] / 2**20:.1f} MB), whole build at {amp_mb:.0f} MB",
                 _s(cost["new_s"]), f"build finding nothing new {_s(cost['noop_s'])}",
                 fmt_ratio(cost["new_s"], cost["noop_s"]), "(reference)"))
    rows.append(("index: +1 session, search assets only", _s(cost["new_search_s"]),
                 f"finding nothing new {_s(cost['noop_search_s'])}",
                 fmt_ratio(cost["new_search_s"], cost["noop_search_s"]), "(reference)"))
    steps = ", ".join(f"{name} {cost['new_steps'].get(name, 0):.2f} s (nothing new: {cost['noop_steps'].get(name, 0):.2f} s)"
                      for name in SEARCH_STEPS)
    notes.append(f"Latency corpus: ../shared/corpus/claude amplified to {amp_mb:.0f} MB (Claude Code only), built in "
                 f"{amp_build_s:.1f} s (runs recorded in a DAGSTER_HOME); {len(texts)} labelled queries x {runs} run(s) "
                 "per mode; grep looks for each query's longest word (LC_ALL=C).")
    notes.append(f"Index cost: a real Codex session (97b66f6c) under a new id, its texts new to the warehouse, costs "
                 f"{cost['new_s'] - cost['noop_s']:.1f} s over a build finding nothing new; after its build the search "
                 f"copy holds {cost['documents']} of its texts. Search assets, from the step timings of runs recorded "
                 f"in a DAGSTER_HOME: {steps}.")

    if scaling:
        print(f"search: latency at {amp_mb * 4:.0f} MB ...", flush=True)
        shutil.rmtree(work / "search-amp-warehouse", ignore_errors=True)
        shutil.rmtree(amp, ignore_errors=True)
        big = work / "search-amp4"
        big_mb = amplify(big, size_mb * 4, corpus)
        big_config = write_config(work / "search-amp4-warehouse", claude=[big / ".claude" / "projects"], codex=[])
        build(big_config)
        big_latency = search_latency(big_config, texts, runs)
        for mode in MODES:
            rows.append((f"search --json --mode {mode} at {big_mb:.0f} MB", _ms(big_latency[mode]),
                         f"at {amp_mb:.0f} MB {_ms(latency[mode])}", fmt_ratio(big_latency[mode], latency[mode]),
                         "flat from 1 to 4 GB"))
        rows.append((f"grep -rFil WORD at {big_mb:.0f} MB", _ms(big_latency["grep"]),
                     f"at {amp_mb:.0f} MB {_ms(latency['grep'])}", fmt_ratio(big_latency["grep"], latency["grep"]),
                     "(reference)"))
        shutil.rmtree(big, ignore_errors=True)
    for problem in dict.fromkeys(BUILD_PROBLEMS):
        notes.append(f"A build reported a failure but published its search copy, which was measured: {problem}.")
    return rows, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=100)
    parser.add_argument("--scaling", action="store_true", help="also measure latency at 4x the size")
    parser.add_argument("--runs", type=int, default=1, help="passes over the labelled queries per mode")
    parser.add_argument("--write", type=Path, help="append the results to this markdown file")
    args = parser.parse_args()

    from datetime import datetime, timezone

    work = Path(tempfile.mkdtemp(prefix="star-pipeline-bench-search-"))
    try:
        rows, notes = bench_rows(work, args.size_mb, args.scaling, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    publish(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, search ({machine_summary()})",
            ["measurement", "star_pipeline", "baseline (same run)", "ratio", "target"], rows, notes, args.write)


if __name__ == "__main__":
    main()
