"""SCD2 history from observations: same attributes collapse, changes chain without gap or overlap,
the last row is current, keys and hash_diffs are the seed design's."""

from datetime import datetime, timezone

import duckdb
import pytest

from star_pipeline.storage.migrations import apply_migrations
from star_pipeline.storage.scd2 import scd2_history_sql
from star_pipeline_tests.reference_keys import dimension_key, hash_diff

T1 = datetime(2026, 1, 1, tzinfo=timezone.utc)
T2 = datetime(2026, 1, 2, tzinfo=timezone.utc)
T3 = datetime(2026, 1, 3, tzinfo=timezone.utc)


@pytest.fixture
def conn():
    connection = duckdb.connect()
    apply_migrations(connection)
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("CREATE TABLE observations (cwd VARCHAR, branch VARCHAR, observed_at TIMESTAMPTZ)")
    yield connection
    connection.close()


def history(conn, rows):
    conn.execute("DELETE FROM observations")
    conn.executemany("INSERT INTO observations VALUES (?, ?, ?)", rows)
    sql = scd2_history_sql("SELECT * FROM observations", business_keys=["cwd"], attributes=["branch"],
                           observed_at="observed_at", record_source="test")
    return conn.execute(f"SELECT cwd, branch, effective_from, effective_to, is_current, hash_key, hash_diff "
                        f"FROM ({sql}) ORDER BY cwd, effective_from").fetchall()


def test_repeated_observations_of_the_same_attributes_are_one_row(conn):
    rows = history(conn, [("/p", "main", T1), ("/p", "main", T2), ("/p", "main", T3)])
    assert [r[:5] for r in rows] == [("/p", "main", T1, None, True)]
    assert rows[0][5:] == (dimension_key("/p"), hash_diff(branch="main"))


def test_a_change_closes_the_old_row_where_the_new_one_starts(conn):
    rows = history(conn, [("/p", "main", T1), ("/p", "feature", T2), ("/p", "feature", T3)])
    assert [r[:5] for r in rows] == [("/p", "main", T1, T2, False), ("/p", "feature", T2, None, True)]


def test_each_key_has_its_own_history_and_one_current_row(conn):
    rows = history(conn, [("/p", "main", T1), ("/q", "dev", T1), ("/q", "main", T3), ("/p", "main", T2)])
    assert [(r[0], r[1], r[4]) for r in rows] == [("/p", "main", True), ("/q", "dev", False), ("/q", "main", True)]


def test_a_null_attribute_and_its_change_are_history(conn):
    rows = history(conn, [("/p", None, T1), ("/p", "main", T2)])
    assert [(r[1], r[4]) for r in rows] == [(None, False), ("main", True)]
    assert rows[0][6] == hash_diff(branch=None)
