"""What every benchmark shares: timing a whole process, a configuration over a corpus, a build, and
printing (or appending to BENCHMARKS.md) a table of figures with their ratios."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

BIN = Path(sys.executable).parent
SHARED = Path(os.environ.get("STAR_PIPELINE_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
CORPUS = SHARED / "corpus"
AMPLIFY = SHARED / "tools" / "amplify.py"
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def timed(cmd: list[str], env: dict | None = None, stdin: bytes | None = None) -> tuple[float, int | None, subprocess.CompletedProcess]:
    """Wall seconds and peak RSS (KiB, via /usr/bin/time -v when present) of a whole process."""
    time_bin = shutil.which("time") or "/usr/bin/time"
    wrapped = [time_bin, "-v", *cmd] if os.path.exists(time_bin) else cmd
    started = time.perf_counter()
    proc = subprocess.run(wrapped, env=env, input=stdin, capture_output=True)
    elapsed = time.perf_counter() - started
    peak = None
    for line in proc.stderr.decode(errors="replace").splitlines():
        if "Maximum resident set size" in line:
            peak = int(line.split(":")[1])
    return elapsed, peak, proc


BENCH_BUDGETS = """\
budgets:
  - {name: daily, period: day, limit_usd: 20, action: warn, warn_at: 0.8}
  - {name: client-x, period: month, limit_usd: 300, project: /home/dev, action: block}
  - {name: long-session, period: session, limit_usd: 10, action: block}
