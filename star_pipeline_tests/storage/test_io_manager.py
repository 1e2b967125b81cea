"""The warehouse I/O manager: modes, one transaction per write, empty tables, metadata, load log, locks."""

import os
import subprocess
import sys

import duckdb
import pyarrow as pa
import pytest
from dagster import AssetKey, DagsterInstance, StaticPartitionsDefinition, asset, materialize

from star_pipeline.storage.io_manager import WarehouseIOManager
from star_pipeline.storage.table_writes import SqlQuery, WarehouseTable
from star_pipeline.storage.warehouse import DEFAULT_MEMORY_LIMIT, ROW_GROUP_ROWS, WarehouseLockedError, open_connection, shared_instance
from star_pipeline_tests.conftest import held_by_another_process


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "w" / "warehouse.duckdb")


def run(db, *assets, partition_key=None, raise_on_error=True, memory_limit=DEFAULT_MEMORY_LIMIT):
    return materialize(
        list(assets),
        resources={"io_manager": WarehouseIOManager(database=db, lock_timeout_seconds=2, memory_limit=memory_limit)},
        instance=DagsterInstance.ephemeral(),
        partition_key=partition_key,
        raise_on_error=raise_on_error,
    )


def rows(db, sql):
    conn = duckdb.connect(db, read_only=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def current_setting(db, name):
    """A DuckDB setting as a connection to `db` sees it (a cursor of the shared instance, when one is open)."""
    conn = open_connection(db)
    try:
        return conn.execute("SELECT current_setting(?)", [name]).fetchone()[0]
    finally:
        conn.close()


def make_append_asset(values):
    @asset(key=["raw", "events"], metadata={"write_mode": "append", "key_columns": ["id"]})
    def events():
        return pa.table({"id": pa.array(values, pa.int64()), "v": pa.array([f"v{x}" for x in values])})

    return events


def test_append_with_key_skips_rows_already_stored(db):
    run(db, make_append_asset([1, 2]))
    result = run(db, make_append_asset([2, 3]))
    assert rows(db, "SELECT id FROM raw.events ORDER BY id") == [(1,), (2,), (3,)]
    metadata = result.asset_materializations_for_node("raw__events")[0].metadata
    assert metadata["rows_written"].value == 1
    assert metadata["dagster/row_count"].value == 3
    assert [c.name for c in metadata["dagster/column_schema"].schema.columns] == ["id", "v"]
    assert "v1" in metadata["preview"].value


def test_the_metadata_counts_every_row_and_previews_five(db):
    result = run(db, make_append_asset(list(range(12))))
    metadata = result.asset_materializations_for_node("raw__events")[0].metadata
    assert metadata["dagster/row_count"].value == 12
    assert [(c.name, c.type) for c in metadata["dagster/column_schema"].schema.columns] == [("id", "BIGINT"), ("v", "VARCHAR")]
    assert metadata["preview"].value.count("\n| ") == 5  # the header line, then five rows



def test_an_empty_table_counts_no_rows(tmp_path):
    empty = run(str(tmp_path / "empty.duckdb"), make_append_asset([]))
    assert empty.asset_materializations_for_node("raw__events")[0].metadata["dagster/row_count"].value == 0


def make_streamed_asset(batches, fail_after=None):
    schema = pa.schema([("id", pa.int64()), ("v", pa.string())])

    def generate():
        for index, values in enumerate(batches):
            if fail_after is not None and index == fail_after:
                raise OSError("the disk went away mid-stream")
            yield pa.record_batch([pa.array(values, pa.int64()), pa.array([f"v{x}" for x in values])], schema=schema)

    @asset(key=["raw", "stream"], metadata={"write_mode": "append"})
    def stream():
        return pa.RecordBatchReader.from_batches(schema, generate())

    return stream


def test_streamed_append_creates_the_table_and_adds_every_batch(db):
    run(db, make_streamed_asset([]))  # nothing yet: the table exists, with the reader's columns
    assert rows(db, "SELECT count(*) FROM raw.stream") == [(0,)]
    result = run(db, make_streamed_asset([[1, 2], [3]]))
    run(db, make_streamed_asset([[4]]))
    assert rows(db, "SELECT id, v FROM raw.stream ORDER BY id") == [(1, "v1"), (2, "v2"), (3, "v3"), (4, "v4")]
    assert result.asset_materializations_for_node("raw__stream")[0].metadata["rows_written"].value == 3


def test_streamed_append_that_fails_midway_stores_none_of_its_batches(db):
    run(db, make_streamed_asset([[1]]))
    result = run(db, make_streamed_asset([[2], [3]], fail_after=1), raise_on_error=False)
    assert not result.success
    assert rows(db, "SELECT id FROM raw.stream") == [(1,)]


@pytest.mark.parametrize("configured, during", [("1GB", "256.0 MiB"), ("128MB", "122.0 MiB")])
def test_a_streamed_append_runs_within_a_lower_memory_limit_and_restores_the_configured_one(db, configured, during):
    schema = pa.schema([("id", pa.int64())])
    seen = []

    def generate():
        for i in range(2):
            seen.append(current_setting(db, "memory_limit"))  # as the instance the write runs in sees it
            yield pa.record_batch([pa.array([i], pa.int64())], schema=schema)

    @asset(key=["raw", "stream"], metadata={"write_mode": "append"})
    def stream():
        return pa.RecordBatchReader.from_batches(schema, generate())

    open_connection(db).close()
    with shared_instance(db, lock_timeout_seconds=2, config={"memory_limit": configured}):
        expected_after = current_setting(db, "memory_limit")
        run(db, stream, memory_limit=configured)
        assert current_setting(db, "memory_limit") == expected_after
    assert seen == [during, during]
    assert rows(db, "SELECT count(*) FROM raw.stream") == [(2,)]


def test_a_streamed_append_that_duckdb_refuses_reports_duckdbs_error_and_restores_the_memory_limit(db):
    schema = pa.schema([("id", pa.int64())])

    @asset(key=["raw", "stream"], metadata={"write_mode": "append"})
    def stream():
        return pa.RecordBatchReader.from_batches(schema, [pa.record_batch([pa.array([1, None], pa.int64())], schema=schema)])

    conn = open_connection(db)
    conn.execute("CREATE TABLE raw.stream (id BIGINT NOT NULL)")
    conn.close()
    with shared_instance(db, lock_timeout_seconds=2, config={"memory_limit": "1GB"}):
        result = run(db, stream, raise_on_error=False, memory_limit="1GB")
        limit = current_setting(db, "memory_limit")
    failure = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
    while failure.cause is not None:
        failure = failure.cause
    assert "NOT NULL constraint" in failure.message  # DuckDB's own error, not a later one about the aborted transaction
    assert limit == "953.6 MiB"
    assert rows(db, "SELECT count(*) FROM raw.stream") == [(0,)]


@pytest.mark.parametrize("any_row_order", [True, False])
def test_a_query_whose_row_order_does_not_matter_is_written_without_keeping_it(db, any_row_order):
    @asset(key=["normalized", "setting"], metadata={"write_mode": "replace"})
    def setting():
        return SqlQuery("SELECT current_setting('preserve_insertion_order') AS during_write", any_row_order=any_row_order)

    open_connection(db).close()
    with shared_instance(db, lock_timeout_seconds=2):
        run(db, setting)
        assert current_setting(db, "preserve_insertion_order") is True
    assert rows(db, "SELECT during_write FROM normalized.setting") == [(not any_row_order,)]


def innermost_error(result):
    """The first step failure's own error and, beneath Dagster's wrappers, the error that caused it."""
    failure = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
    outer = failure
    while failure.cause is not None:
        if "WarehouseWriteError" in (failure.cls_name or ""):
            outer = failure
        failure = failure.cause
    return outer.message, failure.message


def test_a_failing_query_whose_row_order_does_not_matter_reports_duckdbs_error_and_restores_the_setting(db):
    @asset(key=["normalized", "bad"], metadata={"write_mode": "append", "key_columns": ["x"]})
    def bad():
        return SqlQuery("SELECT CAST('not a number' AS INTEGER) AS x", any_row_order=True)

    open_connection(db).close()
    with shared_instance(db, lock_timeout_seconds=2):
        result = run(db, bad, raise_on_error=False)
        order = current_setting(db, "preserve_insertion_order")
    outer, inner = innermost_error(result)
    assert "Could not convert string 'not a number'" in inner  # DuckDB's own error, not the aborted transaction's
    assert "writing normalized.bad failed" in outer and "Could not convert" in outer and "next run tries again" in outer
    assert order is True
    assert rows(db, "SELECT status FROM meta_load_log WHERE asset_key = 'normalized/bad'") == [("failure",)]


def test_a_failed_commit_reports_duckdbs_error_with_what_to_do(db, monkeypatch):
    """DuckDB ends the transaction when COMMIT fails (on a long line's pinned block, for example):
    the ROLLBACK after it finds none, and must not replace the real error with its own."""
    real_connect = WarehouseIOManager._connect

    class CommitFails:
        def __init__(self, conn):
            self.conn = conn

        def execute(self, sql, *args):
            if sql == "COMMIT":
                self.conn.execute("ROLLBACK")
                raise duckdb.TransactionException(
                    "TransactionContext Error: Failed to commit: failed to pin block of size 256.0 KiB (244.0 MiB/244.1 MiB used)")
            return self.conn.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self.conn, name)

    monkeypatch.setattr(WarehouseIOManager, "_connect", lambda self: CommitFails(real_connect(self)))
    result = run(db, make_append_asset([1, 2]), raise_on_error=False, memory_limit="1GB")

    outer, inner = innermost_error(result)
    assert "Failed to commit: failed to pin block" in inner
    assert "Failed to commit" in outer and "warehouse.memory_limit: 1GB" in outer
    assert "no transaction is active" not in outer + inner


