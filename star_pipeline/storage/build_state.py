"""What the last successful `star-pipeline build` saw, so that a build finding nothing new ends in a moment.

A build over a warehouse that is already up to date still starts Dagster, opens the warehouse and asks
every asset whether it has work (about 15 s at 1 GB). Before any of that, `star-pipeline build` compares
a fingerprint of everything a build reads with the one the last successful build stored in
`<warehouse>.build-state.json` (owner-only); when they are equal it says so and stops. The fingerprint
(standard library only, but for a DuckLake's snapshot: no duckdb, no dagster) covers
- per source, every file under its folders (relative path, size, modification time);
- the warehouse file and its published copies, the statusline's file included (a sensor run of `dagster dev`,
  a deleted copy); on a DuckLake, the lake's latest snapshot (another machine's capture), which needs duckdb
  and an attach of the lake (about 0.3 s with a local catalog);
- the configuration file, the classifier files and the classifier versions registered in DAGSTER_HOME;
- the installed code: the star_pipeline package's files and the folders on sys.path (an upgraded
  package, such as new prices);
- the partial-line rule: a last line without its newline is captured once it has been quiet for
  `raw.partial_line_quiet_seconds`, so a file whose quiet period ended after the last build started
  makes the next build run although nothing on disk changed.
Anything it cannot read makes the build run. The state is written only after a build that succeeded,
and removed before every build that runs; `build --force` ignores it.

A raw-only build (`build --raw-only`, a team member's machine) keeps its own, smaller record,
`<warehouse>.capture-state.json`: the sources' files, the configuration and the code (not the lake: other
machines' commits change nothing a capture reads), so a member's capture that finds nothing new ends without
Dagster or the lake. Both records also say which sources changed (`changed_sources`): a build then captures
those sources only (the raw steps of the others would each find nothing, at a lake round trip or more apiece).

Beside it, `<warehouse>.build-timings.json` (owner-only) keeps how long each step took in the last successful
build that ran it, for the next build's estimate of the time left (orchestration/progress.py). It is no part
of the fingerprint, and a failed or forced build leaves it in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

STATE_VERSION = 1
CAPTURE_STATE_VERSION = 101  # never equal to STATE_VERSION: the two records are not interchangeable
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
CODE_SUFFIXES = (".py", ".sql", ".yaml", ".yml", ".json")


TIMINGS_VERSION = 1


def state_path(warehouse_path: Path | str) -> Path:
    return Path(f"{warehouse_path}.build-state.json")


def capture_state_path(warehouse_path: Path | str) -> Path:
    return Path(f"{warehouse_path}.capture-state.json")


def timings_path(warehouse_path: Path | str) -> Path:
    return Path(f"{warehouse_path}.build-timings.json")


def _files_under(root: Path) -> list[tuple[str, int, int]]:
    """(path relative to root, size, mtime_ns) of every file below `root` (or of `root`, a file), symbolic
    links followed once; sorted."""
    found: list[tuple[str, int, int]] = []
    try:
        top = os.stat(root)
    except OSError:
        return found
    if not os.path.isdir(root):
        return [("", top.st_size, top.st_mtime_ns)]
    seen = {(top.st_dev, top.st_ino)}
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            found.append((os.path.relpath(folder, root) + "/?", -1, -1))  # unreadable now: differs from readable
            continue
        for entry in entries:
            try:
                info = entry.stat()
                if entry.is_dir():
                    if (info.st_dev, info.st_ino) not in seen:
                        seen.add((info.st_dev, info.st_ino))
                        stack.append(entry.path)
                else:
                    found.append((os.path.relpath(entry.path, root), info.st_size, info.st_mtime_ns))
            except OSError:
                continue  # vanished while listing
    return sorted(found)


def _digest(items) -> str:
    return hashlib.sha256(json.dumps(items, ensure_ascii=False, default=str).encode("utf-8", "surrogateescape")).hexdigest()


def _stat(path: Path) -> list[int] | None:
    try:
        info = os.stat(path)
        return [info.st_size, info.st_mtime_ns]
    except OSError:
        return None


def _registered_versions(dagster_home: str | None) -> list | None:
    """Classifier versions registered in DAGSTER_HOME's run storage ([] without DAGSTER_HOME or before its
    first run). None when they cannot be read, such as a PostgreSQL run storage: then the build always runs."""
    if not dagster_home:
        return []
    index_db = Path(dagster_home) / "history" / "runs" / "index.db"  # SQLite event log storage
    if not index_db.is_file():
        try:
            configured = (Path(dagster_home) / "dagster.yaml").read_text(errors="replace")
        except OSError:
            configured = ""
        return None if "storage" in configured else []
    try:
        conn = sqlite3.connect(f"{index_db.as_uri()}?mode=ro", uri=True, timeout=1)
        try:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'dynamic_partitions'").fetchone():
                return []
            return sorted(conn.execute("SELECT partitions_def_name, partition FROM dynamic_partitions").fetchall())
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def _code() -> str:
    package = [(str(path.relative_to(PACKAGE_ROOT)), *(_stat(path) or []))
               for path in PACKAGE_ROOT.rglob("*") if path.suffix in CODE_SUFFIXES and "__pycache__" not in path.parts]
    installed = [(entry, _stat(Path(entry))) for entry in sys.path if entry and os.path.isdir(entry)]
    return _digest([sorted(package), installed])


def _project_files(folders: list[str], patterns: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) of a source's files in the project folders: each pattern's match and what sits
    beside it under its name (a database's -wal and -shm)."""
    import glob

    found = []
    for folder in folders:
        for pattern in patterns:
            for match in glob.glob(os.path.join(glob.escape(folder), pattern) + "*", include_hidden=True):
                if (info := _stat(Path(match))) is not None:
                    found.append((match, *info))
    return sorted(found)