"""


def write_config(folder: Path, corpus: Path | None = None, *, claude: list[Path] | None = None,
                 codex: list[Path] | None = None, memory_limit: str | None = None, **agents: list[Path]) -> Path:
    """A configuration like a user's (memory_limit left at auto unless given, the issue's three example budgets,
    `BENCH_BUDGETS`, which the guard's timing reads) over a generated `corpus`, or over these roots (`agents`:
    other sources' roots keys); every other source reads nothing, so a benchmark never reads the machine's own
    agents."""
    from star_pipeline.sources import SOURCES

    folder.mkdir(parents=True, exist_ok=True)
    roots = {"claude_code_roots": claude if claude is not None else [corpus / "claude" / "projects"],
             "codex_roots": codex if codex is not None else [corpus / "codex" / "sessions"], **agents}
    spool = corpus / "spool" if corpus else folder / "spool"
    lines = [f"  {s.roots_key}: {json.dumps([str(p) for p in roots.get(s.roots_key, [])])}"
             for s in SOURCES if not s.single_root]
    config = folder / "bench.yaml"
    config.write_text(
        f"warehouse:\n  path: {folder / 'warehouse.duckdb'}\n  lock_timeout_seconds: 600\n"
        + (f"  memory_limit: {memory_limit}\n" if memory_limit else "")
        + "sources:\n" + "\n".join(lines) + f"\n  hook_spool_dir: {spool}\n"
        + "  project_roots: []\n"  # no project folders' scan of this machine's home either
        + BENCH_BUDGETS
    )
    return config


def build(config: Path) -> tuple[float, int | None]:
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(config)}
    env.pop("DAGSTER_HOME", None)
    elapsed, peak, proc = timed([str(BIN / "star-pipeline"), "build"], env=env)
    if proc.returncode != 0:
        raise SystemExit(f"build failed:\n{proc.stdout.decode()[-3000:]}\n{proc.stderr.decode()[-3000:]}")
    return elapsed, peak


def machine_summary() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}"


def publish(heading: str, columns: list[str], rows: list[tuple], notes: list[str], write: Path | None) -> None:
    """Print a markdown section (a heading, a table of `rows`, notes) and append it to `write`."""
    lines = [f"## {heading}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    if notes:
        lines += ["", *notes]
    text = "\n".join(lines) + "\n"
    print(text)
    if write:
        with write.open("a") as handle:
            handle.write("\n" + text)


def fmt_ratio(value: float | None, baseline: float | None) -> str:
    return f"{value / baseline:.2f}x" if value and baseline else "n/a"


def amplify(dest: Path, size_mb: float, corpus: Path = CORPUS, distinct: bool = False) -> float:
    """A real-shaped Claude Code corpus of about `size_mb` under dest/.claude/projects (copies of the real
    transcripts by ../shared/tools/amplify.py; with `distinct`, its --distinct: every copy's texts made distinct,
    as in a real history, rather than repeated); its size in MB."""
    source = corpus / "claude" / "projects"
    one_copy = sum(p.stat().st_size for p in source.rglob("*.jsonl"))
    copies = max(1, round(size_mb * 2**20 / one_copy))
    subprocess.run([sys.executable, str(AMPLIFY), str(source), str(dest / ".claude"), str(copies),
                    *(["--distinct"] if distinct else [])], check=True, capture_output=True)
    return sum(p.stat().st_size for p in (dest / ".claude").rglob("*.jsonl")) / 2**20


def renewed_copy(source: Path, target_dir: Path) -> tuple[str, int]:
    """`source` copied into `target_dir` with every uuid in it and in its name replaced by a new one (the same
    for each occurrence) and its message and request ids (msg_, req_) made new, so that it is a new session
    to a warehouse that holds the original. Its (first uuid of the name) session id and size."""
    mapping: dict[bytes, bytes] = {}
    renew = lambda m: mapping.setdefault(m.group(0), str(uuid.uuid4()).encode())  # noqa: E731
    tag = uuid.uuid4().hex[:8].encode()
    data = _UUID.sub(renew, source.read_bytes()).replace(b'"msg_', b'"msg_' + tag).replace(b'"req_', b'"req_' + tag)
    name = _UUID.sub(renew, source.name.encode()).decode()
    target_dir.mkdir(parents=True, exist_ok=True)
    (target_dir / name).write_bytes(data)
    return _UUID.search(name.encode()).group(0).decode(), len(data)


def pick_transcripts(sizes: dict[Path, int], target: int, tolerance: float = 0.1) -> list[Path]:
    """The transcripts a new session of about `target` bytes is made from: the one closest in size when it is
    within `tolerance` of it; otherwise the largest, largest first, until together they reach `target` (all of
    them when they do not; `renewed_session` cuts the last at a line end)."""
    closest = min(sizes, key=lambda path: (abs(sizes[path] - target), path))
    if abs(sizes[closest] - target) <= tolerance * target:
        return [closest]
    picked, total = [], 0
    for path in sorted(sizes, key=lambda path: (-sizes[path], path)):
        if total >= target:
            break
        picked.append(path)
        total += sizes[path]
    return picked


def renewed_session(sources: list[Path], target_dir: Path, target: int) -> tuple[str, int]:
    """One new session in `target_dir` made of `sources` (Claude Code transcripts, in order), each under new ids as
    `renewed_copy` makes them (its own: two sources never share one) and every source's session id replaced by the
    same new one, cut at the last line end within `target` bytes (at least one line). Its session id and size."""
    session = str(uuid.uuid4()).encode()
    parts = []
    for source in sources:
        named = _UUID.search(source.name.encode())  # the source's own session id becomes the new session's
        mapping: dict[bytes, bytes] = {named.group(0): session} if named else {}
        renew = lambda m: mapping.setdefault(m.group(0), str(uuid.uuid4()).encode())  # noqa: E731
        tag = uuid.uuid4().hex[:8].encode()
        data = _UUID.sub(renew, source.read_bytes()).replace(b'"msg_', b'"msg_' + tag).replace(b'"req_', b'"req_' + tag)
        parts.append(data.rstrip(b"\n") + b"\n")
    data = b"".join(parts)
    if len(data) > target:
        cut = data.rfind(b"\n", 0, target)
        data = data[:cut + 1] if cut >= 0 else data[:data.index(b"\n") + 1]
    target_dir.mkdir(parents=True, exist_ok=True)
    (target_dir / f"{session.decode()}.jsonl").write_bytes(data)
    return session.decode(), len(data)
