"""Slowly changing dimensions, type 2, applied in one transaction.

`apply_scd2` takes a snapshot of the entities (one row per business key) and,
with ONE shared timestamp for the whole call:

- rows whose attributes are unchanged only get `last_verified_at`;
- rows whose attributes changed: the current row is closed and the new row
  inserted, the close time of the old equal to the start of the new (no gap,
  no overlap). The change time is the snapshot's `effective_from` column when
  it has one (event time from the layers below, so rebuilds reproduce the same
  history), else the shared timestamp;
- new entities are inserted;
- entities missing from the snapshot are closed (never deleted), unless
  `close_vanished=False` (for partial snapshots).

A snapshot with two rows for one business key is refused before anything is
written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb

from star_pipeline.storage.warehouse import quote_ident


class Scd2Error(ValueError):
    """The snapshot cannot be applied (for example, duplicate business keys)."""


@dataclass(frozen=True)
class Scd2Result:
    inserted: int
    closed: int
    verified: int


def apply_scd2(
    conn: duckdb.DuckDBPyConnection,
    *,
    table: tuple[str, str],
    snapshot_sql: str,
    business_keys: list[str],
    attributes: list[str],
    record_source: str,
    params: list | None = None,
    close_vanished: bool = True,
    load_ts: datetime | None = None,
) -> Scd2Result:
    """Apply `snapshot_sql` (columns: business keys, attributes, optional effective_from and session_id)."""
    ts = load_ts or datetime.now(timezone.utc)
    target = f"{quote_ident(table[0])}.{quote_ident(table[1])}"
    keys_sql = ", ".join(f"CAST(s.{quote_ident(k)} AS VARCHAR)" for k in business_keys)
    attr_map = ", ".join(
        "'" + a.replace("'", "''") + f"': CAST(s.{quote_ident(a)} AS VARCHAR)" for a in attributes
    )
    business_cols = ", ".join(quote_ident(c) for c in business_keys + attributes)

    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE _scd2_snapshot AS SELECT * FROM ({snapshot_sql}) s", params or [])
        columns = {row[0] for row in conn.execute("DESCRIBE _scd2_snapshot").fetchall()}
        missing = [c for c in business_keys + attributes if c not in columns]
        if missing:
            raise Scd2Error(f"{target}: the snapshot lacks columns {missing}.")
        effective = "s.effective_from" if "effective_from" in columns else "CAST(? AS TIMESTAMPTZ)"
        session = "s.session_id" if "session_id" in columns else "CAST(NULL AS VARCHAR)"
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE _scd2_in AS SELECT dimension_key([{keys_sql}]) AS hash_key, "
            f"{', '.join('s.' + quote_ident(c) for c in business_keys + attributes)}, "
            f"hash_diff(MAP {{{attr_map}}}) AS hash_diff, "
            f"CAST({effective} AS TIMESTAMPTZ) AS effective_from, CAST({session} AS VARCHAR) AS session_id "
            "FROM _scd2_snapshot s",
            [] if "effective_from" in columns else [ts],
        )
        duplicate = conn.execute(
            "SELECT hash_key, count(*) FROM _scd2_in GROUP BY hash_key HAVING count(*) > 1 LIMIT 1"
        ).fetchone()
        if duplicate:
            raise Scd2Error(
                f"{target}: the snapshot has {duplicate[1]} rows for one business key (hash_key {duplicate[0]}); "
                "deduplicate it first. Nothing was written."
            )
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {target} AS SELECT hash_key, {business_cols}, "
            "effective_from, CAST(NULL AS TIMESTAMPTZ) AS effective_to, TRUE AS is_current, hash_diff, "
            "CAST(NULL AS VARCHAR) AS record_source, CAST(NULL AS TIMESTAMPTZ) AS created_at, session_id, "
            "CAST(NULL AS TIMESTAMPTZ) AS last_verified_at FROM _scd2_in WITH NO DATA"
        )
        verified = conn.execute(
            f"UPDATE {target} AS t SET last_verified_at = ? FROM _scd2_in i "
            "WHERE t.is_current AND t.hash_key = i.hash_key AND t.hash_diff = i.hash_diff",
            [ts],
        ).fetchone()[0]
        changed = conn.execute(
            f"UPDATE {target} AS t SET effective_to = i.effective_from, is_current = FALSE FROM _scd2_in i "
            "WHERE t.is_current AND t.hash_key = i.hash_key AND t.hash_diff <> i.hash_diff"
        ).fetchone()[0]
        vanished = 0
        if close_vanished:
            vanished = conn.execute(
                f"UPDATE {target} SET effective_to = ?, is_current = FALSE "
                "WHERE is_current AND hash_key NOT IN (SELECT hash_key FROM _scd2_in)",
                [ts],
            ).fetchone()[0]
        inserted = conn.execute(
            f"INSERT INTO {target} SELECT i.hash_key, {', '.join('i.' + quote_ident(c) for c in business_keys + attributes)}, "
            "i.effective_from, NULL, TRUE, i.hash_diff, ?, ?, i.session_id, ? FROM _scd2_in i "
            f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE t.is_current AND t.hash_key = i.hash_key)",
            [record_source, ts, ts],
        ).fetchone()[0]
        conn.execute("DROP TABLE _scd2_in")
        conn.execute("DROP TABLE _scd2_snapshot")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return Scd2Result(inserted=inserted, closed=changed + vanished, verified=verified)


def scd2_history_sql(
    observations_sql: str,
    *,
    business_keys: list[str],
    attributes: list[str],
    observed_at: str,
    record_source: str,
) -> str:
    """A SELECT giving the full SCD2 history of entities from time-stamped observations.

    For history that comes from event times in the layers below (the branch a
    project had at each session's first event, a model's dated prices), so a
    rebuild reproduces the same rows: consecutive observations with the same
    hash_diff collapse into one row; each row's effective_to is the next row's
    effective_from (no gap, no overlap); the last row per key is current. The
    columns are those of `apply_scd2`'s tables. The caller writes the result in
    one transaction (the I/O manager's replace mode).
    """
    keys = ", ".join(quote_ident(k) for k in business_keys)
    key_parts = ", ".join(f"CAST({quote_ident(k)} AS VARCHAR)" for k in business_keys)
    attr_map = ", ".join("'" + a.replace("'", "''") + f"': CAST({quote_ident(a)} AS VARCHAR)" for a in attributes)
    cols = ", ".join(quote_ident(c) for c in business_keys + attributes)
    source = record_source.replace("'", "''")
    return f"""
        WITH observed AS (
            SELECT {cols}, CAST({quote_ident(observed_at)} AS TIMESTAMPTZ) AS observed_at,
                   dimension_key([{key_parts}]) AS hash_key, hash_diff(MAP {{{attr_map}}}) AS hash_diff
            FROM ({observations_sql})
        ),
        changes AS (
            SELECT * FROM observed
            QUALIFY hash_diff IS DISTINCT FROM lag(hash_diff) OVER (PARTITION BY {keys} ORDER BY observed_at, hash_diff)
        )
        SELECT hash_key, {cols},
            observed_at AS effective_from,
            lead(observed_at) OVER (PARTITION BY {keys} ORDER BY observed_at, hash_diff) AS effective_to,
            lead(observed_at) OVER (PARTITION BY {keys} ORDER BY observed_at, hash_diff) IS NULL AS is_current,
            hash_diff,
            '{source}' AS record_source,
            now() AS created_at,
            CAST(NULL AS VARCHAR) AS session_id,
            now() AS last_verified_at
        FROM changes
    """
