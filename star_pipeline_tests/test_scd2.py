"""SCD2: unchanged rows only verified, changes close + insert at one instant, vanished closed, atomic."""

from datetime import datetime, timezone

import duckdb
import pytest

from star_pipeline.storage.keys import dimension_key, hash_diff
from star_pipeline.storage.migrations import apply_migrations
from star_pipeline.storage.scd2 import Scd2Error, apply_scd2

T1 = datetime(2026, 1, 1, tzinfo=timezone.utc)
T2 = datetime(2026, 1, 2, tzinfo=timezone.utc)
T3 = datetime(2026, 1, 3, tzinfo=timezone.utc)


@pytest.fixture
def conn():
    connection = duckdb.connect()
    apply_migrations(connection)
    connection.execute("CREATE TABLE snapshot (cwd VARCHAR, branch VARCHAR, effective_from TIMESTAMPTZ)")
    yield connection
    connection.close()


def load(conn, rows, load_ts, close_vanished=True):
    conn.execute("DELETE FROM snapshot")
    if rows:
        conn.executemany("INSERT INTO snapshot VALUES (?, ?, ?)", rows)
    return apply_scd2(
        conn,
        table=("aggregate", "dim_project"),
        snapshot_sql="SELECT * FROM snapshot",
        business_keys=["cwd"],
        attributes=["branch"],
        record_source="test",
        load_ts=load_ts,
        close_vanished=close_vanished,
    )


def history(conn, cwd):
    return conn.execute(
        "SELECT branch, effective_from, effective_to, is_current, last_verified_at FROM aggregate.dim_project "
        "WHERE cwd = ? ORDER BY effective_from",
        [cwd],
    ).fetchall()


def test_insert_then_unchanged_only_verifies(conn):
    assert load(conn, [("/p", "main", T1)], T1).inserted == 1
    result = load(conn, [("/p", "main", T2)], T2)
    assert (result.inserted, result.closed, result.verified) == (0, 0, 1)
    assert history(conn, "/p") == [("main", T1, None, True, T2)]
    key, diff = conn.execute("SELECT hash_key, hash_diff FROM aggregate.dim_project").fetchone()
    assert key == dimension_key("/p") and diff == hash_diff(branch="main")


def test_change_closes_and_inserts_at_the_same_instant(conn):
    load(conn, [("/p", "main", T1)], T1)
    result = load(conn, [("/p", "feature", T2)], T3)
    assert (result.inserted, result.closed) == (1, 1)
    rows = history(conn, "/p")
    assert [(r[0], r[3]) for r in rows] == [("main", False), ("feature", True)]
    assert rows[0][2] == rows[1][1] == T2  # no gap, no overlap, at the event time
    assert conn.execute("SELECT count(*) FROM aggregate.dim_project WHERE is_current GROUP BY hash_key").fetchall() == [(1,)]


def test_vanished_entity_is_closed_not_deleted(conn):
    load(conn, [("/p", "main", T1), ("/q", "dev", T1)], T1)
    result = load(conn, [("/p", "main", T2)], T2)
    assert result.closed == 1
    assert history(conn, "/q") == [("dev", T1, T2, False, T1)]
    assert load(conn, [], T3, close_vanished=False).closed == 0
    assert history(conn, "/p")[0][3] is True


def test_duplicate_business_keys_refused_and_nothing_written(conn):
    load(conn, [("/p", "main", T1)], T1)
    with pytest.raises(Scd2Error, match="2 rows for one business key"):
        load(conn, [("/p", "a", T2), ("/p", "b", T2)], T2)
    assert history(conn, "/p") == [("main", T1, None, True, T1)]


def test_null_attribute_changes_are_history(conn):
    load(conn, [("/p", None, T1)], T1)
    load(conn, [("/p", "main", T2)], T2)
    assert [r[0] for r in history(conn, "/p")] == [None, "main"]
