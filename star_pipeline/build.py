"""`star-pipeline build`: materialize the whole warehouse in-process, with progress.

The runs and their order are orchestration/in_process.py's (the same Definitions and
sequence as dagster dev). Runs are recorded in DAGSTER_HOME when it is set (so they show
in the UI and registered classifier versions persist), else in a throwaway instance.
A failed step or blocking check stops the layers above it, and the exit code is then
non-zero; a non-blocking check that fails prints a warning.
When nothing a build reads changed since the last successful one (storage/build_state.py), it
says so and stops before starting Dagster; when only some sources' files changed, it captures those sources
only (and, above raw, everything as usual); any other build skips the sources with no files that this machine
never captured (their steps would only make empty tables); `--force` runs every step anyway.
While the runs go on it shows per layer the steps done, the rows written, the time elapsed and an
estimate of the time left (orchestration/progress.py: bars on a terminal, else a line per step), and at
the end the five slowest steps; each step's time is kept for the next build's estimate.
`star-pipeline migrate-to-ducklake` (run_migrate_to_ducklake) ends in a build too: a single file's raw layer copied
into the DuckLake the configuration names, the other layers built there from it.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path


def nothing_new_message(stored: dict, now: dict, what: str = "build") -> str:
    built = datetime.fromtimestamp(stored["built_at"], timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    files = ", ".join(f"{name} {part['files']:,}" for name, part in now["sources"].items() if part["files"])
    return (f"star-pipeline build: nothing new since the last {what} ({built}); files unchanged per source: "
            f"{files or 'none'}. `star-pipeline build --force` runs every step anyway.")


def listed_sources(settings) -> dict:
    """Per source, its files as the build records them (storage/build_state.py's `source_files`), the project
    folders' files of the sources that write there included (as their sensors and raw steps find them)."""
    from star_pipeline.sources import SOURCES, project_markers
    from star_pipeline.storage.build_state import source_files
    from star_pipeline.storage.project_folders import ProjectScan, project_folders

    in_projects = [s for s in SOURCES if s.project_files and s.name in settings.roots]
    folders = {}
    if in_projects:
        found = project_folders(ProjectScan.of(settings.project_roots, settings.project_scan_depth,
                                               settings.warehouse_path), project_markers())
        folders = {s.name: (found, s.project_files) for s in in_projects}
    return source_files(settings, folders)


def run_build(out=None, force: bool = False, raw_only: bool = False) -> int:
    """`star-pipeline build`; `raw_only`: capture this machine's raw lines and stop (a team member's machine on a
    DuckLake; the elected writer rebuilds the layers above). A raw-only build keeps its own record
    (storage/build_state.py): one that finds nothing new ends before Dagster and the lake, and it leaves the
    record of the last full build alone. A `machine.role: raw-only` machine always builds raw only. Either
    build captures only the sources whose files changed when nothing else did (`changed_sources`)."""
    out = out or sys.stdout
    from star_pipeline.config import load_settings
    from star_pipeline.storage.build_state import (capture_fingerprint, changed_sources, changes, fingerprint,
                                                   forget_state, read_state, read_step_seconds, write_capture_state,
                                                   write_state, write_step_seconds)

    settings = load_settings()
    raw_only = raw_only or settings.machine_role == "raw-only"
    sources = listed_sources(settings)
    before = (capture_fingerprint if raw_only else fingerprint)(settings, sources)
    stored = None if force else read_state(settings.warehouse_path, capture=raw_only)
    reasons = changes(stored, before, settings.partial_line_quiet_seconds)
    if not force and not reasons:
        print(nothing_new_message(stored, before, 'raw-only capture' if raw_only else 'build'), file=out, flush=True)
        return 0
    only_sources = changed_sources(stored, before, settings.partial_line_quiet_seconds)
    forget_state(settings.warehouse_path, capture=raw_only)
    started_at = time.time()

    from dagster import DagsterInstance

    from star_pipeline.definitions import defs
    from star_pipeline.orchestration.in_process import run_pipeline
    from star_pipeline.orchestration.progress import BuildProgress
    from star_pipeline.storage.warehouse import WarehouseFileError, WarehouseLockedError

    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    started = time.monotonic()
    print(f"star-pipeline build: {'capturing raw lines only' if raw_only else 'materializing every layer'} ...",
          file=out, flush=True)
    if not force:
        print(f"  why: {'; '.join(reasons)}", file=out, flush=True)
    if only_sources is not None:
        print(f"  capturing only the sources whose files changed: {', '.join(only_sources) or 'none'}", file=out,
              flush=True)
    # Every job logs at INFO (orchestration/jobs.py, RUN_LOGGING): each step's own progress lines, on stderr.
    progress = BuildProgress(out, read_step_seconds(settings.warehouse_path), live=_is_terminal(out))
    try:
        with progress:
            outcome = run_pipeline(defs, instance, settings.classifiers_dir, log=progress.note, raw_only=raw_only,
                                   watch=progress, sources=only_sources,
                                   without_files=[] if force else [name for name, part in sources.items() if not part["files"]])
    except (WarehouseLockedError, WarehouseFileError) as exc:
        print(f"star-pipeline build: FAILED: {exc}", file=out, flush=True)
        return 1
    failed_checks = [e for e in outcome.get_asset_check_evaluations() if not e.passed and e.blocking]
    progress.print_slowest()
    elapsed = time.monotonic() - started
    ok = outcome.success and not failed_checks
    print(f"star-pipeline build: {'done' if ok else 'FAILED'} in {elapsed:.1f} s", file=out, flush=True)
    if ok:
        write_step_seconds(settings.warehouse_path, progress.seconds)
    if ok and raw_only:
        write_capture_state(settings, before, started_at)
    elif ok:
        instance.dispose()  # its run storage is final before the state records the registered versions
        write_state(settings, before, started_at)
    return 0 if ok else 1


def _is_terminal(out) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # not a file, or closed
        return False


def run_migrate_to_ducklake(source: Path | None = None, out=None) -> int:
    """`star-pipeline migrate-to-ducklake`: move a single-file warehouse into the DuckLake the configuration names.
    The raw layer and the meta tables that hold history are copied and verified (storage/file_to_lake.py), the
    other layers rebuilt there by `run_build(force=True)`, and the token totals of both printed side by side. The
    old file is only read and left where it is: delete it yourself once the lake serves you."""
    out = out or sys.stdout
    from star_pipeline.config import load_settings
    from star_pipeline.storage.file_to_lake import MigrationRefused, copy_into_lake, token_totals
    from star_pipeline.storage.warehouse import CATALOG, connect, quote_literal

    settings = load_settings()
    lake = settings.lake
    if lake is None:
        print(f"star-pipeline migrate-to-ducklake: {settings.config_path} names no lake. Set warehouse.kind: ducklake, "
              "warehouse.catalog and warehouse.data_path there first (docs/guide/team.md); warehouse.path "
              "may stay the old file's path, which is then read as the source.", file=out)
        return 2
    source = Path(source or settings.warehouse_path)
    if not source.is_file():
        print(f"star-pipeline migrate-to-ducklake: {source}: no such warehouse file. Give the old file with --from.",
              file=out)
        return 2
    print(f"star-pipeline migrate-to-ducklake: copying the raw layer of {source} into {lake.label} ...", file=out,
          flush=True)
    try:
        with connect(settings.warehouse_path, **settings.connect_options()) as conn:
            copied = copy_into_lake(conn, source, getattr(settings, "machine_id", None), out)
    except MigrationRefused as exc:
        print(f"star-pipeline migrate-to-ducklake: FAILED: {exc}", file=out)
        return 1
    print(f"  raw layer copied and verified: {len(copied)} tables, {sum(copied.values())} rows, the same keys as the file",
          file=out)
    print("  rebuilding the derived layers in the lake (star-pipeline build --force) ...", file=out, flush=True)
    if run_build(out=out, force=True) != 0:
        print("star-pipeline migrate-to-ducklake: the raw layer is in the lake, but the rebuild failed (above). Fix "
              "what it names and run `star-pipeline build`; do not migrate again.", file=out)
        return 1
    with connect(settings.warehouse_path, read_only=True, lake=lake) as conn:
        conn.execute(f"ATTACH {quote_literal(str(source))} AS old_file (READ_ONLY)")
        old, new = token_totals(conn, "old_file"), token_totals(conn, CATALOG)
    print(f"  token usage rows, tokens, cost: file {old}, lake {new}", file=out)
    if old is not None and old != new:
        print("  (they differ: the file was last built before some of its raw lines, or by another version of "
              "star_pipeline; the lake's figures are today's build of the same lines)", file=out)
    print(f"star-pipeline migrate-to-ducklake: done. {source} is unchanged; delete it once the lake serves you.", file=out)
    return 0