def test_writes_use_row_groups_of_row_group_rows(db):
    conn = open_connection(db)
    conn.execute("CREATE TABLE t AS SELECT range AS x FROM range(100000)")
    conn.execute("CHECKPOINT")
    largest = conn.execute("SELECT max(rows) FROM (SELECT row_group_id, sum(count) AS rows FROM pragma_storage_info('t') "
                           "WHERE column_path = '[0]' GROUP BY row_group_id)").fetchone()[0]
    conn.close()
    assert largest == ROW_GROUP_ROWS  # a smaller insert buffer than DuckDB's default: see ROW_GROUP_ROWS


def test_replace_mode_and_sql_inputs_stay_in_duckdb(db):
    @asset(key=["raw", "numbers"])
    def numbers():
        return SqlQuery("SELECT range AS n FROM range(?)", [5])

    @asset(key=["aggregate", "total"], ins={"numbers": __import__("dagster").AssetIn(key=["raw", "numbers"])})
    def total(numbers: WarehouseTable):
        return SqlQuery(f"SELECT sum(n) AS total FROM {numbers.qualified_name}")

    run(db, numbers, total)
    run(db, numbers, total)
    assert rows(db, "SELECT total FROM aggregate.total") == [(10,)]


def test_empty_output_still_creates_the_table(db):
    @asset(key=["normalized", "nothing"])
    def nothing():
        return pa.table({"a": pa.array([], pa.string()), "b": pa.array([], pa.int32())})

    run(db, nothing)
    assert rows(db, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'nothing' ORDER BY ordinal_position") == [
        ("a", "VARCHAR"),
        ("b", "INTEGER"),
    ]


