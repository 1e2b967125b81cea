"""Does the default configuration survive what real users have on disk? Builds, not timings.

    python -m star_pipeline.bench.robustness [--write BENCHMARKS.md] [--real-mb 1024] [--bench-mb 200] [--repeats 10]

Every build runs `star-pipeline build` with a configuration that leaves
`warehouse.memory_limit` at its default (`auto`), as a user's would
(`--memory-limit 1GiB` gives every build what auto gives a machine of 4 GiB or less):

1. Hostile corpus: the real files of ../shared/corpus, plus 3,000 Claude Code lines
   of 150 KB, one 20 MB line, 400 lines of 50 KB and a file whose name is not valid
   UTF-8. It must build with exit 0, and the raw layer must hold exactly as many lines
   per file as the file has.
2. Real-shaped gigabyte: ../shared/corpus amplified to --real-mb with
   ../shared/tools/amplify.py (skipped, with a note, when ../shared is absent); one
   build from an empty warehouse.
3. Repeated clean builds: the bench generator's --bench-mb corpus, built --repeats
   times, each into an empty warehouse.

Each build's wall time and peak memory (RSS of the whole process tree's largest
process, /usr/bin/time) are printed, and with --write appended to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from star_pipeline.bench.generate import generate
from star_pipeline.bench.measure import BIN, SHARED, amplify, machine_summary, publish, timed, write_config


def run_build(config: Path) -> tuple[bool, float, int | None, str]:
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(config)}
    env.pop("DAGSTER_HOME", None)
    elapsed, peak, proc = timed([str(BIN / "star-pipeline"), "build"], env=env)
    tail = (proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace"))[-2000:]
    return proc.returncode == 0, elapsed, peak, tail


def claude_record(session: str, n: int, text: str) -> bytes:
    return json.dumps({
        "parentUuid": None, "isSidechain": False, "type": "user", "sessionId": session,
        "uuid": f"{session[:8]}-0000-4000-8000-{n:012d}", "timestamp": f"2026-05-01T10:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
        "cwd": "/home/u/hostile", "version": "2.1.97", "message": {"role": "user", "content": text},
    }, ensure_ascii=False).encode() + b"\n"


def hostile_corpus(root: Path, rng: random.Random) -> Path:
    """The real corpus files plus long lines and an odd file name; returns the Claude projects root."""
    projects = root / "claude" / "projects"
    shutil.copytree(SHARED / "corpus" / "claude" / "projects", projects)
    shutil.copytree(SHARED / "corpus" / "codex" / "sessions", root / "codex" / "sessions")
    folder = projects / "-home-u-hostile"
    folder.mkdir(parents=True)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 é中"

    block = "".join(rng.choice(alphabet) for _ in range(4096))
    bytes_per_char = len(block.encode()) / len(block)

    def text(size: int) -> str:  # about `size` bytes of UTF-8, multi-byte letters among them
        chars = int(size / bytes_per_char)
        return (block * (chars // len(block) + 1))[:chars]

    for file_index in range(10):  # 3,000 lines of about 150 KB (pasted screenshots, big tool results)
        session = f"{file_index:08x}-aaaa-4bbb-8ccc-150000000000"
        with (folder / f"{session}.jsonl").open("wb") as handle:
            for n in range(300):
                handle.write(claude_record(session, n, text(150_000)))
    with (folder / "20000000-aaaa-4bbb-8ccc-200000000000.jsonl").open("wb") as handle:
        handle.write(claude_record("20000000-aaaa-4bbb-8ccc-200000000000", 1, "x" * (20 << 20)))
    with (folder / "50000000-aaaa-4bbb-8ccc-500000000000.jsonl").open("wb") as handle:
        for n in range(400):
            handle.write(claude_record("50000000-aaaa-4bbb-8ccc-500000000000", n, text(50_000)))
    with open(os.fsencode(folder) + b"/\xff\xfe-odd-name.jsonl", "wb") as handle:
        handle.write(claude_record("60000000-aaaa-4bbb-8ccc-600000000000", 1, "a file name that is not UTF-8"))
    return projects


def line_counts_agree(config: Path, roots: list[Path]) -> tuple[int, list[str]]:
    """(files compared, files whose stored line count differs from the file's)."""
    expected: dict[str, int] = {}
    for root in roots:
        for folder, _dirs, names in os.walk(root):
            for name in names:
                if name.endswith(".jsonl"):
                    data = Path(folder, name).read_bytes()
                    path = os.path.join(folder, name)
                    try:
                        path.encode()
                    except UnicodeEncodeError:
                        path = os.fsencode(path).decode("utf-8", "backslashreplace")
                    expected[path] = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    warehouse = config.parent / "warehouse.duckdb"
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        stored = dict(conn.execute(
            "SELECT path, count(*) FILTER (WHERE part_number = 1) FROM ("
            "SELECT path, part_number FROM raw.claude_code_lines UNION ALL SELECT path, part_number FROM raw.codex_lines) "
            "GROUP BY path").fetchall())
    finally:
        conn.close()
    wrong = [f"{p}: file {n}, stored {stored.get(p, 0)}" for p, n in expected.items() if stored.get(p, 0) != n]
    return len(expected), wrong


def mib(kib: int | None) -> str:
    return f"{kib / 1024:.0f} MiB" if kib else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real-mb", type=float, default=1024)
    parser.add_argument("--bench-mb", type=float, default=200)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--memory-limit", help="warehouse.memory_limit for every build (default: not set, i.e. auto); "
                        "1GiB is what auto gives a machine of 4 GiB or less")
    parser.add_argument("--write", type=Path, help="append the results to this markdown file")
    args = parser.parse_args()
    limit = args.memory_limit

    from star_pipeline.config import auto_memory_limit

    work = Path(tempfile.mkdtemp(prefix="star-pipeline-robustness-"))
    rows: list[tuple[str, str, str, str]] = []
    try:
        if (SHARED / "corpus").is_dir():
            print("hostile corpus ...", flush=True)
            projects = hostile_corpus(work / "hostile", random.Random(14))
            size = sum(p.stat().st_size for p in (work / "hostile").rglob("*") if p.is_file()) / 2**20
            config = write_config(work / "hostile-wh", claude=[projects], codex=[work / "hostile" / "codex" / "sessions"],
                                  memory_limit=limit)
            ok, elapsed, peak, tail = run_build(config)
            compared, wrong = line_counts_agree(config, [projects, work / "hostile" / "codex" / "sessions"]) if ok else (0, [])
            verdict = ("exit 0" if ok else "FAILED") + (f"; line counts equal in {compared} files" if ok and not wrong
                                                         else f"; {len(wrong)} files differ: {wrong[:3]}" if ok else "")
            rows.append((f"hostile corpus ({size:.0f} MB: real files, 3,000 x 150 KB lines, a 20 MB line, "
                         "400 x 50 KB lines, a non-UTF-8 name)", verdict, f"{elapsed:.1f} s", mib(peak)))
            if not ok:
                print(tail)
            shutil.rmtree(work / "hostile", ignore_errors=True)
            shutil.rmtree(work / "hostile-wh", ignore_errors=True)

            print(f"real-shaped corpus, {args.real_mb:g} MB ...", flush=True)
            size = amplify(work / "real", args.real_mb, SHARED / "corpus")
            real = work / "real" / ".claude"
            ok, elapsed, peak, tail = run_build(write_config(work / "real-wh", claude=[real / "projects"], codex=[], memory_limit=limit))
            rows.append((f"real-shaped corpus ({size:.0f} MB, amplify.py), from empty",
                         "exit 0" if ok else "FAILED", f"{elapsed:.1f} s", mib(peak)))
            if not ok:
                print(tail)
            shutil.rmtree(work / "real", ignore_errors=True)
            shutil.rmtree(work / "real-wh", ignore_errors=True)
        else:
            rows.append(("hostile and real-shaped corpora", f"skipped: {SHARED / 'corpus'} is absent", "", ""))

        print(f"{args.repeats} clean builds of a {args.bench_mb:g} MB bench corpus ...", flush=True)
        corpus = work / "bench"
        generate(corpus, args.bench_mb)
        results = []
        for attempt in range(args.repeats):
            shutil.rmtree(work / "bench-wh", ignore_errors=True)
            config = write_config(work / "bench-wh", corpus, memory_limit=limit)
            ok, elapsed, peak, tail = run_build(config)
            results.append((ok, elapsed, peak))
            print(f"  build {attempt + 1}: {'ok' if ok else 'FAILED'} {elapsed:.1f} s {mib(peak)}", flush=True)
            if not ok:
                print(tail)
        passed = sum(ok for ok, _, _ in results)
        rows.append((f"{args.bench_mb:g} MB bench corpus, {args.repeats} builds from empty", f"{passed} of {args.repeats} exit 0",
                     f"{min(r[1] for r in results):.1f}-{max(r[1] for r in results):.1f} s",
                     f"max {mib(max((r[2] or 0) for r in results))}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    publish(f"Robustness, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC ({machine_summary()}, "
            f"memory_limit {limit or 'auto: ' + auto_memory_limit()})", ["build", "outcome", "wall", "peak memory"], rows, [], args.write)


if __name__ == "__main__":
    main()
