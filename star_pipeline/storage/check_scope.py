"""Which transcript files a recomputing check looks at, so its cost follows the change.

Checks that recompute a layer from raw (normalized rebuild identity,
classified re-run identity) cost as much as the layer itself. In the run that
wrote the table they recompute the files that run touched, up to
`CHECK_BUDGET_BYTES` of raw transcript: on a first build over gigabytes that
is a sample, drawn anew by each run (ordered by a hash of path and run id),
so successive runs cover different files. Run on their own (from the UI, or
the `nightly_invariant_sweep` job) the same checks cover every file, whatever
it costs. The sample's size is reported in the check's metadata.
"""

from __future__ import annotations

from star_pipeline.storage.warehouse import quote_literal

CHECK_BUDGET_BYTES = 64 << 20
CHECK_FILES = "_check_files"


def raw_file_bytes(manifests: dict[str, str]) -> str:
    """SELECT (source, path, raw_bytes) over the manifests (source name -> manifest table)."""
    return " UNION ALL ".join(
        f"SELECT {quote_literal(source)} AS source, path, sum(consumed_offset) AS raw_bytes FROM {table} GROUP BY ALL"
        for source, table in manifests.items()
    ) or "SELECT NULL AS source, NULL AS path, 0 AS raw_bytes WHERE FALSE"


def choose_check_files(
    conn, candidates_sql: str, params: list, *, seed: str, budget_bytes: int | None, manifests: dict[str, str]
) -> tuple[int, int]:
    """Fill temp table `_check_files(source, path)` from `candidates_sql`; returns (chosen, candidates).

    `candidates_sql` selects (source, path, preferred BOOLEAN): preferred files
    are taken first (e.g. the ones the latest ingest normalized), then the rest in
    an order drawn from `seed`, while the running total of raw bytes stays within
    `budget_bytes` (the first file is always taken). `budget_bytes=None` takes all. Only the manifests of
    sources among the candidates are read (on a DuckLake each table a statement names costs catalog reads).
    """
    present = {row[0] for row in conn.execute(f"SELECT DISTINCT source FROM ({candidates_sql})", params).fetchall()}
    manifests = {source: table for source, table in manifests.items() if source in present}
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {CHECK_FILES} AS
        WITH candidates AS ({candidates_sql}),
        sized AS (
            SELECT c.source, c.path, c.preferred, coalesce(f.raw_bytes, 0) AS raw_bytes
            FROM candidates c LEFT JOIN ({raw_file_bytes(manifests)}) f USING (source, path)
        ),
        ordered AS (
            SELECT *, sum(raw_bytes) OVER (ORDER BY preferred DESC, hash(path, CAST(? AS VARCHAR)), path
                                           ROWS UNBOUNDED PRECEDING) AS running_bytes
            FROM sized
        )
        SELECT source, path, count(*) OVER () AS candidate_count FROM ordered
        QUALIFY CAST(? AS BIGINT) IS NULL OR running_bytes - raw_bytes < CAST(? AS BIGINT)
        """,
        [*params, seed, budget_bytes, budget_bytes],
    )
    chosen, total = conn.execute(f"SELECT count(*), coalesce(max(candidate_count), 0) FROM {CHECK_FILES}").fetchone()
    return chosen, total


def describe_scope(what: str, chosen: int, total: int) -> str:
    if chosen == total:
        return f"{what}: all {total} files"
    return (
        f"{what}: {chosen} of {total} files, a sample within the {CHECK_BUDGET_BYTES >> 20} MiB check budget "
        "(each run draws another; the nightly_invariant_sweep job checks every file)"
    )