def test_replace_partition_leaves_other_partitions(db):
    versions = StaticPartitionsDefinition(["v1", "v2"])

    @asset(
        key=["classified", "kinds"],
        partitions_def=versions,
        metadata={"write_mode": "replace_partition", "partition_column": "classifier_version"},
    )
    def kinds(context):
        version = context.partition_key
        return pa.table({"classifier_version": [version, version], "item": ["a", f"b-{version}"]})

    run(db, kinds, partition_key="v1")
    run(db, kinds, partition_key="v2")
    run(db, kinds, partition_key="v1")
    assert rows(db, "SELECT classifier_version, count(*) FROM classified.kinds GROUP BY 1 ORDER BY 1") == [("v1", 2), ("v2", 2)]


@pytest.mark.parametrize("reads_target", [True, False])
def test_sql_replace_partition_refuses_rows_of_another_partition(db, reads_target):
    versions = StaticPartitionsDefinition(["v1", "v2"])
    stray = {"on": False}

    @asset(
        key=["classified", "sql_kinds"],
        partitions_def=versions,
        metadata={"write_mode": "replace_partition", "partition_column": "classifier_version"},
    )
    def sql_kinds(context):
        other = "v2" if stray["on"] else context.partition_key
        return SqlQuery(
            "SELECT * FROM (VALUES (?, 'a'), (?, 'b')) AS t(classifier_version, item)",
            [context.partition_key, other],
            reads_target=reads_target,
        )

    run(db, sql_kinds, partition_key="v1")
    stray["on"] = True
    result = run(db, sql_kinds, partition_key="v1", raise_on_error=False)
    assert not result.success
    assert rows(db, "SELECT classifier_version, item FROM classified.sql_kinds ORDER BY ALL") == [("v1", "a"), ("v1", "b")]