def source_files(settings, project_folders: dict[str, tuple[list[str], tuple[str, ...]]] | None = None) -> dict:
    """Per source: a digest of its files, their count (for the message) and their modification times (for the
    partial-line rule; not stored). `project_folders`: per source that writes into project folders (Crush,
    Aider), the folders storage/project_folders.py found and the source's project files there."""
    sources = {}
    for name, roots in sorted(settings.roots.items()):
        listings = [[str(root), _files_under(root)] for root in roots]
        if project_folders and name in project_folders:
            listings.append(["project folders", _project_files(*project_folders[name])])
        files = [entry for _, listing in listings for entry in listing]
        sources[name] = {"digest": _digest(listings), "files": len(files),
                         "mtimes_ns": sorted({entry[2] for entry in files if entry[2] >= 0})}
    return sources


def fingerprint(settings, sources: dict | None = None) -> dict:
    """Everything a build reads, per part (see the module's docstring); `sources` when already listed (with the
    project folders' files: build.py's `listed_sources`)."""
    from star_pipeline.storage.brief_files import briefs_dir
    from star_pipeline.storage.published_copies import published_copy_path, search_copy_path
    from star_pipeline.storage.statusline_file import statusline_file

    sources = source_files(settings) if sources is None else sources
    warehouse = settings.warehouse_path
    published = getattr(settings, "published_anchor", warehouse)  # where the copies are (a team's shared folder)
    briefs = briefs_dir(published)
    try:
        config = hashlib.sha256(settings.config_path.read_bytes()).hexdigest()
    except OSError:
        config = None
    return json.loads(json.dumps({  # as stored: tuples become lists
        "version": STATE_VERSION,
        "sources": sources,
        "warehouse": [_stat(warehouse), _stat(published_copy_path(published)), _stat(search_copy_path(published)),
                      _digest(_files_under(briefs)) if briefs.exists() else None, _stat(statusline_file(published))],
        "config": [str(settings.config_path), config],
        "classifiers": _digest([(name, hashlib.sha256((settings.classifiers_dir / name).read_bytes()).hexdigest())
                                for name, *_ in _files_under(settings.classifiers_dir)]),
        "dagster": [os.environ.get("DAGSTER_HOME"), _registered_versions(os.environ.get("DAGSTER_HOME"))],
        "code": _code(),
        "lake": _lake_snapshot(settings) if getattr(settings, "lake", None) else None,
    }))


def _lake_snapshot(settings) -> str:
    """The id of the lake's latest snapshot: a commit by any machine makes a new one. With a PostgreSQL catalog
    the lake is opened as the build's runs open it: the process keeps that instance (lake_engine.open_lake), so
    the runs that follow attach no second time (0.3 s of a writer's rebuild)."""
    try:
        from star_pipeline.storage.warehouse import CATALOG, connect

        lake = settings.lake
        kept = {"config": {"memory_limit": settings.memory_limit}} if lake.is_postgres else {"read_only": True}
        with connect(settings.warehouse_path, lake=lake, lock_timeout_seconds=settings.lock_timeout_seconds,
                     **kept) as conn:
            return str(conn.execute(f"SELECT max(snapshot_id) FROM {CATALOG}.snapshots()").fetchone()[0])
    except Exception as exc:  # unreadable now: the build runs, and says what is wrong
        return f"unreadable at {time.time()}: {type(exc).__name__}"


def _comparable(state: dict) -> dict:
    """The state without what only explains it (file counts, times)."""
    return {**{k: v for k, v in state.items() if k not in ("sources", "built_at", "started_at")},
            "sources": {name: part["digest"] for name, part in state.get("sources", {}).items()}}


PART_LABELS = {"warehouse": "the warehouse or its published copies changed", "config": "the configuration changed",
               "classifiers": "a classifier file changed", "dagster": "the registered classifier versions changed",
               "code": "star_pipeline or an installed package changed",
               "lake": "the lake changed (another machine wrote to it)"}


def _source_reasons(stored: dict, now: dict, quiet_seconds: float, clock: float | None) -> dict[str, str]:
    """Source -> why its files must be read again: they changed, or a last line written without its newline has
    been quiet for `raw.partial_line_quiet_seconds` since the stored build started (it is captured then)."""
    reasons = {name: f"{name}: files changed" for name, part in now["sources"].items()
               if stored.get("sources", {}).get(name, {}).get("digest") != part["digest"]}
    started, clock = stored.get("started_at", 0), time.time() if clock is None else clock
    for name, part in now["sources"].items():
        if name not in reasons and any(started < mtime / 1e9 + quiet_seconds <= clock for mtime in part["mtimes_ns"]):
            reasons[name] = f"{name}: a file has been quiet for raw.partial_line_quiet_seconds since the last build"
    return reasons


