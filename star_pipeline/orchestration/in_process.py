"""The whole pipeline in one process, in the order sequence.py gives: `star-pipeline build` and the tests.

1. the ingest job (raw capture and normalization, with their checks);
2. if it succeeded, after registering the classifiers folder's current revision: one run that
   classifies with every registered revision and rebuilds the aggregate layer and star schema.
Each job run gets one database instance (`shared_instance`) and, on a DuckLake, a job that writes above raw
holds the derived layers' lock for the whole run (`derived_writer_lock`). A watcher (`star-pipeline build`'s progress,
orchestration/progress.py) is told the jobs before the first starts and follows every event of their runs
as it happens: each run's id is chosen here, and the instance calls the watcher for each event it stores.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


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


def lost_versions(instance, current: dict[str, str], warehouse_path, lake=None) -> list[str]:
    """Versions in registered revisions that no run can classify with: neither a current file's nor stored."""
    import duckdb

    from star_pipeline.classified.specs import CLASSIFIER_REVISIONS, revision_versions
    from star_pipeline.storage.warehouse import connect

    stored: set[str] = set()
    try:
        with connect(warehouse_path, read_only=True, lake=lake) as conn:
            stored = {r[0] for r in conn.execute("SELECT classifier_version FROM meta_classifier_configs").fetchall()}
    except duckdb.Error:
        pass
    registered = {v for r in instance.get_dynamic_partitions(CLASSIFIER_REVISIONS.name) for v in revision_versions(r).values()}
    return sorted(registered - stored - set(current.values()))


def only_sources(defs, sources, *keep_groups: str) -> list:
    """The asset selection of the raw steps of `sources` (source names) and every asset of `keep_groups` (their
    checks come with them): a build whose other sources' files did not change skips their raw steps (each would
    find nothing new, at a lake round trip or more apiece). Given to `execute_in_process(asset_selection=)`: a
    job narrowed by `get_subset` keeps the whole job's op config and is refused."""
    from dagster import AssetSelection

    from star_pipeline.raw.asset_keys import files_key, lines_key
    from star_pipeline.sources import by_name

    keep = set(AssetSelection.groups(*keep_groups).resolve(defs.resolve_asset_graph())) if keep_groups else set()
    return sorted({key for name in sources for key in (lines_key(by_name(name)), files_key(by_name(name)))} | keep)


