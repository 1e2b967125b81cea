"""Materializing the whole warehouse in-process: `star-pipeline build`, and the tests.

One pass, through the same Definitions as dagster dev:
1. the ingest job (raw capture and normalization, with their checks);
2. if it succeeded: every registered version of every classifier, after
   registering the current version of each classifier file;
3. the aggregate layer and star schema.
Runs are recorded in DAGSTER_HOME when it is set (so they show in the UI and
registered classifier versions persist), else in a throwaway instance.
A failed step or blocking check stops the layers above it; the exit code of
`star-pipeline build` is then non-zero.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

PROGRESS_LOGGING = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@dataclass
class PipelineResult:
    """The in-process runs of one build, ingest first."""

    results: list = field(default_factory=list)

    @property
    def success(self) -> bool:
        return bool(self.results) and all(r.success for r in self.results)

    @property
    def run_id(self) -> str:
        return self.results[0].run_id

    @property
    def all_events(self) -> list:
        return [event for result in self.results for event in result.all_events]

    def get_asset_check_evaluations(self) -> list:
        return [e for result in self.results for e in result.get_asset_check_evaluations()]

    def asset_materializations_for_node(self, node_name: str) -> list:
        found = []
        for result in self.results:
            try:
                found += result.asset_materializations_for_node(node_name)
            except Exception:  # the node is not in this run's job
                continue
        return found


def config_for(job, run_config: dict | None) -> dict | None:
    """The run config with only the op config entries that belong to `job` (each job rejects unknown ops)."""
    if not run_config or "ops" not in run_config:
        return run_config
    names = {node.name for node in job.graph.nodes}
    ops = {name: value for name, value in run_config["ops"].items() if name in names}
    config = {k: v for k, v in run_config.items() if k != "ops"}
    if ops:
        config["ops"] = ops
    return config


def runnable_versions(instance, spec, current: str | None, warehouse_path) -> tuple[list[str], list[str]]:
    """Registered versions a build can run: the current file's, and any whose text the warehouse stored."""
    import duckdb

    from star_pipeline.storage.warehouse import connect

    registered = instance.get_dynamic_partitions(spec.partitions.name)
    stored: set[str] = set()
    try:
        with connect(warehouse_path, read_only=True) as conn:
            stored = {r[0] for r in conn.execute("SELECT classifier_version FROM meta_classifier_configs").fetchall()}
    except duckdb.Error:
        pass
    runnable = [v for v in registered if v == current or v in stored]
    return runnable, [v for v in registered if v not in runnable]


def run_pipeline(defs, instance, classifiers_folder, *, run_config: dict | None = None, log=None) -> PipelineResult:
    from star_pipeline.classified.rules import classifier_file_versions
    from star_pipeline.classified.specs import CLASSIFIERS
    from star_pipeline.definitions import AGGREGATE_JOB, INGEST_JOB, classify_job_name
    from star_pipeline.storage.warehouse import shared_instance

    log = log or (lambda message: None)
    warehouse = defs.resources["warehouse"]

    def execute(job, **kwargs):
        # One database instance per job run (see shared_instance): no re-open per step, and
        # what DuckDB kept in memory during one job is given back before the next.
        with shared_instance(warehouse.database, lock_timeout_seconds=warehouse.lock_timeout_seconds,
                             config=warehouse.duckdb_config()):
            return job.execute_in_process(instance=instance, raise_on_error=False, run_config=config_for(job, run_config),
                                          **kwargs)

    outcome = PipelineResult()
    ingest = execute(defs.resolve_job_def(INGEST_JOB))
    outcome.results.append(ingest)
    if not ingest.success:
        log("ingest failed: the classified layer was not run")
        return outcome
    current = classifier_file_versions(classifiers_folder)
    for spec in CLASSIFIERS:
        partitions = spec.partitions.name
        version = current.get(spec.name)
        if version and not instance.has_dynamic_partition(partitions, version):
            instance.add_dynamic_partitions(partitions, [version])
            log(f"registered classifier version {version}")
        job = defs.resolve_job_def(classify_job_name(spec.name))
        runnable, stale = runnable_versions(instance, spec, version, warehouse.database)
        for skipped in stale:
            log(f"skipped {skipped}: registered, but neither the current file nor ever materialized "
                f"(remove it with `star-pipeline classifiers delete {skipped}`)")
        for registered in runnable:
            outcome.results.append(execute(job, partition_key=registered))
    outcome.results.append(execute(defs.resolve_job_def(AGGREGATE_JOB)))
    return outcome


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


def run_build(out=None) -> int:
    out = out or sys.stdout
    from dagster import DagsterEventType, DagsterInstance

    from star_pipeline.config import load_settings
    from star_pipeline.definitions import defs
    from star_pipeline.storage.warehouse import WarehouseFileError, WarehouseLockedError

    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    started = time.monotonic()
    print("star-pipeline build: materializing every layer ...", file=out, flush=True)
    # INFO shows each step's own progress lines (files read, lines captured) as they happen.
    try:
        outcome = run_pipeline(
            defs,
            instance,
            load_settings().classifiers_dir,
            run_config=PROGRESS_LOGGING,
            log=lambda message: print(f"  {message}", file=out, flush=True),
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
    return 0 if ok else 1
