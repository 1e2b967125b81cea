"""Writing one table of the warehouse, in the caller's transaction.

The I/O manager calls `write_table` for every asset output. Data arrives as an
Arrow table, an Arrow record batch reader (streamed, so Python never holds a
whole raw capture in memory), or an `SqlQuery` that DuckDB runs itself (the
SQL layers never round-trip through Python). Modes:

- `append`: insert the rows; with key columns, rows whose key is already in
  the table are skipped, so a run retried after a crash appends nothing twice.
  Without key columns an Arrow record batch reader is streamed straight into
  the table (no staging copy: this is how a gigabyte of raw lines is stored
  in bounded memory).
- `upsert`: rows replace the stored rows with the same key (and those an SqlQuery's
  `also_delete` names).
- `replace`: the table becomes exactly these rows (its columns follow the data).
- `replace_partition`: the rows whose partition column equals the partition key
  are replaced; every other partition is untouched.

An empty output still creates the table with the output's columns.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import duckdb

from star_pipeline.storage.warehouse import quote_ident, table_exists

WRITE_MODES = ("append", "upsert", "replace", "replace_partition")
_STAGE = "_star_pipeline_stage"
_SOURCE = "_star_pipeline_source"
STREAM_MEMORY_LIMIT_BYTES = 256 << 20
"""DuckDB's memory limit while a record batch stream is inserted (never raised above the configured one;
see `stream_memory_limit`).

