"""What `star-pipeline migrate-to-ducklake` (build.py) does to the warehouse: copy a single file's raw layer into
the DuckLake and verify the copy.

What is copied is what cannot be made again: the raw layer (every captured line and every manifest row, of
every source) and the few meta tables that hold history rather than derived state (the text of every
classifier version ever run, the secret-fingerprint salt, the load log). Everything else (normalized,
classified, aggregate, watermarks, table versions) is rebuilt in the lake by a full build, from those lines.
Then the counts are compared: every raw table's rows and a hash of their keys must be equal (else MigrationRefused,
saying which table).

The old file is only read (attached READ_ONLY), and left where it is. A lake that already holds raw lines is
refused, so a second run cannot double them.
"""

from __future__ import annotations

import duckdb

from star_pipeline.storage.warehouse import CATALOG, quote_ident, quote_literal

# Meta tables that hold history a rebuild cannot make again (the rest of meta_* is derived state).
COPIED_META = ("meta_classifier_configs", "meta_load_log")


class MigrationRefused(RuntimeError):
    """The migration cannot start, or its copy does not match the source; the message says why and what to do."""


def _raw_tables(conn, catalog: str) -> list[str]:
    return [row[0] for row in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = 'raw' "
        "AND table_type = 'BASE TABLE' ORDER BY 1", [catalog]).fetchall()]


def _columns(conn, catalog: str, schema: str, table: str) -> list[str]:
    return [row[0] for row in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? AND table_schema = ? "
        "AND table_name = ? ORDER BY ordinal_position", [catalog, schema, table]).fetchall()]


def _fingerprint(conn, qualified: str, columns: list[str]) -> tuple[int, int]:
    """(rows, an order-independent hash of the identifying columns): equal in both when the copy is whole."""
    keyed = [c for c in ("source", "path", "file_version", "byte_offset", "line_number", "part_number",
                         "line_sha256", "consumed_offset", "size_bytes") if c in columns]
    digest = f"coalesce(sum(hash({', '.join(keyed)}) % 1000000007), 0)" if keyed else "0"
    return tuple(conn.execute(f"SELECT count(*), {digest} FROM {qualified}").fetchone())


def copy_into_lake(conn, source: Path, machine_id: str | None, out) -> dict[str, int]:
    """Copy the raw tables and COPIED_META of the file `source` into the lake `conn` is on (one transaction);
    returns rows per raw table. `machine_id` fills a lake `machine_id` column the old rows lack."""
    conn.execute(f"ATTACH {quote_literal(str(source))} AS old_file (READ_ONLY)")
    try:
        lake_raw = set(_raw_tables(conn, CATALOG))
        for table in sorted(lake_raw):
            if conn.execute(f"SELECT count(*) FROM raw.{quote_ident(table)}").fetchone()[0]:
                raise MigrationRefused(
                    f"the lake already holds raw lines (raw.{table}): migrating again would double them. Nothing was "
                    "copied. Point warehouse.catalog and warehouse.data_path at a new, empty lake.")
        copied: dict[str, int] = {}
        conn.execute("BEGIN TRANSACTION")
        try:
            for table in _raw_tables(conn, "old_file"):
                target = f"raw.{quote_ident(table)}"
                if table not in lake_raw:
                    conn.execute(f"CREATE TABLE {target} AS SELECT * FROM old_file.raw.{quote_ident(table)} WITH NO DATA")
                old_columns = _columns(conn, "old_file", "raw", table)
                lake_columns = _columns(conn, CATALOG, "raw", table)
                shared = ", ".join(quote_ident(c) for c in old_columns if c in lake_columns)
                rows = conn.execute(f"INSERT INTO {target} ({shared}) SELECT {shared} "
                                    f"FROM old_file.raw.{quote_ident(table)}").fetchone()[0]
                if machine_id and "machine_id" in lake_columns:
                    conn.execute(f"UPDATE {target} SET machine_id = ? WHERE machine_id IS NULL", [machine_id])
                copied[table] = rows
                print(f"  copied raw.{table}: {rows} rows", file=out, flush=True)
            for table in COPIED_META:
                if table in {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE "
                                                        "table_catalog = 'old_file' AND table_schema = 'main'").fetchall()}:
                    conn.execute(f"DELETE FROM {table}")
                    conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM old_file.main.{table}")
            # the old salt: secret fingerprints stay comparable with what was published before
            conn.execute("DELETE FROM meta_fingerprint_salt")
            conn.execute("INSERT INTO meta_fingerprint_salt SELECT salt FROM old_file.main.meta_fingerprint_salt")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        for table in copied:
            columns = _columns(conn, "old_file", "raw", table)
            old = _fingerprint(conn, f"old_file.raw.{quote_ident(table)}", columns)
            new = _fingerprint(conn, f"raw.{quote_ident(table)}", columns)
            if old != new:
                raise MigrationRefused(
                    f"raw.{table}: the lake holds {new[0]} rows (key hash {new[1]}) but the file {old[0]} (key hash "
                    f"{old[1]}). The copy is incomplete: do not delete {source}; report this, with the output above.")
        return copied
    finally:
        conn.execute("DETACH old_file")


def token_totals(conn, catalog: str) -> tuple | None:
    """(rows, input+output+cache tokens, cost) of a warehouse's fact_token_usage, or None without one."""
    try:
        return tuple(conn.execute(
            f"SELECT count(*), sum(input_tokens + output_tokens + cache_creation_input_tokens + cache_read_input_tokens), "
            f"round(sum(cost_usd), 6) FROM {catalog}.aggregate.fact_token_usage").fetchone())
    except duckdb.Error:
        return None
