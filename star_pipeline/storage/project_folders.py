"""The project folders: where agents that write into the project itself (Crush's `.crush/crush.db`, Aider's
`.aider.chat.history.md`) keep their files, found without configuration.

A project folder is a folder holding one of the project files the sources name (`Source.project_files`,
paths relative to the project). They are looked for in the folders where the user works:
- the home folder, down to `project_scan_depth` folders below it (default 4: `~/a/b/c/d`), skipping
  hidden folders (`.git`, `.cache`, `.venv`, ...), `node_modules`, virtualenvs (a folder holding
  `pyvenv.cfg`), `__pycache__`, `site-packages` and macOS's `Library`;
- the working folder of every session another agent recorded (normalized_sessions' cwd) and the
  folders above it (Aider writes into the git root, which may be above the cwd).
`sources.project_roots` replaces the home folder as the place to scan (each listed folder to the same
depth, the folder itself included); the sessions' folders are still looked at.

The result is kept in a small file beside the warehouse (`project_folders.json`: the folders found,
the sessions' folders seen, and when the scan ran), so a sensor tick only reads it and stats the
project files; the scan runs again when the file is older than `RESCAN_SECONDS` or was made for
other settings. Nothing here opens the warehouse: the step that publishes the reports' copy after
each rebuild adds the sessions' folders it read (`remember_session_folders`), and the next look
(a sensor tick, a capture) checks those it has not seen.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SCAN_DEPTH = 4
RESCAN_SECONDS = 3600
CACHE_NAME = "project_folders.json"
SKIPPED_NAMES = frozenset({"node_modules", "__pycache__", "site-packages", "Library", "venv", "virtualenv"})


@dataclass(frozen=True)
class ProjectScan:
    """Where to look for project folders: `roots` scanned `depth` folders deep, the result cached in `cache`
    (None: not cached)."""

    roots: tuple[str, ...]
    depth: int = DEFAULT_SCAN_DEPTH
    cache: str | None = None

    @classmethod
    def of(cls, project_roots: list[str] | tuple[str, ...] | None, depth: int, warehouse_path: str | Path | None):
        """The scan the settings ask for: `project_roots`, else the home folder; the cache beside the warehouse."""
        roots = tuple(str(r) for r in project_roots) if project_roots is not None else (os.path.expanduser("~"),)
        return cls(roots, depth, project_folders_cache(warehouse_path) if warehouse_path else None)


def project_folders_cache(warehouse_path: str | Path) -> str:
    """Where the scan's result is kept: beside the warehouse."""
    return str(Path(warehouse_path).parent / CACHE_NAME)


def _holds_any(folder: str, markers: tuple[str, ...]) -> bool:
    return any(os.path.lexists(os.path.join(folder, marker)) for marker in markers)


def _skipped(folder: str, name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_NAMES or os.path.exists(os.path.join(folder, name, "pyvenv.cfg"))


def scan(roots: tuple[str, ...], depth: int, markers: tuple[str, ...]) -> list[str]:
    """The folders at most `depth` below each root (the root included) that hold one of `markers`."""
    found: set[str] = set()
    for root in roots:
        root = os.path.realpath(os.path.expanduser(root))
        level = [root] if os.path.isdir(root) else []
        for below in range(depth + 1):
            next_level = []
            for folder in level:
                if _holds_any(folder, markers):
                    found.add(folder)
                if below == depth:
                    continue
                try:
                    with os.scandir(folder) as entries:
                        for entry in entries:
                            # links to folders are not followed: a link into the tree would be walked twice
                            if entry.is_dir(follow_symlinks=False) and not _skipped(folder, entry.name):
                                next_level.append(entry.path)
                except OSError:  # unreadable: nothing below it is found
                    continue
            level = next_level
    return sorted(found)


def _with_parents(folders) -> set[str]:
    """Each folder and every folder above it."""
    result = set()
    for folder in folders:
        path = Path(os.path.expanduser(folder))
        if not path.is_absolute():
            continue
        result.update(str(p) for p in (path, *path.parents))
    return result


def _read_cache(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            cached = json.load(handle)
    except (OSError, ValueError):
        return None  # none yet, or unreadable: scanned again and rewritten
    return cached if isinstance(cached, dict) else None


def _write_cache(path: str, content: dict) -> None:
    """Replaced whole (a reader never sees half of it); owner-only, as every file the project writes."""
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".project_folders-")  # mode 0600
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(content, out, indent=1, sort_keys=True)
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only folder: the scan runs again next time, nothing is lost


def project_folders(scan_of: ProjectScan, markers: tuple[str, ...], now: float | None = None) -> list[str]:
    """The project folders: those that hold one of `markers` (the sources' project files) under the scan's
    roots or at or above the sessions' working folders the cache holds (`remember_session_folders`); from the
    cache while it is fresh and made for the same roots, depth and markers (the sessions' folders it has not
    looked at yet are looked at, not the whole scan)."""
    if not markers:
        return []
    now = time.time() if now is None else now
    settings = {"roots": list(scan_of.roots), "depth": scan_of.depth, "markers": sorted(markers)}
    cached = _read_cache(scan_of.cache) if scan_of.cache else None
    fresh = (cached is not None and {k: cached.get(k) for k in settings} == settings
             and isinstance(cached.get("scanned_at"), (int, float)) and 0 <= now - cached["scanned_at"] < RESCAN_SECONDS)
    known_cwds = set(cached.get("cwds", [])) if cached else set()
    remembered = set(cached.get("unchecked_cwds", [])) if cached else set()
    new_cwds = remembered - known_cwds
    if fresh and not new_cwds:
        return list(cached["folders"])
    all_cwds = known_cwds | new_cwds
    if fresh:  # only the new sessions' folders to look at
        folders = set(cached["folders"]) | {f for f in _with_parents(new_cwds) if _holds_any(f, markers)}
        scanned_at = cached["scanned_at"]
    else:
        folders = set(scan(scan_of.roots, scan_of.depth, markers))
        folders |= {f for f in _with_parents(all_cwds) if _holds_any(f, markers)}
        scanned_at = now
    result = sorted(folders)
    if scan_of.cache:
        _write_cache(scan_of.cache, {**settings, "scanned_at": scanned_at, "folders": result, "cwds": sorted(all_cwds)})
    return result


def remember_session_folders(cache: str | Path, cwds) -> int:
    """Note the sessions' working folders `cwds` that the cache has not seen, for the next `project_folders` call
    to look at (the caller read them from the warehouse, which the sensors never open); returns how many."""
    cached = _read_cache(str(cache)) or {}
    seen = set(cached.get("cwds", [])) | set(cached.get("unchecked_cwds", []))
    new = sorted({str(c) for c in cwds if c} - seen)
    if new:
        _write_cache(str(cache), {**cached, "unchecked_cwds": sorted(set(cached.get("unchecked_cwds", [])) | set(new))})
    return len(new)
