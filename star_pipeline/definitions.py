"""The Dagster code location: every asset, check and resource of star_pipeline.

The configuration (config/star_pipeline.yaml, or $STAR_PIPELINE_CONFIG) is
read once here; a malformed file fails the code location load with a message
naming the file and key.
"""

from __future__ import annotations

from dagster import Definitions

from star_pipeline.config import Settings, load_settings
from star_pipeline.normalized.assets import normalized_assets
from star_pipeline.normalized.checks import normalized_checks
from star_pipeline.raw.assets import raw_capture_assets
from star_pipeline.raw.checks import raw_checks
from star_pipeline.storage.io_manager import WarehouseIOManager
from star_pipeline.storage.resources import SourceFoldersResource, WarehouseResource


def build_definitions(settings: Settings) -> Definitions:
    database = str(settings.warehouse_path)
    return Definitions(
        assets=[*raw_capture_assets, *normalized_assets],
        asset_checks=[*raw_checks, *normalized_checks],
        resources={
            "io_manager": WarehouseIOManager(
                database=database,
                lock_timeout_seconds=settings.lock_timeout_seconds,
                memory_limit=settings.memory_limit,
            ),
            "warehouse": WarehouseResource(
                database=database,
                lock_timeout_seconds=settings.lock_timeout_seconds,
                memory_limit=settings.memory_limit,
            ),
            "source_folders": SourceFoldersResource(
                claude_code_roots=[str(p) for p in settings.claude_code_roots],
                codex_roots=[str(p) for p in settings.codex_roots],
                hook_spool_dir=str(settings.hook_spool_dir),
                partial_line_quiet_seconds=settings.partial_line_quiet_seconds,
            ),
        },
    )


defs = build_definitions(load_settings())
