"""Where the session-start briefs live: `<warehouse>.briefs/<sha256 of the project id>.txt`, one small text
file per project, written by the aggregate asset published_briefs and read by `star-pipeline brief`.

Standard library only: the brief runs at every Claude Code session start and must not import duckdb or
dagster. A file is named by a digest so any project path (spaces, unicode, length) makes a safe name,
and the reader finds a project from the session's cwd by hashing the cwd and its parents.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePosixPath

BRIEF_SUFFIX = ".txt"
# Worktrees folded into their repository, as aggregate/session_projects.sql folds them: <repo>/.claude/worktrees/<name>
# and <repo>/.worktrees/<name> into <repo>, <repo>-worktrees/<name> (or .worktrees) beside <repo> into <repo>.
_WORKTREE = re.compile(r"/\.(claude/)?worktrees/[^/]+(/.*)?$")
_SIBLING_WORKTREE = re.compile(r"/([^/]+)[-.]worktrees/[^/]+(/.*)?$")


def briefs_dir(warehouse_path: Path | str) -> Path:
    return Path(f"{warehouse_path}.briefs")


def brief_file(folder: Path, project: str) -> Path:
    return folder / (hashlib.sha256(project.encode("utf-8")).hexdigest()[:32] + BRIEF_SUFFIX)


def project_candidates(cwd: str) -> list[str]:
    """The project ids a session in `cwd` may belong to, nearest first: the cwd (a Claude Code worktree folded
    into its repository), then each parent folder below the home folder (a brief of the home folder itself,
    or of /, would speak for every project under it, so those count only as the cwd itself)."""
    folded = _SIBLING_WORKTREE.sub(r"/\1", _WORKTREE.sub("", cwd.rstrip("/"))) or "/"
    path = PurePosixPath(folded)
    too_wide = {"/", str(Path.home())}
    return [str(path), *(str(parent) for parent in path.parents if str(parent) not in too_wide)]
