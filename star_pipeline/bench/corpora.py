"""The corpora `make bench` measures on: how to make each at a size, and one more session to add to it.

Three: the generated one (bench/generate.py), the real Claude Code transcripts of ../shared/corpus amplified with
distinct texts (REAL_DISTINCT, `amplify.py --distinct`: every copy's prompts and replies new, as in a real history;
the one issue 29's targets count on) and amplified with repeated texts (REAL: copies share their texts, so anything
computed per distinct text is shared and the figures flatter us; kept beside it).
Shared by bench/run.py (the single file) and bench/ducklake.py (the lake beside it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from star_pipeline.bench.generate import claude_session, generate
from star_pipeline.bench.measure import CORPUS, amplify, pick_transcripts, renewed_session, write_config


@dataclass
class Corpus:
    """A corpus to measure: how to make it at a size, and one more session to add to it."""

    label: str  # "generated", "real" (repeated texts) or "real-distinct"
    make: Callable[[Path, float], float]  # (folder, size MB) -> MB written
    claude_dir: Callable[[Path], Path]  # folder -> its CLAUDE_CONFIG_DIR (projects/ below it)
    config: Callable[[Path, Path], Path]  # (warehouse folder, corpus folder) -> configuration
    add_session: Callable[[Path, int], int]  # (corpus folder, about how many bytes) -> bytes of the session it adds
    agent_roots: Callable[[Path], tuple[Path, Path | None]]  # folder -> its Claude Code projects and Codex sessions


GENERATED_BYTES_PER_TURN = 9_400  # what bench/generate.py writes per turn, measured from 50 to 3,000 turns


def _generated_session(folder: Path, size: int) -> int:
    """A generated session of about `size` bytes in a project of its own (its ids seeded by its size, so that two
    sizes are two sessions)."""
    import random

    start = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
    turns = max(1, round(size / GENERATED_BYTES_PER_TURN))
    return claude_session(random.Random(99 + size), folder, "-home-dev-newproj", start, turns)


GENERATED = Corpus(
    "generated",
    make=lambda folder, size_mb: sum(generate(folder, size_mb).values()) / 2**20,
    claude_dir=lambda folder: folder / "claude",
    config=lambda warehouse, folder: write_config(warehouse, folder),
    add_session=_generated_session,
    agent_roots=lambda folder: (folder / "claude" / "projects", folder / "codex" / "sessions"),
)


def _real_session(folder: Path, size: int) -> int:
    """A real Claude Code session of about `size` bytes under new ids, in a project of its own: the main transcript
    of ../shared/corpus closest in size when one is within 10%, else the largest ones joined and cut
    (measure.pick_transcripts). Its texts are the originals, which no --distinct copy holds."""
    mains = [path for path in (CORPUS / "claude" / "projects").rglob("*.jsonl") if "subagents" not in path.parts]
    sources = pick_transcripts({path: path.stat().st_size for path in mains}, size)
    return renewed_session(sources, folder / ".claude" / "projects" / "-bench-new-session", size)[1]


def _real(label: str, distinct: bool) -> Corpus:
    return Corpus(
        label,
        make=lambda folder, size_mb: amplify(folder, size_mb, distinct=distinct),
        claude_dir=lambda folder: folder / ".claude",
        config=lambda warehouse, folder: write_config(warehouse, claude=[folder / ".claude" / "projects"], codex=[]),
        add_session=_real_session,
        agent_roots=lambda folder: (folder / ".claude" / "projects", None),
    )


REAL = _real("real", distinct=False)
REAL_DISTINCT = _real("real-distinct", distinct=True)
