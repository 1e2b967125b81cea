"""Migrations: applied in order, once, with checksums; edited or missing applied ones refused."""

import shutil

import duckdb
import pytest

from star_pipeline.storage.migrations import MIGRATIONS_DIR, MigrationError, apply_migrations


@pytest.fixture
def migrations_dir(tmp_path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "001_first.sql").write_text("CREATE TABLE one (a INTEGER); INSERT INTO one VALUES (1);")
    (folder / "002_second.sql").write_text("CREATE TABLE two AS SELECT a + 1 AS b FROM one;")
    return folder


def test_applies_in_order_once_and_records_checksums(tmp_path, migrations_dir):
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert apply_migrations(conn, migrations_dir) == ["001_first.sql", "002_second.sql"]
    assert conn.execute("SELECT b FROM two").fetchall() == [(2,)]
    assert apply_migrations(conn, migrations_dir) == []
    rows = conn.execute("SELECT version, name, length(checksum) FROM meta_schema_version ORDER BY version").fetchall()
    assert rows == [(1, "001_first.sql", 64), (2, "002_second.sql", 64)]
    (migrations_dir / "003_third.sql").write_text("CREATE TABLE three (c INTEGER);")
    assert apply_migrations(conn, migrations_dir) == ["003_third.sql"]


def test_edited_applied_migration_is_refused(tmp_path, migrations_dir):
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    apply_migrations(conn, migrations_dir)
    (migrations_dir / "001_first.sql").write_text("CREATE TABLE one (a BIGINT);")
    with pytest.raises(MigrationError, match="001_first.sql.*new, higher-numbered migration"):
        apply_migrations(conn, migrations_dir)


def test_missing_applied_migration_is_refused(tmp_path, migrations_dir):
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    apply_migrations(conn, migrations_dir)
    (migrations_dir / "002_second.sql").unlink()
    with pytest.raises(MigrationError, match="002_second.sql was applied but .* is missing"):
        apply_migrations(conn, migrations_dir)


def test_failing_migration_rolls_back_entirely(tmp_path, migrations_dir):
    (migrations_dir / "003_broken.sql").write_text("CREATE TABLE three (c INTEGER); SELECT * FROM no_such_table;")
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    with pytest.raises(MigrationError, match="003_broken.sql failed and was rolled back"):
        apply_migrations(conn, migrations_dir)
    tables = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert "three" not in tables and {"one", "two"} <= tables
    assert conn.execute("SELECT max(version) FROM meta_schema_version").fetchone()[0] == 2


def test_a_missing_migrations_folder_is_refused_not_read_as_none(tmp_path):
    """A broken install (no migrations folder) must not leave a new warehouse without its tables."""
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    with pytest.raises(MigrationError, match=f"{tmp_path / 'gone'}: the migrations folder is missing; reinstall"):
        apply_migrations(conn, tmp_path / "gone")
    assert conn.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0] == 0


def test_project_migrations_are_the_top_level_folder_of_the_checkout():
    from star_pipeline_tests.conftest import REPO_ROOT

    assert MIGRATIONS_DIR == REPO_ROOT / "migrations"


def test_project_migrations_create_every_layer_schema(tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(MIGRATIONS_DIR, folder)
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    apply_migrations(conn, folder)
    schemas = {r[0] for r in conn.execute("SELECT schema_name FROM information_schema.schemata").fetchall()}
    assert {"raw", "normalized", "classified", "aggregate"} <= schemas
    tables = {r[0] for r in conn.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall()}
    for source in ("claude_code", "codex", "hook_spool"):
        assert {f"raw.{source}_lines", f"raw.{source}_files"} <= tables
    assert {"main.meta_load_log", "main.meta_schema_version"} <= tables
