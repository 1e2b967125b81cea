"""dimension_key / hash_diff: fixed vectors, and the DuckDB macros give the same strings."""

import hashlib

import duckdb
import pytest

from star_pipeline_tests.reference_keys import dimension_key, hash_diff
from star_pipeline.storage.migrations import apply_migrations


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


@pytest.fixture
def conn():
    connection = duckdb.connect()
    apply_migrations(connection)
    yield connection
    connection.close()


DIMENSION_VECTORS = [
    (("a",), md5("a")),
    (("a", "b"), md5("a|b")),
    ((None,), md5("-1")),
    (("x", None, "z"), md5("x|-1|z")),
    (("ünïcødé", "🦆"), md5("ünïcødé|🦆")),
    (("", ""), md5("|")),
    ((42, "p"), md5("42|p")),
    ((True, False), md5("true|false")),
]


@pytest.mark.parametrize("parts,expected", DIMENSION_VECTORS)
def test_dimension_key_fixed_vectors(parts, expected):
    assert dimension_key(*parts) == expected


@pytest.mark.parametrize("parts,expected", DIMENSION_VECTORS)
def test_dimension_key_macro_matches_python(conn, parts, expected):
    placeholders = ", ".join("CAST(? AS VARCHAR)" for _ in parts)
    assert conn.execute(f"SELECT dimension_key([{placeholders}])", list(parts)).fetchone()[0] == expected


HASH_VECTORS = [
    ({}, md5("")),
    ({"b": "2", "a": "1"}, md5("a=1|b=2")),
    ({"a": None, "b": "x"}, md5("b=x")),
    ({"a": None}, md5("")),
    ({"branch": "main", "cwd": "/home/ü/é"}, md5("branch=main|cwd=/home/ü/é")),
    ({"n": 3, "flag": True}, md5("flag=true|n=3")),
    ({"k": ""}, md5("k=")),
]


@pytest.mark.parametrize("attributes,expected", HASH_VECTORS)
def test_hash_diff_fixed_vectors(attributes, expected):
    assert hash_diff(**attributes) == expected


@pytest.mark.parametrize("attributes,expected", HASH_VECTORS)
def test_hash_diff_macro_matches_python(conn, attributes, expected):
    if attributes:
        entries = ", ".join(f"'{k}': CAST(? AS VARCHAR)" for k in attributes)
        sql = f"SELECT hash_diff(MAP {{{entries}}})"
    else:
        sql = "SELECT hash_diff(CAST(MAP {} AS MAP(VARCHAR, VARCHAR)))"
    assert conn.execute(sql, list(attributes.values())).fetchone()[0] == expected


def test_hash_diff_ignores_argument_order_but_not_values():
    assert hash_diff(a="1", b="2") == hash_diff(b="2", a="1")
    assert hash_diff(a="1", b="2") != hash_diff(a="1", b="3")
    assert dimension_key("a", "b") != dimension_key("b", "a")