A streamed insert needs little of DuckDB's own memory (its current row group, and
row groups on their way to disk), but within a higher limit DuckDB keeps more of
them in memory before writing: capturing 1 GB of transcripts peaked at 0.9 GiB of
the process within 512 MB, 0.65 GiB within 256 MB, at the same speed.
"""
_UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50}


@dataclass(frozen=True)
class SqlQuery:
    """A SELECT for DuckDB to run inside the write transaction; `params` bind its `?`s.

    `write_mode` overrides the asset's metadata for this one write (an incremental
    table rebuilt in full uses `replace`); `table_version` is recorded in
    `meta_table_versions` in the same transaction. `reads_target=False` says the
    SELECT does not read the table it writes, so `replace_partition` may delete
    the partition and insert the rows directly instead of staging them first.
    `also_delete` (upsert and append) is a predicate on the target's rows: those rows go
    too, for groups whose keys may change (append: before the rows are inserted). `after_write` statements (SQL, params)
    run in the same transaction once the rows are written (bookkeeping that must
    commit with them). `key_columns` overrides the asset's metadata for this write.
    `any_row_order=True` says no reader depends on the order rows are stored in: DuckDB
    then inserts in parallel without holding rows back to keep the query's order
    (`preserve_insertion_order`); normalized_messages at 1 GB: 12 s -> 6.3 s within 512 MB.
    `more` holds further SELECTs (SQL, params) whose rows are appended after this one's, one
    statement each, in the same transaction: a write whose work is cut into parts to bound
    its memory (normalizing a gigabyte of lines) is still one write. The parts must not
    repeat each other's keys (they read disjoint rows): they are inserted as they come.
    """

    sql: str
    params: list = field(default_factory=list)
    write_mode: str | None = None
    table_version: str | None = None
    reads_target: bool = True
    also_delete: str | None = None
    after_write: tuple[tuple[str, list], ...] = ()
    key_columns: tuple[str, ...] | None = None
    any_row_order: bool = False
    more: tuple[tuple[str, list], ...] = ()


@dataclass(frozen=True)
class PartitionWrites:
    """Several writes of one output, each under its own `partition_column` value (a classifier revision names
    one version of each classifier, and a run over several revisions writes each version once). Each
    (value, data) is written in turn in a transaction of its own, with its own meta_load_log row."""

    writes: tuple[tuple[str, object], ...]


@dataclass(frozen=True)
class ArrowRows:
    """An Arrow table to write, and statements (SQL, params) to run after it in the same transaction."""

    table: object  # pyarrow.Table
    after_write: tuple[tuple[str, list], ...] = ()


@dataclass(frozen=True)
class WarehouseTable:
    """What a downstream asset receives for an upstream table: its name, not its rows."""

    schema: str
    table: str

    @property
    def qualified_name(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.table)}"


def stage(conn: duckdb.DuckDBPyConnection, data: object) -> None:
    """Materialize `data` into a temp table named _star_pipeline_stage."""
    if isinstance(data, SqlQuery):
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {_STAGE} AS {data.sql}", data.params)
        return
    import pyarrow as pa

    if isinstance(data, ArrowRows):
        data = data.table
    if not isinstance(data, (pa.Table, pa.RecordBatchReader)):
        raise TypeError(
            f"the warehouse I/O manager stores pyarrow.Table, pyarrow.RecordBatchReader or SqlQuery, got {type(data).__name__}"
        )
    conn.register(_SOURCE, data)
    try:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {_STAGE} AS SELECT * FROM {_SOURCE}")
    finally:
        conn.unregister(_SOURCE)


def _is_arrow_stream(data: object) -> bool:
    if isinstance(data, SqlQuery):
        return False
    import pyarrow as pa

    return isinstance(data, pa.RecordBatchReader)


def _stream_append(conn: duckdb.DuckDBPyConnection, target: str, reader) -> int:
    """Insert every batch of `reader` into `target` as DuckDB pulls them; returns the row count."""
    import pyarrow as pa

    conn.register(_SOURCE, pa.Table.from_batches([], schema=reader.schema))
    try:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {target} AS SELECT * FROM {_SOURCE} WITH NO DATA")
    finally:
        conn.unregister(_SOURCE)
    conn.register(_SOURCE, reader)
    try:
        return conn.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {_SOURCE}").fetchone()[0]
    finally:
        conn.unregister(_SOURCE)


def replayable(data: object) -> bool:
    """Whether writing `data` again gives the same rows: not a stream of record batches, which a write consumes."""
    return not _is_arrow_stream(getattr(data, "table", data))


def is_streamed_append(data: object, mode: str, key_columns) -> bool:
    """`write_table` streams `data` straight into the table (an Arrow record batch reader, appended without keys)."""
    return mode == "append" and not key_columns and _is_arrow_stream(data)


@contextlib.contextmanager
def write_settings(conn: duckdb.DuckDBPyConnection, data: object, mode: str, key_columns, configured_memory_limit: str | None,
                   lake: bool = False) -> Iterator[None]:
    """The session settings one write runs under; wrap its whole transaction.

    - a streamed append runs within STREAM_MEMORY_LIMIT_BYTES when the `configured` limit is higher, except
      into a DuckLake (`lake`): its Parquet writer holds a whole row group (32,768 raw lines) in memory before
      writing it, and capturing the real-shaped 1 GB ran out of 256 MiB there (bench/ducklake.py's run of
      2026-11-30; 300 MB of 3 KB lines asked for 117 MiB at once); the configured limit governs it;
    - a streamed append into a DuckLake runs on one thread: with more, the lake stores the rows out of their
      insertion order (rowid order: 26 breaks in 300,000 rows measured), so the parts of a long raw line were
      no longer consecutive rowids, `line_batches` cut such lines in two, and the 1 GB build's
      every_raw_line_accounted_for check failed (8 lines parsed as two halves);
    - a query whose stored row order does not matter (`SqlQuery.any_row_order`) runs with
      `preserve_insertion_order` off.
    They are set before BEGIN and restored after COMMIT or ROLLBACK: inside a transaction that an
    error aborted, DuckDB refuses every statement, SET too, and a failing restore there would
    hide DuckDB's own error.
    """
    restore: list[tuple[str, object]] = []
    try:
        if is_streamed_append(data, mode, key_columns) and configured_memory_limit is not None and not lake:
            current = _setting_bytes(conn.execute("SELECT current_setting('memory_limit')").fetchone()[0])
            if current is not None and current > STREAM_MEMORY_LIMIT_BYTES:
                conn.execute(f"SET memory_limit = '{STREAM_MEMORY_LIMIT_BYTES}B'")
                restore.append(("memory_limit", configured_memory_limit))  # DuckDB renders it rounded: restore the text
        if lake and is_streamed_append(data, mode, key_columns):
            threads = conn.execute("SELECT current_setting('threads')").fetchone()[0]
            if threads != 1:
                conn.execute("SET threads = 1")
                restore.append(("threads", threads))
        if getattr(data, "any_row_order", False):
            keep_order = conn.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
            conn.execute("SET preserve_insertion_order = false")
            restore.append(("preserve_insertion_order", keep_order))
        yield
    finally:
        for name, value in reversed(restore):
            conn.execute(f"SET {name} = ?", [value])


def _setting_bytes(value: str) -> int | None:
    """DuckDB's rendering of a memory setting ("488.2 MiB", "0 bytes") in bytes; None if not understood."""
    try:
        number, unit = value.split()
        return int(float(number) * _UNITS[unit])
    except (ValueError, KeyError):
        return None


