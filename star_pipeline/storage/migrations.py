"""Numbered SQL migrations from the `migrations/` folder (top level of the checkout; `star_pipeline/migrations/`
in an installed package: star_pipeline/storage/shipped_files.py finds it).

Each `NNN_name.sql` file is applied once, in number order, in one transaction
together with its row in `meta_schema_version` (version, name, sha256 of the
file). A migration that was applied and has since been edited or deleted is
refused with an error: the warehouse's schema would no longer match the files,
and silently re-running or skipping it could lose data.

A DuckLake has no PRIMARY KEY or UNIQUE constraints: there, each file is applied
`without_keys` (its key clauses removed; the checksum stays the file's). The
tables and columns come out the same; what the keys enforced, the code that
writes those tables keeps true (one row per key: DELETE then INSERT).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from star_pipeline.storage.shipped_files import MIGRATIONS_DIR
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_TABLE_KEY = re.compile(r",\s*(?:PRIMARY\s+KEY|UNIQUE)\s*\([^)]*\)", re.IGNORECASE)  # `, PRIMARY KEY (a, b)`
_COLUMN_KEY = re.compile(r"\s+(?:PRIMARY\s+KEY|UNIQUE)\b", re.IGNORECASE)  # `name VARCHAR PRIMARY KEY`


def without_key_constraints(sql: str) -> str:
    """`sql` with its PRIMARY KEY and UNIQUE clauses removed (for a DuckLake, which has neither)."""
    return _COLUMN_KEY.sub("", _TABLE_KEY.sub("", sql))


class MigrationError(RuntimeError):
    """The warehouse's recorded migrations do not match the migration files."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in `directory`, in number order. A missing folder is an error, not "no migrations":
    applying none to a new warehouse would leave it without its tables."""
    if not directory.is_dir():
        raise MigrationError(f"{directory}: the migrations folder is missing; reinstall star_pipeline (in a checkout, "
                             "restore the top-level migrations/ folder from git).")
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNN_lowercase_name.sql; rename this file.")
        data = path.read_bytes()
        migrations.append(Migration(int(match.group(1)), path.name, data.decode("utf-8"), hashlib.sha256(data).hexdigest()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{directory}: two migration files share a number; give each its own.")
    return migrations


def apply_migrations(
    conn: duckdb.DuckDBPyConnection, directory: Path = MIGRATIONS_DIR, database_label: str = "the warehouse",
    without_keys: bool = False,
) -> list[str]:
    """Apply pending migrations; return the names applied. Refuses edited or missing applied ones.

    `without_keys`: apply them without PRIMARY KEY/UNIQUE clauses (a DuckLake; the caller serializes
    migrations across machines, storage/warehouse/lake_engine.py)."""
    files = {m.version: m for m in discover(directory)}  # first: a missing folder changes nothing
    adapt = without_key_constraints if without_keys else (lambda sql: sql)
    conn.execute(adapt(
        "CREATE TABLE IF NOT EXISTS meta_schema_version ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, checksum VARCHAR NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    ))
    applied = {row[0]: (row[1], row[2]) for row in conn.execute("SELECT version, name, checksum FROM meta_schema_version").fetchall()}
    for version, (name, checksum) in sorted(applied.items()):
        migration = files.get(version)
        if migration is None:
            raise MigrationError(
                f"{database_label}: migration {name} was applied but {directory / name} is missing. "
                "Restore the file from version control; applied migrations must never be removed."
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"{database_label}: migration {name} was applied with checksum {checksum[:12]}, but "
                f"{directory / migration.name} now has {migration.checksum[:12]}. Restore the applied version "
                "and put the change in a new, higher-numbered migration."
            )
    done = []
    for version in sorted(set(files) - set(applied)):
        migration = files[version]
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute(adapt(migration.sql))
            conn.execute(
                "INSERT INTO meta_schema_version (version, name, checksum) VALUES (?, ?, ?)",
                [migration.version, migration.name, migration.checksum],
            )
            conn.execute("COMMIT")
        except Exception as exc:
            conn.execute("ROLLBACK")
            raise MigrationError(f"{database_label}: migration {migration.name} failed and was rolled back: {exc}") from exc
        done.append(migration.name)
    return done
