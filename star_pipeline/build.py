"""`star-pipeline build`: materialize every asset in-process, through the same Definitions as dagster dev.

Runs are recorded in DAGSTER_HOME when it is set (so they show in the UI),
else in a throwaway instance. Progress is printed per step; the exit code is
non-zero when a step fails or a blocking check fails.
"""

from __future__ import annotations

import os
import sys
import time


def run_build(select: str | None = None, out=None) -> int:
    out = out or sys.stdout
    from dagster import AssetSelection, DagsterEventType, DagsterInstance

    from star_pipeline.definitions import defs

    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    job = defs.resolve_implicit_global_asset_job_def()
    selection = AssetSelection.from_coercible(select) if select else None
    asset_selection = None
    if selection is not None:
        asset_selection = selection.resolve(defs.resolve_asset_graph())
    started = time.monotonic()
    print(f"star-pipeline build: materializing {'all assets' if not select else select} ...", file=out, flush=True)
    # INFO shows each step's own progress lines (files read, lines captured) as they happen.
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        asset_selection=asset_selection,
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    )
    failed_checks = []
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            rows = mat.metadata.get("rows_written")
            print(f"  materialized {mat.asset_key.to_user_string()}: {rows.value if rows else '?'} rows written", file=out)
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            status = "passed" if evaluation.passed else "FAILED"
            print(f"  check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} {status}", file=out)
            if not evaluation.passed:
                failed_checks.append(evaluation)
                if evaluation.description:
                    print(f"    {evaluation.description}", file=out)
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            while error is not None and error.cause is not None:
                error = error.cause  # the user's exception, not Dagster's wrapper
            print(f"  step {event.step_key} FAILED: {error.message.strip() if error else ''}", file=out)
    elapsed = time.monotonic() - started
    ok = result.success and not failed_checks
    print(f"star-pipeline build: {'done' if ok else 'FAILED'} in {elapsed:.1f} s", file=out, flush=True)
    return 0 if ok else 1