def _replace_partition(conn, schema: str, table: str, select_sql: str, params: list, partition_column: str, partition_key) -> int:
    """Delete the partition, insert `select_sql`'s rows, then prove none belongs to another partition."""
    target = f"{quote_ident(schema)}.{quote_ident(table)}"
    column = quote_ident(partition_column)
    if not table_exists(conn, schema, table):
        conn.execute(f"CREATE TABLE {target} AS SELECT * FROM ({select_sql}) LIMIT 0", params)
    conn.execute(f"DELETE FROM {target} WHERE {column} = ?", [partition_key])
    inserted = conn.execute(f"INSERT INTO {target} BY NAME SELECT * FROM ({select_sql})", params).fetchone()[0]
    in_partition = conn.execute(f"SELECT count(*) FROM {target} WHERE {column} = ?", [partition_key]).fetchone()[0]
    if inserted != in_partition:
        raise ValueError(
            f"{target}: {inserted - in_partition} output rows have {partition_column} other than partition {partition_key!r}."
        )
    return inserted


def stored_table_version(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> str | None:
    row = conn.execute("SELECT version FROM meta_table_versions WHERE table_name = ?", [f"{schema}.{table}"]).fetchone()
    return row[0] if row else None


def record_table_version(conn: duckdb.DuckDBPyConnection, schema: str, table: str, version: str) -> None:
    # MERGE, not INSERT OR REPLACE: a DuckLake has no key constraint to replace by.
    conn.execute(
        "MERGE INTO meta_table_versions t USING (SELECT ? AS table_name, ? AS version) s "
        "ON t.table_name = s.table_name WHEN MATCHED THEN UPDATE SET version = s.version, updated_at = now() "
        "WHEN NOT MATCHED THEN INSERT (table_name, version, updated_at) VALUES (s.table_name, s.version, now())",
        [f"{schema}.{table}", version],
    )


def write_table(
    conn: duckdb.DuckDBPyConnection,
    *,
    schema: str,
    table: str,
    data: object,
    mode: str,
    key_columns: list[str] | tuple[str, ...] = (),
    partition_column: str | None = None,
    partition_key: str | None = None,
) -> int:
    """Write `data` to schema.table in `mode`; returns the number of rows written.

    The caller wraps the transaction in `write_settings` (a streamed append's memory limit,
    `any_row_order`).
    """
    if mode not in WRITE_MODES:
        raise ValueError(f"unknown write mode {mode!r}; use one of {WRITE_MODES}")
    target = f"{quote_ident(schema)}.{quote_ident(table)}"
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
    if is_streamed_append(data, mode, key_columns):
        return _stream_append(conn, target, data)
    return _write(conn, schema, table, target, data, mode, key_columns, partition_column, partition_key)


def _write(conn, schema: str, table: str, target: str, data, mode: str, key_columns, partition_column, partition_key) -> int:
    more = getattr(data, "more", ())
    if more and mode not in ("append", "replace"):
        raise ValueError(f"{target}: a write in several statements appends them; mode {mode!r} cannot.")
    rows = _write_one(conn, schema, table, target, data, mode, key_columns, partition_column, partition_key)
    for sql, params in more:
        rows += conn.execute(f"INSERT INTO {target} BY NAME SELECT * FROM ({sql})", params).fetchone()[0]
    return rows


def _write_one(conn, schema: str, table: str, target: str, data, mode: str, key_columns, partition_column, partition_key) -> int:
    if isinstance(data, SqlQuery) and mode == "replace":
        # no staging copy (DuckDB binds the SELECT before it replaces the table, so it may read it)
        conn.execute(f"CREATE OR REPLACE TABLE {target} AS {data.sql}", data.params)
        return conn.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
    if mode == "replace_partition" and (not partition_column or partition_key is None):
        raise ValueError(f"{target}: replace_partition needs a partitioned asset and metadata 'partition_column'.")
    if isinstance(data, SqlQuery) and mode == "replace_partition" and not data.reads_target:
        return _replace_partition(conn, schema, table, data.sql, data.params, partition_column, partition_key)
    stage(conn, data)
    # The stage goes after a successful write; after a failed one the ROLLBACK takes it (it was created in the
    # transaction), and a DROP in the aborted transaction would only hide DuckDB's error.
    rows = _write_staged(conn, schema, table, target, data, mode, key_columns, partition_column, partition_key)
    conn.execute(f"DROP TABLE IF EXISTS {_STAGE}")
    return rows


def _write_staged(conn, schema: str, table: str, target: str, data, mode: str, key_columns, partition_column, partition_key) -> int:
    """The write of `data`, staged in _star_pipeline_stage, in `mode`."""
    if mode == "replace":
        conn.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM {_STAGE}")
        return conn.execute(f"SELECT count(*) FROM {_STAGE}").fetchone()[0]
    conn.execute(f"CREATE TABLE IF NOT EXISTS {target} AS SELECT * FROM {_STAGE} WITH NO DATA")
    key_match = " AND ".join(f"t.{quote_ident(c)} IS NOT DISTINCT FROM s.{quote_ident(c)}" for c in key_columns)
    if mode in ("append", "upsert") and key_columns:
        # Dedupe the batch against itself first (a key stated twice in one output is a bug upstream).
        dupes = conn.execute(
            f"SELECT count(*) - count(DISTINCT ({', '.join(quote_ident(c) for c in key_columns)})) FROM {_STAGE}"
        ).fetchone()[0]
        if dupes:
            raise ValueError(f"{target}: the output has {dupes} rows whose key {list(key_columns)} repeats.")
    if mode == "append":
        if isinstance(data, SqlQuery) and data.also_delete:
            conn.execute(f"DELETE FROM {target} WHERE {data.also_delete}")
        where = f" WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {key_match})" if key_columns else ""
        return conn.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {_STAGE} s{where}").fetchone()[0]
    if mode == "upsert":
        if not key_columns:
            raise ValueError(f"{target}: upsert needs key columns (asset metadata 'key_columns').")
        conn.execute(f"DELETE FROM {target} t USING {_STAGE} s WHERE {key_match}")
        if isinstance(data, SqlQuery) and data.also_delete:
            conn.execute(f"DELETE FROM {target} WHERE {data.also_delete}")
        return conn.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {_STAGE}").fetchone()[0]
    # replace_partition (the stage is read before the partition is deleted: the query may have read it)
    return _replace_partition(conn, schema, table, f"SELECT * FROM {_STAGE}", [], partition_column, partition_key)
