"""DuckDB extensions, loaded from the pip packages that ship them (`duckdb-extension-<name>`, pinned to the
duckdb version): DuckDB would otherwise download them on first use, and star_pipeline works offline.

The lake engine loads DuckLake's and its catalogs' extensions with it; search and the dashboard load theirs
through the package's `load_extension`. Imports only common.py of the warehouse package."""

from __future__ import annotations

import importlib
from pathlib import Path

from star_pipeline.storage.warehouse.common import quote_literal


def load_extension(conn, name: str) -> None:
    """LOAD the extension `name` from its package's file (signed by DuckDB, so no unsigned loading is allowed)."""
    try:
        package = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError:
        raise RuntimeError(f"the DuckDB extension {name!r} needs `pip install duckdb-extension-{name}` (pinned in "
                           "pyproject.toml); reinstall star_pipeline.") from None
    import duckdb

    files = sorted(Path(package.__path__[0]).glob(f"extensions/v{duckdb.__version__}/{name}.duckdb_extension*"))
    if not files:
        raise RuntimeError(f"duckdb-extension-{name} holds no build for duckdb {duckdb.__version__}; install the "
                           "version pinned in pyproject.toml.")
    conn.execute(f"LOAD {quote_literal(str(files[0]))}")
