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


def write_config(folder: Path, corpus: Path | None = None, *, claude: list[Path] | None = None,
                 codex: list[Path] | None = None, memory_limit: str | None = None, **agents: list[Path]) -> Path:
    """A configuration like a user's (memory_limit left at auto unless given) over a generated `corpus`,
    or over these roots (`agents`: other sources' roots keys); every other source reads nothing, so a
    benchmark never reads the machine's own agents."""
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


def amplify(dest: Path, size_mb: float, corpus: Path = CORPUS) -> float:
    """A real-shaped Claude Code corpus of about `size_mb` under dest/.claude/projects (copies of the real
    transcripts by ../shared/tools/amplify.py); its size in MB."""
    source = corpus / "claude" / "projects"
    one_copy = sum(p.stat().st_size for p in source.rglob("*.jsonl"))
    copies = max(1, round(size_mb * 2**20 / one_copy))
    subprocess.run([sys.executable, str(AMPLIFY), str(source), str(dest / ".claude"), str(copies)],
                   check=True, capture_output=True)
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
