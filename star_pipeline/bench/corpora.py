"""The corpora `make bench` measures on: how to make each at a size, and one more session to add to it.

Shared by bench/run.py (the single file) and bench/ducklake.py (the lake beside it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from star_pipeline.bench.generate import claude_session, generate
from star_pipeline.bench.measure import CORPUS, amplify, renewed_copy, write_config


@dataclass
class Corpus:
    """A corpus to measure: how to make it at a size, and one more session to add to it."""

    label: str  # "generated" or "real"
    make: Callable[[Path, float], float]  # (folder, size MB) -> MB written
    claude_dir: Callable[[Path], Path]  # folder -> its CLAUDE_CONFIG_DIR (projects/ below it)
    config: Callable[[Path, Path], Path]  # (warehouse folder, corpus folder) -> configuration
    add_session: Callable[[Path], int]  # corpus folder -> bytes of the session it adds


def _generated_session(folder: Path) -> int:
    import random

    start = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
    return claude_session(random.Random(99), folder, "-home-dev-newproj", start, 700)


GENERATED = Corpus(
    "generated",
    make=lambda folder, size_mb: sum(generate(folder, size_mb).values()) / 2**20,
    claude_dir=lambda folder: folder / "claude",
    config=lambda warehouse, folder: write_config(warehouse, folder),
    add_session=_generated_session,
)


def _real_session(folder: Path) -> int:
    """A real Claude Code transcript of about 0.8 MB (the one closest to it) under new ids, in a project of its own."""
    sources = sorted((CORPUS / "claude" / "projects").rglob("*.jsonl"), key=lambda p: (abs(p.stat().st_size - 800_000), p))
    return renewed_copy(sources[0], folder / ".claude" / "projects" / "-bench-new-session")[1]


REAL = Corpus(
    "real",
    make=lambda folder, size_mb: amplify(folder, size_mb),
    claude_dir=lambda folder: folder / ".claude",
    config=lambda warehouse, folder: write_config(warehouse, claude=[folder / ".claude" / "projects"], codex=[]),
    add_session=_real_session,
)