def _unreadable(stored: dict | None, now: dict, version: int) -> list[str]:
    if not stored:
        return ["no record of a successful build"]
    if stored.get("version") != version or (now.get("dagster") or [None, []])[1] is None:
        return ["the record of the last build cannot be compared"]
    return []


def changes(stored: dict | None, now: dict, quiet_seconds: float, clock: float | None = None) -> list[str]:
    """Why a build must run ([] when nothing changed since the stored state): what differs, per part."""
    if unreadable := _unreadable(stored, now, now.get("version", STATE_VERSION)):
        return unreadable
    reasons = list(_source_reasons(stored, now, quiet_seconds, clock).values())
    compared, current = _comparable(stored), _comparable(now)
    return reasons + [label for part, label in PART_LABELS.items() if part in now and compared.get(part) != current.get(part)]


def changed_sources(stored: dict | None, now: dict, quiet_seconds: float, clock: float | None = None) -> list[str] | None:
    """The sources a build must capture, when only sources' files (and, on a lake, other machines' commits)
    changed since the stored state; None when it must capture every source (no record, or the configuration,
    the code, the classifiers or the warehouse itself changed: a deleted warehouse holds no lines at all)."""
    if _unreadable(stored, now, now.get("version", STATE_VERSION)):
        return None
    compared, current = _comparable(stored), _comparable(now)
    if any(compared.get(part) != current.get(part) for part in PART_LABELS if part != "lake" and part in now):
        return None
    return sorted(_source_reasons(stored, now, quiet_seconds, clock))


def capture_fingerprint(settings, sources: dict | None = None) -> dict:
    """What a raw-only capture reads: the sources' files, the configuration and the installed code."""
    sources = source_files(settings) if sources is None else sources
    try:
        config = hashlib.sha256(settings.config_path.read_bytes()).hexdigest()
    except OSError:
        config = None
    return json.loads(json.dumps({"version": CAPTURE_STATE_VERSION, "sources": sources,
                                  "config": [str(settings.config_path), config], "code": _code()}))


def read_state(warehouse_path: Path | str, capture: bool = False) -> dict | None:
    """The stored record of the last successful build (`capture`: of the last raw-only capture)."""
    try:
        return json.loads((capture_state_path if capture else state_path)(warehouse_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def forget_state(warehouse_path: Path | str, capture: bool = False) -> None:
    try:
        (capture_state_path if capture else state_path)(warehouse_path).unlink()
    except (FileNotFoundError, NotADirectoryError):  # none stored (the build then says what is wrong with the path)
        pass


def write_state(settings, before: dict, started_at: float) -> None:
    """Store what a successful build saw: the sources as they were when it started (a line written during
    the build makes the next one run), the rest as the build left it."""
    from star_pipeline.storage.published_copies import publish_text

    sources = {name: {k: v for k, v in part.items() if k != "mtimes_ns"} for name, part in before["sources"].items()}
    state = {**fingerprint(settings, sources), "started_at": started_at, "built_at": time.time()}
    publish_text(state_path(settings.warehouse_path), json.dumps(state, ensure_ascii=False))


def write_capture_state(settings, before: dict, started_at: float) -> None:
    """Store what a successful raw-only capture saw (the sources as they were when it started)."""
    from star_pipeline.storage.published_copies import publish_text

    sources = {name: {k: v for k, v in part.items() if k != "mtimes_ns"} for name, part in before["sources"].items()}
    state = {**capture_fingerprint(settings, sources), "started_at": started_at, "built_at": time.time()}
    publish_text(capture_state_path(settings.warehouse_path), json.dumps(state, ensure_ascii=False))


def read_step_seconds(warehouse_path: Path | str) -> dict[str, float]:
    """Step key -> seconds it took in the last successful build that ran it; {} before the first such build, or
    when the file cannot be read (the estimate then starts from this build's own steps)."""
    try:
        stored = json.loads(timings_path(warehouse_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    steps = stored.get("step_seconds") if isinstance(stored, dict) and stored.get("version") == TIMINGS_VERSION else None
    if not isinstance(steps, dict):
        return {}
    return {str(step): float(seconds) for step, seconds in steps.items()
            if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds >= 0}


def write_step_seconds(warehouse_path: Path | str, step_seconds: dict[str, float]) -> None:
    """After a successful build: its steps' times over the stored ones (a raw-only build replaces the raw
    steps' times and keeps the others')."""
    from star_pipeline.storage.published_copies import publish_text

    merged = {**read_step_seconds(warehouse_path), **{step: round(s, 3) for step, s in step_seconds.items()}}
    publish_text(timings_path(warehouse_path), json.dumps(
        {"version": TIMINGS_VERSION, "recorded_at": time.time(), "step_seconds": dict(sorted(merged.items()))}, indent=1))
