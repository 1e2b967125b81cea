"""Slowly changing dimensions, type 2, from time-stamped observations.

Every dimension's history comes from event times in the layers below (the
branch a project had at each session's first event; a model's dated prices),
never from the wall clock at load time, so a rebuild reproduces the same rows:
`scd2_history_sql` gives the whole history as one SELECT, which the I/O manager
writes in one transaction (replace mode), old rows and new at once.
"""

from __future__ import annotations

from star_pipeline.storage.table_docs import TableDoc
from star_pipeline.storage.warehouse import quote_ident

SCD2_DOC = TableDoc({
    "hash_key": "dimension_key of the business keys: what the facts' <dimension>_key columns hold",
    "effective_from": "when this version was first observed (an event time from the layers below)",
    "effective_to": "when the next version was observed; NULL for the current version",
    "is_current": "this is the entity's latest version",
    "hash_diff": "hash_diff of the attributes: versions differ in it",
    "record_source": "where the observations come from",
    "created_at": "when this row was written",
    "session_id": "unused (NULL): kept for the seed design's SCD2 layout",
    "last_verified_at": "when the history was last rebuilt from the observations",
})
"""The columns `scd2_history_sql` adds to a dimension's business keys and attributes."""


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
    effective_from (no gap, no overlap); the last row per key is current. Columns:
    hash_key, the business keys and attributes, effective_from, effective_to,
    is_current, hash_diff, record_source, created_at, session_id, last_verified_at.
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
