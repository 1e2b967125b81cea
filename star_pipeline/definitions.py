"""The Dagster code location: every asset, check, job, sensor and resource of star_pipeline.

The configuration (the defaults overlaid by the user's file: config.py) is
read once here; a malformed file fails the code location load with a message
naming the file and key.
"""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from star_pipeline.aggregate.assets import aggregate_assets
from star_pipeline.aggregate.checks import aggregate_checks
from star_pipeline.budgets.assets import budgets_within_limits, published_budgets
from star_pipeline.classified.assets import ClassifiersResource, classified_assets
from star_pipeline.classified.checks import classified_checks
from star_pipeline.config import Settings, load_settings
from star_pipeline.normalized.assets import normalized_assets
from star_pipeline.normalized.checks import normalized_checks
from star_pipeline.orchestration.jobs import build_jobs
from star_pipeline.orchestration.schedules import build_schedules
from star_pipeline.orchestration.sensors import build_sensors
from star_pipeline.raw.assets import raw_capture_assets
from star_pipeline.raw.checks import raw_checks
from star_pipeline.storage.io_manager import WarehouseIOManager
from star_pipeline.storage.private_files import owner_only_umask
from star_pipeline.storage.resources import SearchResource, SourceFoldersResource, WarehouseResource


def build_definitions(settings: Settings) -> Definitions:
    database = str(settings.warehouse_path)
    lake = {"lake_catalog": settings.lake_catalog, "lake_data_path": settings.lake_data_path}
    jobs = build_jobs()
    normalized_keys = [key for a in normalized_assets for key in a.keys]
    return Definitions(
        assets=[*raw_capture_assets, *normalized_assets, *classified_assets, *aggregate_assets,
                published_budgets],
        asset_checks=[*raw_checks, *normalized_checks, *classified_checks, *aggregate_checks,
                      budgets_within_limits],
        jobs=list(jobs.values()),
        schedules=build_schedules() if settings.machine_role == "writer" else [],
        # One process per run, steps in order: starting a process per step costs seconds each on small
        # machines, and the single-writer pool serializes warehouse steps anyway.
        executor=in_process_executor,
        sensors=build_sensors(settings, jobs, normalized_keys),
        resources={
            "io_manager": WarehouseIOManager(
                database=database,
                lock_timeout_seconds=settings.lock_timeout_seconds,
                memory_limit=settings.memory_limit,
                **lake,
            ),
            "warehouse": WarehouseResource(
                database=database,
                lock_timeout_seconds=settings.lock_timeout_seconds,
                memory_limit=settings.memory_limit,
                published_anchor=str(settings.published_anchor),
                machine_id=settings.machine_id,
                **lake,
            ),
            "source_folders": SourceFoldersResource(
                roots={name: [str(p) for p in roots] for name, roots in settings.roots.items()},
                machine_id=settings.machine_id,
                partial_line_quiet_seconds=settings.partial_line_quiet_seconds,
                project_roots=None if settings.project_roots is None else [str(p) for p in settings.project_roots],
                project_scan_depth=settings.project_scan_depth,
                warehouse_path=database,
            ),
            "classifiers": ClassifiersResource(folder=str(settings.classifiers_dir)),
            "search": SearchResource(embedding_model=settings.embedding_model),
        },
    )


# dagster dev's code servers and the runs they start load this module: what they write
# (spill files, run history, compute logs) is the owner's only.
owner_only_umask()
defs = build_definitions(load_settings())
