"""`star-pipeline build`: materialize the whole warehouse in-process, with progress.

The runs and their order are orchestration/in_process.py's (the same Definitions and
sequence as dagster dev). Runs are recorded in DAGSTER_HOME when it is set (so they show
in the UI and registered classifier versions persist), else in a throwaway instance.
A failed step or blocking check stops the layers above it, and the exit code is then
non-zero; a non-blocking check that fails prints a warning.
When nothing a build reads changed since the last successful one (storage/build_state.py), it
says so and stops before starting Dagster; `--force` runs every step anyway.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone


def step_error(error) -> str:
    """What a failed step says to a user: our own message when the warehouse explained the failure (DuckDB's
    error, the table, what to do), else the exception beneath Dagster's wrappers."""
    while error is not None:
        if error.cause is None or (error.cls_name or "") == "WarehouseWriteError":
            return error.message.strip()
        error = error.cause
    return ""


def problems_reported(metadata) -> list[str]:
    """What a raw capture could not read or had to skip, from its manifest's materialization metadata."""
    problems = []
    unreadable = metadata.get("unreadable_files")
    for path, reason in (unreadable.value if unreadable else {}).items():
        problems.append(f"could not read {path} ({reason}); what was stored of it is kept, the next run tries again")
    skipped = metadata.get("skipped")
    problems += [f"skipped {entry}" for entry in (skipped.value if skipped else [])]
    return problems


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
    from star_pipeline.storage.build_state import changes, fingerprint, forget_state, read_state, write_state

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

    from dagster import DagsterEventType, DagsterInstance

    from star_pipeline.definitions import defs
    from star_pipeline.orchestration.in_process import run_pipeline
    from star_pipeline.storage.warehouse import WarehouseFileError, WarehouseLockedError

    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    started = time.monotonic()
    print(f"star-pipeline build: {'capturing raw lines only' if raw_only else 'materializing every layer'} ...",
          file=out, flush=True)
    if not force and not raw_only:
        print(f"  why: {'; '.join(reasons)}", file=out, flush=True)
    # Every job logs at INFO (orchestration/jobs.py, RUN_LOGGING): each step's own progress lines as they happen.
    try:
        outcome = run_pipeline(
            defs,
            instance,
            settings.classifiers_dir,
            log=lambda message: print(f"  {message}", file=out, flush=True),
            raw_only=raw_only,
        )
    except (WarehouseLockedError, WarehouseFileError) as exc:
        print(f"star-pipeline build: FAILED: {exc}", file=out, flush=True)
        return 1
    failed_checks = []
    for event in outcome.all_events:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            rows = mat.metadata.get("rows_written")
            partition = f" [{mat.partition}]" if mat.partition else ""
            print(
                f"  materialized {mat.asset_key.to_user_string()}{partition}: {rows.value if rows else '?'} rows written",
                file=out,
            )
            for problem in problems_reported(mat.metadata):
                print(f"    {problem}", file=out)
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            # a non-blocking check (unknown_models_listed) warns; only blocking ones fail the build
            status = "passed" if evaluation.passed else ("FAILED" if evaluation.blocking else "WARNING")
            print(f"  check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} {status}", file=out)
            if not evaluation.passed:
                if evaluation.blocking:
                    failed_checks.append(evaluation)
                if evaluation.description:
                    print(f"    {evaluation.description}", file=out)
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            print(f"  step {event.step_key} FAILED: {step_error(event.event_specific_data.error)}", file=out)
    elapsed = time.monotonic() - started
    ok = outcome.success and not failed_checks
    print(f"star-pipeline build: {'done' if ok else 'FAILED'} in {elapsed:.1f} s", file=out, flush=True)
    if ok and not raw_only:
        instance.dispose()  # its run storage is final before the state records the registered versions
        write_state(settings, before, started_at)
    return 0 if ok else 1
