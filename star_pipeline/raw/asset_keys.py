"""The raw layer's asset keys: `raw/<source>_lines` and `raw/<source>_files` for every registered source."""

from dagster import AssetKey

from star_pipeline.sources import Source


def lines_key(source: Source) -> AssetKey:
    return AssetKey(["raw", f"{source.name}_lines"])


def files_key(source: Source) -> AssetKey:
    return AssetKey(["raw", f"{source.name}_files"])
