"""The project's I/O manager: every asset output lands in the one DuckDB file.

Asset keys are `[layer, table]` and map to DuckDB schema `layer`, table `table`.
Each output is written in ONE transaction together with its `meta_load_log`
row, so a crash leaves the old rows or the new rows, never a mix. The write
mode and keys come from the asset's metadata:

    metadata={"write_mode": "append", "key_columns": ["path", "file_version", "byte_offset"]}

(`write_mode` defaults to `replace`; `replace_partition` also needs
`partition_column`, whose value is the run's partition key, or each one a
`PartitionWrites` output names: one transaction each). Every materialization gets
row count, column schema (DuckDB's types; the descriptions are the asset's,
storage/table_docs.py) and a short preview of the columns the table's doc names as
metadata. Downstream assets receive a `WarehouseTable` (the table's name), and read
it with SQL.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime, timezone

from dagster import (
    ConfigurableIOManager,
    InputContext,
    MetadataValue,
    OutputContext,
    TableColumn,
    TableSchema,
)

from star_pipeline.storage.load_log import record_load
from star_pipeline.storage.table_docs import NEVER_PREVIEWED, PREVIEW_COLUMNS_KEY
from star_pipeline.storage.table_writes import (
    PartitionWrites,
    WarehouseTable,
    record_table_version,
    replayable,
    write_settings,
    write_table,
)
from star_pipeline.storage.warehouse import (
    DEFAULT_MEMORY_LIMIT,
    WarehouseWriteError,
    derived_writer_lock,
    lake_location,
    open_connection,
    quote_ident,
    retry_on_conflict,
    write_failure,
)

PREVIEW_ROWS = 5
PREVIEW_CELL_CHARS = 44  # a Claude Code transcript's name (a UUID and .jsonl) fits whole, with its slash


def table_for(asset_key_path: list[str]) -> tuple[str, str]:
    if len(asset_key_path) != 2:
        raise ValueError(f"warehouse asset keys are [layer, table]; got {asset_key_path}")
    return asset_key_path[0], asset_key_path[1]


class WarehouseIOManager(ConfigurableIOManager):
    """Writes asset outputs to the DuckDB warehouse; see the module docstring for modes."""

    database: str
    lock_timeout_seconds: float = 60.0
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    lake_catalog: str = ""  # warehouse.kind: ducklake (storage/warehouse/lake_engine.py); "" for the single file
    lake_data_path: str = ""

    def _lake(self):
        return lake_location(self.lake_catalog, self.lake_data_path)

    def _connect(self):
        return open_connection(
            self.database, lock_timeout_seconds=self.lock_timeout_seconds, config={"memory_limit": self.memory_limit},
            lake=self._lake(),
        )

    def handle_output(self, context: OutputContext, obj: object) -> None:
        schema, table = table_for(context.asset_key.path)
        metadata = context.definition_metadata or {}
        partition_key = context.partition_key if context.has_partition_key else None
        writes = obj.writes if isinstance(obj, PartitionWrites) else ((partition_key, obj),)
        if not writes:  # nothing to write in this run (a classifier absent from every revision it ran)
            context.add_output_metadata({"rows_written": 0})
            return
        # above raw, on a PostgreSQL lake: one machine at a time (storage/warehouse/lake_engine.py)
        lock = derived_writer_lock(self._lake(), self.lock_timeout_seconds) if schema != "raw" else nullcontext()
        with lock:
            conn = self._connect()
            try:
                rows = sum(self._write_replaying(conn, context, schema, table, metadata, key, data)
                           for key, data in writes)
                context.add_output_metadata(describe_table(conn, schema, table, rows, metadata.get(PREVIEW_COLUMNS_KEY)))
            finally:
                conn.close()

    def _write_replaying(self, conn, context: OutputContext, schema: str, table: str, metadata: dict, partition_key,
                         obj) -> int:
        """`_write`, tried again when a DuckLake commit lost to another machine's write of the same table (the
        raw manifests of several machines), unless its rows were a stream this attempt consumed."""
        if not replayable(obj):
            return self._write(conn, context, schema, table, metadata, partition_key, obj)
        return retry_on_conflict(lambda: self._write(conn, context, schema, table, metadata, partition_key, obj),
                                 log=context.log.warning)

    def _write(self, conn, context: OutputContext, schema: str, table: str, metadata: dict, partition_key, obj) -> int:
        """One write and its meta_load_log row, in one transaction; the rows written."""
        mode = getattr(obj, "write_mode", None) or metadata.get("write_mode", "replace")
        asset_label = context.asset_key.to_user_string()
        run_id = context.run_id
        started_at = datetime.now(timezone.utc)
        key_columns = list(getattr(obj, "key_columns", None) or metadata.get("key_columns", []))
        with write_settings(conn, obj, mode, key_columns, self.memory_limit, lake=self._lake() is not None):
            conn.execute("BEGIN TRANSACTION")
            try:
                rows = write_table(
                    conn,
                    schema=schema,
                    table=table,
                    data=obj,
                    mode=mode,
                    key_columns=key_columns,
                    partition_column=metadata.get("partition_column"),
                    partition_key=partition_key,
                )
                if getattr(obj, "table_version", None):
                    record_table_version(conn, schema, table, obj.table_version)
                for statement, params in getattr(obj, "after_write", ()):
                    conn.execute(statement, params)
                record_load(
                    conn, run_id=run_id, asset_key=asset_label, partition_key=partition_key, write_mode=mode,
                    started_at=started_at, completed_at=datetime.now(timezone.utc), rows_written=rows, status="success",
                )
                conn.execute("COMMIT")
            except BaseException as exc:
                self._after_failure(conn, exc, run_id, asset_label, partition_key, mode, started_at)
                if isinstance(exc, Exception) and not isinstance(exc, WarehouseWriteError):
                    raise write_failure(f"{schema}.{table}", exc, self.memory_limit) from exc
                raise
        return rows

    @staticmethod
    def _after_failure(conn, exc: BaseException, run_id, asset_label, partition_key, mode, started_at) -> None:
        """Roll back and log the failure, never letting either hide the error that caused it.

        A failed COMMIT has already ended the transaction (ROLLBACK then says there is none), and
        the log row is best effort: the warehouse itself may be what failed.
        """
        try:
            conn.execute("ROLLBACK")
        except Exception:
            pass
        try:
            record_load(
                conn, run_id=run_id, asset_key=asset_label, partition_key=partition_key, write_mode=mode,
                started_at=started_at, completed_at=datetime.now(timezone.utc), rows_written=0, status="failure",
                error=f"{type(exc).__name__}: {exc}"[:2000],
            )
        except Exception:
            pass

    def load_input(self, context: InputContext) -> WarehouseTable:
        schema, table = table_for(context.asset_key.path)
        return WarehouseTable(schema, table)


def describe_table(conn, schema: str, table: str, rows_written: int, preview_columns: list[str] | None = None) -> dict:
    """Row count, column schema (with DuckDB's types) and a short preview of a stored table, as Dagster metadata.

    The preview shows `preview_columns` (the table's doc names them: the ones that tell its rows apart),
    in that order, or, for a table without a doc, every column; never a column of NEVER_PREVIEWED nor
    bytes, so no transcript text reaches Dagster's event log.
    """
    target = f"{quote_ident(schema)}.{quote_ident(table)}"
    # The columns and their types from a query bound, not run; then the row count beside the first rows of the
    # previewed columns only (an empty preview is an empty table). On a DuckLake each statement costs catalog
    # reads (three took 46 ms a table, 2.7 s of a writer's rebuild), and the first rows of every column read a
    # row group of each: 45-70 ms for a fact table, 15 ms for its preview's columns.
    columns = [(d[0], str(d[1])) for d in conn.execute(f"SELECT * FROM {target} LIMIT 0").description]
    shown_ok = {c[0] for c in columns if c[0] not in NEVER_PREVIEWED and "BLOB" not in c[1]}
    wanted = preview_columns if preview_columns is not None else [c[0] for c in columns]
    names = [name for name in wanted if name in shown_ok]
    shown = "".join(f", {quote_ident(name)}" for name in names)
    rows = conn.execute(f"SELECT (SELECT count(*) FROM {target}){shown} FROM {target} LIMIT {PREVIEW_ROWS}").fetchall()
    total = rows[0][0] if rows else 0
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    if names:
        for row in rows:
            lines.append("| " + " | ".join(_cell(value) for value in row[1:]) + " |")
    else:
        lines = ["(no preview: this table's doc names no column that may be shown)"]
    return {
        "dagster/row_count": MetadataValue.int(total),
        "rows_written": MetadataValue.int(rows_written),
        "dagster/column_schema": MetadataValue.table_schema(
            TableSchema(columns=[TableColumn(name=c[0], type=c[1]) for c in columns])
        ),
        "preview": MetadataValue.md("\n".join(lines)),
    }


def _cell(value: object) -> str:
    """A value on one short line; a long path keeps its end (the file name), other text its start."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("utf-8", errors="replace")
    text = "" if value is None else str(value).replace("\n", " ")
    if len(text) > PREVIEW_CELL_CHARS:
        if text.startswith("/") and " " not in text:
            text = "…" + text[-(PREVIEW_CELL_CHARS - 1):]
        else:
            text = text[: PREVIEW_CELL_CHARS - 1] + "…"
    return text.replace("|", "\\|").replace("\x00", "\\0")
