"""Normalized-layer invariants as asset checks (blocking: they stop what sits below a failure).

Checks attached to a materialization look at the files that run normalized
(rows with its normalize_run_id; none when it found nothing new), so their cost
follows the new data; run on their own they cover everything. The rebuild
identity check re-parses raw lines, so in a run it also keeps within the check
budget (storage/check_scope.py).
"""

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSpec, MetadataValue

from star_pipeline.normalized import source_sql
from star_pipeline.normalized.assets import LINE_KEY, MESSAGE_MANIFESTS, UNIQUE_KEYS, key, statement_bytes
from star_pipeline.raw.line_parts import line_batches, read_machine, whole_lines
from star_pipeline.storage.warehouse import paths_in, quote_literal
from star_pipeline.storage import check_scope
from star_pipeline.storage.check_scope import CHECK_FILES, choose_check_files, describe_scope
from star_pipeline.storage.checks_in_one_step import Check, checks_in_one_step
from star_pipeline.storage.load_log import wrote_in_run
from star_pipeline.storage.resources import WarehouseResource

MESSAGES = "normalized.normalized_messages"


def _touched_paths(conn, run_id: str) -> str:
    """Create temp table _touched(source, path): this run's files if it normalized messages, else all files."""
    if wrote_in_run(conn, run_id, key("normalized_messages").to_user_string()):
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE _touched AS SELECT DISTINCT source, path FROM {MESSAGES} WHERE normalize_run_id = ?",
            [run_id],
        )
        return "files normalized by this run"
    conn.execute(f"CREATE OR REPLACE TEMP TABLE _touched AS SELECT DISTINCT source, path FROM {MESSAGES}")
    return "all files"


def line_keys_sql(files: str, sources: set[str] | None = None) -> str:
    """CTEs raw_rows and normalized_rows: the line keys of the files `files` selects (source, path),
    raw lines (a long line's first part) of every source with messages on one side, messages and
    parse errors on the other. Raw lines are those of the machine read for each path (raw/line_parts.py).
    `sources`: the only sources `files` holds (None: any), so the others' tables are not read (on a DuckLake
    each table a statement names costs catalog reads)."""
    with_messages = source_sql.sources_of("normalized_messages")
    named = [s for s in with_messages if sources is None or s.name in sources] or list(with_messages[:1])
    raw_rows = " UNION ALL ".join(
        f"SELECT {quote_literal(s.name)} AS source, path, file_version, byte_offset FROM {s.lines_table} r "
        f"WHERE path IN (SELECT path FROM {files} WHERE source = {quote_literal(s.name)}) AND part_number = 1 "
        f"AND {read_machine(s.name)}"
        for s in named
    )
    return f"""
        raw_rows AS ({raw_rows}),
        normalized_rows AS (
            SELECT source, path, file_version, byte_offset FROM {MESSAGES}
            WHERE (source, path) IN (SELECT source, path FROM {files})
            UNION ALL
            SELECT source, path, file_version, byte_offset FROM normalized.normalized_parse_errors
            WHERE (source, path) IN (SELECT source, path FROM {files})
        )"""


MESSAGES_REBUILD_IDENTITY = AssetCheckSpec(
    asset=key("normalized_messages"),
    name="messages_rebuild_identity",
    blocking=True,
    description="Rebuilding the touched files' messages from raw gives exactly the stored rows "
    "(within the check budget in a materialization run; every file when run alone).",
)


