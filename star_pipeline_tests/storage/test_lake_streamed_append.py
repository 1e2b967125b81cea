"""A streamed append (the raw capture) into a DuckLake runs on one thread, so its rows keep their insertion order,
and within the configured memory limit, not the lower stream limit the single file uses: the lake's Parquet writer
holds a whole row group in memory, and a 1 GB capture ran out of 256 MiB there (bench/ducklake.py's run). A DuckDB
catalog file: no PostgreSQL needed."""

import random

import pyarrow as pa
import pytest

from star_pipeline.storage import table_writes
from star_pipeline.storage.warehouse import LakeLocation, attach_lake
from star_pipeline.storage.table_writes import write_settings, write_table

ROWS = 32768  # one Parquet row group of the lake (storage/warehouse/lake_engine.py's parquet_row_group_size)
LINE = 2048


def lines() -> pa.RecordBatchReader:
    """ROWS lines of LINE bytes each (64 MiB, incompressible as a row group's worth of real lines is large), as the
    raw capture streams them."""
    rng = random.Random(5)
    schema = pa.schema([("byte_offset", pa.int64()), ("line_bytes", pa.binary())])

    def batches():
        for start in range(0, ROWS, 4096):
            yield pa.record_batch([pa.array(range(start, start + 4096), pa.int64()),
                                   pa.array([rng.randbytes(LINE) for _ in range(4096)])],
                                  schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def stream_into(conn, lake: bool) -> int:
    conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
    with write_settings(conn, (reader := lines()), "append", [], "1GiB", lake=lake):
        conn.execute("BEGIN TRANSACTION")
        rows = write_table(conn, schema="raw", table="t_lines", data=reader, mode="append")
        conn.execute("COMMIT")
    return rows


@pytest.fixture
def small_stream_limit(monkeypatch):
    # 16 MiB stands in for 256 MiB: a row group of 64 MiB does not fit, as 1 GB of real lines did not
    monkeypatch.setattr(table_writes, "STREAM_MEMORY_LIMIT_BYTES", 16 << 20)


def test_a_streamed_append_into_a_lake_keeps_the_configured_memory_limit(tmp_path, small_stream_limit):
    conn = attach_lake(LakeLocation(str(tmp_path / "catalog.ducklake"), str(tmp_path / "data") + "/"), False,
                       {"memory_limit": "1GiB", "threads": 1})
    try:
        conn.execute("USE warehouse")
        assert stream_into(conn, lake=True) == ROWS
        assert conn.execute("SELECT count(*), sum(octet_length(line_bytes)) FROM raw.t_lines").fetchone() == (ROWS, ROWS * LINE)
        assert conn.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "1.0 GiB"  # restored
    finally:
        conn.close()


def test_the_single_file_still_streams_within_the_lower_limit(tmp_path, small_stream_limit):
    import duckdb

    conn = duckdb.connect(str(tmp_path / "w.duckdb"), config={"memory_limit": "1GiB", "threads": 1})
    try:
        seen = []
        with write_settings(conn, lines(), "append", [], "1GiB"):
            seen.append(conn.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        assert seen == ["16.0 MiB"]
        assert stream_into(conn, lake=False) == ROWS  # DuckDB's own storage writes row groups as they fill
    finally:
        conn.close()


def test_a_streamed_append_into_a_lake_keeps_the_rows_in_insertion_order(tmp_path):
    """line_batches cuts work at rowids and relies on a long line's parts being consecutive rows: on a lake
    written by several threads, 26 of 300,000 rows were out of order."""
    schema = pa.schema([("seq", pa.int64()), ("line_bytes", pa.binary())])
    rows = 2048 * 147  # about 300,000
    reader = pa.RecordBatchReader.from_batches(schema, (
        pa.record_batch([pa.array(range(start, start + 2048), pa.int64()), pa.array([b"x" * 100] * 2048)], schema=schema)
        for start in range(0, rows, 2048)))
    conn = attach_lake(LakeLocation(str(tmp_path / "catalog.ducklake"), str(tmp_path / "data") + "/"), False,
                       {"memory_limit": "1GiB", "threads": 2})
    try:
        conn.execute("USE warehouse")
        conn.execute("CREATE SCHEMA raw")
        with write_settings(conn, reader, "append", [], "1GiB", lake=True):
            conn.execute("BEGIN TRANSACTION")
            written = write_table(conn, schema="raw", table="t_lines", data=reader, mode="append")
            conn.execute("COMMIT")
        assert conn.execute("SELECT current_setting('threads')").fetchone()[0] == 2  # restored
        assert written == rows
        out_of_order = conn.execute("SELECT count(*) FROM (SELECT seq, lag(seq) OVER (ORDER BY rowid) AS previous "
                                    "FROM raw.t_lines) WHERE seq <> previous + 1").fetchone()[0]
        assert out_of_order == 0
    finally:
        conn.close()
