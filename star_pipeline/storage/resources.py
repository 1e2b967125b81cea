"""Dagster resources: the warehouse connection (on dagster-duckdb) and the source folders."""

from __future__ import annotations

import contextlib
from contextlib import nullcontext
from collections.abc import Iterator

import duckdb
from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource

from star_pipeline.storage.published_copies import make_published_folder, retire_copies_beside
from star_pipeline.storage.warehouse import DEFAULT_MEMORY_LIMIT, derived_writer_lock, lake_location, open_connection

# Every asset and check that opens the warehouse joins this pool; dagster.yaml
# limits every pool to 1, so one step at a time holds DuckDB's writer lock.
WAREHOUSE_POOL = "duckdb_warehouse"


class WarehouseResource(DuckDBResource):
    """The one DuckDB warehouse file, or the DuckLake `lake_catalog` names (`database` then anchors this machine's
    spill folder). Use `connect()`: it waits for the lock, applies migrations and always closes.
    `published_anchor` (config's Settings.published_anchor; `database` when empty): what the published copies are
    named after, where every reader looks for them (on a lake, a folder every team machine reads);
    `machine_id`: the machine that publishes them, written with them."""

    lock_timeout_seconds: float = 60.0
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    lake_catalog: str = ""
    lake_data_path: str = ""
    published_anchor: str = ""
    machine_id: str = ""

    def duckdb_config(self) -> dict:
        return {"memory_limit": self.memory_limit, **self.connection_config}

    def publishing_anchor(self) -> str:
        """The published copies' anchor, its folder made (owner-only) when missing, and the copies an earlier version
        published beside `database` removed when they now go elsewhere: for the assets that publish."""
        anchor = self.published_anchor or self.database
        make_published_folder(anchor)
        if anchor != self.database:
            retire_copies_beside(self.database)
        return anchor

    def lake(self):
        """The DuckLake this resource names (storage/warehouse/lake_engine.py), or None for the single file."""
        return lake_location(self.lake_catalog, self.lake_data_path)

    @contextlib.contextmanager
    def connect(self, read_only: bool = False, derived: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """`derived=False` for the raw layer's own steps: on a DuckLake, every machine captures its raw lines,
        and only the elected writer writes the layers above (storage/warehouse/lake_engine.py)."""
        lock = derived_writer_lock(self.lake(), self.lock_timeout_seconds) if derived and not read_only else nullcontext()
        with lock:
            conn = open_connection(
                self.database,
                read_only=read_only,
                lock_timeout_seconds=self.lock_timeout_seconds,
                config=self.duckdb_config(),
                lake=self.lake(),
            )
            try:
                yield conn
            finally:
                conn.close()

    @contextlib.contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # dagster-duckdb's own version leaks the lock when the body raises.
        with self.connect() as conn:
            yield conn


class SourceFoldersResource(ConfigurableResource):
    """Where the agents write: per source name (star_pipeline/sources), the folders its files are in, and
    `machine_id` (`machine.id`), the machine they are on: the raw capture writes it on every row."""

    roots: dict[str, list[str]]
    machine_id: str
    partial_line_quiet_seconds: float = 600.0
    # the project folders' scan (storage/project_folders.py): `sources.project_roots` (None: the home
    # folder), its depth, and the warehouse beside which its result is kept
    project_roots: list[str] | None = None
    project_scan_depth: int = 4
    warehouse_path: str | None = None


class SearchResource(ConfigurableResource):
    """What search embeds texts with (`search.embedding_model`, storage/embeddings.py)."""

    embedding_model: str = "wordllama"