def test_failed_write_keeps_old_rows_and_logs_the_failure(db):
    run(db, make_append_asset([1, 2]))

    @asset(key=["raw", "events"], metadata={"write_mode": "append", "key_columns": ["id"]})
    def events():
        return pa.table({"id": pa.array([7, 7], pa.int64()), "v": ["a", "b"]})  # key repeats: refused

    result = run(db, events, raise_on_error=False)
    assert not result.success
    assert rows(db, "SELECT id FROM raw.events ORDER BY id") == [(1,), (2,)]
    log = rows(db, "SELECT asset_key, status, rows_written, error FROM meta_load_log ORDER BY started_at")
    assert [(r[0], r[1], r[2]) for r in log] == [("raw/events", "success", 2), ("raw/events", "failure", 0)]
    assert "repeats" in log[1][3]


def test_warehouse_file_is_owner_only(db):
    run(db, make_append_asset([1]))
    assert os.stat(db).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(db)).st_mode & 0o077 == 0


def test_lock_held_by_another_process_names_it(db, tmp_path):
    open_connection(db).close()
    with held_by_another_process(db, tmp_path) as holder:
        with pytest.raises(WarehouseLockedError) as info:
            open_connection(db, lock_timeout_seconds=0.5)
        message = str(info.value)
        assert db in message and f"process {holder.pid}" in message and "Nothing was written" in message
    assert rows(db, "SELECT count(*) FROM meta_schema_version")[0][0] >= 1


def can_open_from_another_process(db) -> bool:
    probe = subprocess.run([sys.executable, "-c", f"import duckdb; duckdb.connect({db!r}, read_only=True).close()"],
                           capture_output=True, text=True)
    return probe.returncode == 0


def test_a_shared_instance_serves_every_connection_and_holds_the_file_until_it_ends(db):
    open_connection(db).close()
    with shared_instance(db, lock_timeout_seconds=2) as shared:
        assert shared
        writer = open_connection(db)
        writer.execute("CREATE TABLE t AS SELECT 42 AS x")
        writer.close()  # a step's connection closes; the file stays open for the next step
        reader = open_connection(db, read_only=True)
        assert reader.execute("SELECT x FROM t").fetchall() == [(42,)]
        assert reader.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "UTC"
        reader.close()
        assert not can_open_from_another_process(db)
    assert can_open_from_another_process(db)
    assert rows(db, "SELECT x FROM t") == [(42,)]


def test_asset_keys_must_be_layer_and_table(db):
    @asset(key=AssetKey(["too", "many", "parts"]))
    def odd():
        return pa.table({"a": [1]})

    assert not run(db, odd, raise_on_error=False).success