def messages_rebuild_identity(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    run_id = context.run.run_id
    with warehouse.connect() as conn:
        scope = _touched_paths(conn, run_id)
        in_run = scope != "all files"
        chosen, total = choose_check_files(
            conn, "SELECT source, path, TRUE AS preferred FROM _touched", [], seed=run_id,
            budget_bytes=check_scope.CHECK_BUDGET_BYTES if in_run else None, manifests=MESSAGE_MANIFESTS,
        )
        # The sample's lines are parsed again a bounded amount at a time (as normalizing does), their rows
        # kept as key and hash only; then compared by line key and row hash: one hash join, no sort of wide rows.
        conn.execute("CREATE OR REPLACE TEMP TABLE _rebuilt (source VARCHAR, path VARCHAR, file_version INTEGER, "
                     "byte_offset BIGINT, row_hash UBIGINT)")
        # The sample's paths as constants: a filter DuckDB applies while it scans the raw lines (a subquery
        # became a join after reading every line: 13 s for one 3 MB file in a 1 GB warehouse, and a scan of
        # each source that has no file in the sample).
        sample: dict[str, list[str]] = {}
        for source_name, path in conn.execute(f"SELECT source, path FROM {CHECK_FILES}").fetchall():
            sample.setdefault(source_name, []).append(path)
        for source in source_sql.sources_of("normalized_messages"):
            if source.name not in sample:
                continue
            in_sample = paths_in("r.path", sample[source.name])
            for batch in line_batches(conn, source.name, in_sample, statement_bytes(warehouse)):
                rebuilt = source_sql.messages_sql({source.name: whole_lines(source.name, f"{in_sample} AND {batch}")})
                conn.execute(f"INSERT INTO _rebuilt SELECT source, path, file_version, byte_offset, hash(r) FROM ({rebuilt}) r")
        missing, extra, compared = conn.execute(
            f"""
            WITH rebuilt AS (SELECT * FROM _rebuilt),
            stored AS (
                SELECT source, path, file_version, byte_offset, hash(m) AS row_hash
                FROM (SELECT * EXCLUDE (normalize_run_id, machine_id) FROM {MESSAGES}
                      WHERE (source, path) IN (SELECT source, path FROM {CHECK_FILES})) m
            )
            SELECT count(*) FILTER (WHERE r.row_hash IS NOT NULL AND r.row_hash IS DISTINCT FROM s.row_hash),
                   count(*) FILTER (WHERE s.row_hash IS NOT NULL AND s.row_hash IS DISTINCT FROM r.row_hash),
                   count(*)
            FROM rebuilt r FULL OUTER JOIN stored s USING (source, path, file_version, byte_offset)
            """
        ).fetchone()
    return AssetCheckResult(
        passed=missing == 0 and extra == 0,
        description=None if missing == extra == 0 else f"{missing} rebuilt rows missing from the table, {extra} stored rows not rebuilt",
        metadata={
            "scope": describe_scope(scope, chosen, total),
            "files": chosen,
            "rows_compared": compared,
            "rows_missing": missing,
            "rows_extra": extra,
        },
    )


EVERY_RAW_LINE_ACCOUNTED_FOR = AssetCheckSpec(
    asset=key("normalized_messages"),
    name="every_raw_line_accounted_for",
    blocking=True,
    additional_deps=[key("normalized_parse_errors")],
    description="Every raw transcript line of the touched files is a message or a parse error, exactly once, "
    "and every message traces back to its raw line.",
)


def every_raw_line_accounted_for(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    """Per file first: the raw lines' and the normalized rows' count and sum of key hashes (a
    multiset fingerprint, one scan each). Only files whose fingerprints differ are compared row
    by row, which also counts what is missing or extra (EXCEPT ALL both ways over 1.3M rows took
    2 s at 1 GB)."""
    with warehouse.connect() as conn:
        scope = _touched_paths(conn, context.run.run_id)
        touched = {row[0] for row in conn.execute("SELECT DISTINCT source FROM _touched").fetchall()}
        conn.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _accounting AS
            WITH {line_keys_sql("_touched", touched)},
            raw_files AS (SELECT source, path, count(*) AS n, sum(hash(file_version, byte_offset)) AS h FROM raw_rows GROUP BY ALL),
            normalized_files AS (SELECT source, path, count(*) AS n, sum(hash(file_version, byte_offset)) AS h FROM normalized_rows GROUP BY ALL)
            SELECT source, path, r.n AS raw_lines, r.n IS DISTINCT FROM n.n OR r.h IS DISTINCT FROM n.h AS differs
            FROM raw_files r FULL OUTER JOIN normalized_files n USING (source, path)
            """
        )
        total = conn.execute("SELECT coalesce(sum(raw_lines), 0) FROM _accounting").fetchone()[0]
        unaccounted, orphans = 0, 0
        if conn.execute("SELECT bool_or(differs) FROM _accounting").fetchone()[0]:
            unaccounted, orphans = conn.execute(
                f"""
                WITH {line_keys_sql("(SELECT * FROM _accounting WHERE differs)", touched)}
                SELECT (SELECT count(*) FROM (SELECT * FROM raw_rows EXCEPT ALL SELECT * FROM normalized_rows)),
                       (SELECT count(*) FROM (SELECT * FROM normalized_rows EXCEPT ALL SELECT * FROM raw_rows))
                """
            ).fetchone()
    return AssetCheckResult(
        passed=unaccounted == 0 and orphans == 0,
        description=None if unaccounted == orphans == 0 else f"{unaccounted} raw lines not normalized, {orphans} normalized rows without a raw line (or twice)",
        metadata={"scope": scope, "raw_lines": total, "unaccounted": unaccounted, "orphans_or_duplicates": orphans},
    )


def unique_key_check(table: str, columns: list[str]) -> Check:
    spec = AssetCheckSpec(asset=key(table), name=f"{table}_unique_key", blocking=True,
                          description=f"No two rows share ({', '.join(columns)}).")

    def unique_key(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
        cols = ", ".join(columns)
        where, params, scope = "", [], "all rows"
        with warehouse.connect() as conn:
            if columns == LINE_KEY and wrote_in_run(conn, context.run.run_id, key(table).to_user_string()):
                # per-line tables only grow: a duplicate key shares its path with a row this run appended
                where = f"WHERE path IN (SELECT path FROM normalized.{table} WHERE normalize_run_id = ?)"
                params, scope = [context.run.run_id], "files this run appended to"
            duplicates = conn.execute(
                f"SELECT {cols}, count(*) AS n FROM normalized.{table} {where} GROUP BY ALL HAVING count(*) > 1 LIMIT 5",
                params,
            ).fetchall()
        return AssetCheckResult(
            passed=not duplicates,
            description=f"duplicate keys, e.g. {duplicates[0]}" if duplicates else None,
            metadata={"scope": scope, "examples": MetadataValue.json([list(map(str, d)) for d in duplicates])},
        )

    return Check(spec, unique_key)


USAGE_ROWS_TRACE_TO_MESSAGES = AssetCheckSpec(
    asset=key("normalized_usage"),
    name="usage_rows_trace_to_messages",
    blocking=True,
    description="Every usage row points at an assistant line or token_count event in normalized_messages.",
)


def usage_rows_trace_to_messages(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    with warehouse.connect() as conn:
        orphans = conn.execute(
            f"SELECT count(*) FROM normalized.normalized_usage u ANTI JOIN {MESSAGES} m "
            "ON m.source = u.source AND m.path = u.path AND m.file_version = u.file_version AND m.byte_offset = u.byte_offset"
        ).fetchone()[0]
    return AssetCheckResult(passed=orphans == 0, metadata={"orphans": orphans})


# Two steps (storage/checks_in_one_step.py): the checks of the lines' tables, which hold back every table
# built from messages, then the checks of those tables.
LINE_TABLES = ("normalized_messages", "normalized_parse_errors")
normalized_checks = [
    checks_in_one_step("normalized_lines_checks", [
        Check(MESSAGES_REBUILD_IDENTITY, messages_rebuild_identity),
        Check(EVERY_RAW_LINE_ACCOUNTED_FOR, every_raw_line_accounted_for),
        *[unique_key_check(table, UNIQUE_KEYS[table]) for table in LINE_TABLES],
    ]),
    checks_in_one_step("normalized_tables_checks", [
        Check(USAGE_ROWS_TRACE_TO_MESSAGES, usage_rows_trace_to_messages),
        *[unique_key_check(table, columns) for table, columns in UNIQUE_KEYS.items() if table not in LINE_TABLES],
    ]),
]