def run_pipeline(defs, instance, classifiers_folder, *, run_config: dict | None = None, log=None,
                 raw_only: bool = False, watch=None, sources=None, without_files=()) -> PipelineResult:
    """Ingest, then classify and rebuild; `raw_only`: capture this machine's raw lines and stop (a team
    member's machine on a DuckLake, which leaves the layers above to the elected writer). `watch`: an object
    whose `planned(jobs)` gets the jobs the build means to run, before the first starts, and whose
    `event(entry)` gets every event of their runs as the instance stores it. `sources`: the only sources whose
    raw steps run (source names; None: every source). `without_files`: the sources with no files on disk now; when
    every source would run, those this machine never captured are skipped (`raw.tables.captured_sources`: a
    first build runs the steps of the sources it has files of, not all eighteen)."""
    from star_pipeline.classified.rules import classifier_file_versions
    from star_pipeline.classified.specs import CLASSIFIER_REVISIONS, revision_key, unregistered_files, unregistered_message
    from star_pipeline.orchestration.jobs import CAPTURE_JOB, INGEST_JOB
    from star_pipeline.orchestration.sequence import after_ingest
    from contextlib import nullcontext

    from star_pipeline.raw.tables import captured_sources
    from star_pipeline.sources import SOURCES, by_name
    from star_pipeline.storage.warehouse import derived_writer_lock, shared_instance

    log = log or (lambda message: None)
    warehouse = defs.resources["warehouse"]

    def execute(job, selection=None, choose=None, **kwargs):
        """`choose`: called in the run's database instance, before the run, with `selection`; returns the one to run."""
        run_id = str(uuid.uuid4())  # as Dagster makes one; known before the run starts, so its events can be followed
        if watch is not None:
            instance.add_event_listener(run_id, watch.event)
        # One database instance per job run (see shared_instance): no re-open per step, and
        # what DuckDB kept in memory during one job is given back before the next.
        # On a DuckLake, a job that writes above raw holds the derived layers' lock for the whole run: one machine
        # rebuilds at a time, and its steps take the (re-entrant) lock without a catalog round trip each.
        derived = job.name != CAPTURE_JOB
        with derived_writer_lock(warehouse.lake(), warehouse.lock_timeout_seconds) if derived else nullcontext(), \
                shared_instance(warehouse.database, lock_timeout_seconds=warehouse.lock_timeout_seconds,
                                config=warehouse.duckdb_config(), lake=warehouse.lake()):
            if choose is not None:
                selection = choose(selection)
            return job.execute_in_process(instance=instance, raise_on_error=False, run_config=config_for(job, run_config),
                                          run_id=run_id, asset_selection=selection, **kwargs)

    def planned(*jobs_and_selections):
        if watch is not None:
            watch.planned([job if selection is None else job.get_subset(asset_selection=set(selection))
                           for job, selection in jobs_and_selections])

    def skip_never_captured(keep_groups):
        """`choose` for a run of every source: without the sources that have no files and were never captured here."""
        def choose(selection):
            if sources is not None or not without_files:
                return selection
            idle = [by_name(name) for name in without_files]
            with warehouse.connect(derived=False) as conn:
                held = captured_sources(conn, idle, defs.resources["source_folders"].machine_id)
            skipped = {source.name for source in idle} - held
            if not skipped:
                return selection
            log(f"skipped the raw steps of the sources with no files that were never captured: {', '.join(sorted(skipped))}")
            return only_sources(defs, [s.name for s in SOURCES if s.name not in skipped], *keep_groups)
        return choose

    outcome = PipelineResult()
    capture, ingest_job = defs.resolve_job_def(CAPTURE_JOB), defs.resolve_job_def(INGEST_JOB)
    capture_selection = ingest_selection = None
    if sources is not None:
        capture_selection = only_sources(defs, sources)
        ingest_selection = only_sources(defs, sources, "normalized")
    if raw_only:
        if capture_selection != []:
            def plan_capture(selection):
                selection = skip_never_captured(())(selection)
                planned((capture, selection))
                return selection
            outcome.results.append(execute(capture, capture_selection, choose=plan_capture))
        return outcome

    def plan_ingest(selection):
        selection = skip_never_captured(("normalized",))(selection)
        if watch is not None:  # the job after the ingest as it will be chosen below, the folder's revision registered
            revision = revision_key(classifier_file_versions(classifiers_folder))
            registered = instance.get_dynamic_partitions(CLASSIFIER_REVISIONS.name)
            then, _ = after_ingest([*registered, revision] if revision else registered)
            planned((ingest_job, selection), (defs.resolve_job_def(then), None))
        return selection

    ingest = execute(ingest_job, ingest_selection, choose=plan_ingest)
    outcome.results.append(ingest)
    if not ingest.success:
        log("ingest failed: the classified layer was not run")
        return outcome
    current = classifier_file_versions(classifiers_folder)
    unregistered = unregistered_files(current)
    if unregistered:
        log(unregistered_message(classifiers_folder, unregistered))
    revision = revision_key(current)
    if revision and not instance.has_dynamic_partition(CLASSIFIER_REVISIONS.name, revision):
        instance.add_dynamic_partitions(CLASSIFIER_REVISIONS.name, [revision])
        log(f"registered classifiers revision {revision}")
    for lost in lost_versions(instance, current, warehouse.database, warehouse.lake()):
        log(f"skipped {lost}: in a registered revision, but neither the current file nor ever materialized "
            f"(remove it with `star-pipeline classifiers delete {lost}`)")
    then, run_arguments = after_ingest(instance.get_dynamic_partitions(CLASSIFIER_REVISIONS.name))
    outcome.results.append(execute(defs.resolve_job_def(then), **run_arguments))
    return outcome
