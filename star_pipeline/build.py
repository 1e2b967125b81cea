"""`star-pipeline build`: materialize the whole warehouse in-process, with progress.

The runs and their order are orchestration/in_process.py's (the same Definitions and
sequence as dagster dev). Runs are recorded in DAGSTER_HOME when it is set (so they show
in the UI and registered classifier versions persist), else in a throwaway instance.
A failed step or blocking check stops the layers above it, and the exit code is then
non-zero; a non-blocking check that fails prints a warning.
When nothing a build reads changed since the last successful one (storage/build_state.py), it
says so and stops before starting Dagster; `--force` runs every step anyway.
While the runs go on it shows per layer the steps done, the rows written, the time elapsed and an
estimate of the time left (orchestration/progress.py: bars on a terminal, else a line per step), and at
the end the five slowest steps; each step's time is kept for the next build's estimate.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone


def nothing_new_message(stored: dict, now: dict) -> str:
    built = datetime.fromtimestamp(stored["built_at"], timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    files = ", ".join(f"{name} {part['files']:,}" for name, part in now["sources"].items() if part["files"])
    return (f"star-pipeline build: nothing new since the last build ({built}); files unchanged per source: "
            f"{files or 'none'}. `star-pipeline build --force` runs every step anyway.")


def run_build(out=None, force: bool = False, raw_only: bool = False) -> int:
    """`star-pipeline build`; `raw_only`: capture this machine's raw lines and stop (a team member's machine on a
    DuckLake; the elected writer rebuilds the layers above). A raw-only build always runs (a capture that finds
    nothing new is quick) and leaves the record of the last full build alone. A `machine.role: raw-only` machine
    always builds raw only."""
    out = out or sys.stdout
    from star_pipeline.config import load_settings
    from star_pipeline.storage.build_state import (changes, fingerprint, forget_state, read_state, read_step_seconds,
                                                   write_state, write_step_seconds)

    settings = load_settings()
    raw_only = raw_only or settings.machine_role == "raw-only"
    before = None if raw_only else fingerprint(settings)
    if not force and not raw_only:
        stored = read_state(settings.warehouse_path)
        reasons = changes(stored, before, settings.partial_line_quiet_seconds)
        if not reasons:
            print(nothing_new_message(stored, before), file=out, flush=True)
            return 0
    if not raw_only:
        forget_state(settings.warehouse_path)
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
    if not force and not raw_only:
        print(f"  why: {'; '.join(reasons)}", file=out, flush=True)
    # Every job logs at INFO (orchestration/jobs.py, RUN_LOGGING): each step's own progress lines, on stderr.
    progress = BuildProgress(out, read_step_seconds(settings.warehouse_path), live=_is_terminal(out))
    try:
        with progress:
            outcome = run_pipeline(defs, instance, settings.classifiers_dir, log=progress.note, raw_only=raw_only,
                                   watch=progress)
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
    if ok and not raw_only:
        instance.dispose()  # its run storage is final before the state records the registered versions
        write_state(settings, before, started_at)
    return 0 if ok else 1


def _is_terminal(out) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # not a file, or closed
        return False
