"""Normalized assets. Each table's contract (every column, its type) is `<table>.sql` beside this
file; the sources' own SQL fills it (`star_pipeline/sources/<source>/`, composed by source_sql.py).

Per-line tables (normalized_messages, normalized_parse_errors,
normalized_hook_events) are incremental: a run parses only raw rows not yet
normalized (keyed by source, path, file_version, byte_offset) and appends them;
every row depends on its own line only, so the result equals a rebuild. When a
table's SQL changes (its version differs from `meta_table_versions`), the
next run rebuilds that table in full instead.
Tables that combine lines (usage with its global dedup, sessions, tool calls,
links) are computed from normalized_messages in DuckDB: in full on a first or
changed-SQL build, else per group (call, session) named in the files with new
messages, from all of the group's lines (storage/watermarks.py, rebuild_scopes.py).
That is what makes split API messages arriving in two ingest runs converge to one row.

Machines: the per-line tables read one machine's lines per path (raw/line_parts.py
`read_machines`: the smallest machine id that has it) and record it (`machine_id`). When a
machine with a smaller id captures a path later, the path's rows are replaced by that
machine's lines in the same write (`switched_paths`), so a synced copy is never counted twice.
"""

import hashlib
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, AssetOut, Output, asset, multi_asset

from star_pipeline.config import size_in_bytes
from star_pipeline.normalized import source_sql
from star_pipeline.normalized.rebuild_scopes import session_links_scope, sessions_scope, tool_calls_scope
from star_pipeline.raw.asset_keys import lines_key
from star_pipeline.raw.line_parts import batch_bytes, line_batches, read_machine, read_machines, whole_lines
from star_pipeline.raw.tables import ensure_raw_tables
from star_pipeline.sources import SOURCES, Source
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.sql_files import render_sql, sql_file_version
from star_pipeline.storage.table_docs import sql_table_doc, table_metadata
from star_pipeline.storage.table_writes import SqlQuery, stored_table_version
from star_pipeline.storage.warehouse import paths_in, quote_ident, quote_literal, retry_on_conflict, table_exists
from star_pipeline.storage.watermarks import rebuild_query

SQL_DIR = Path(__file__).parent
MESSAGES = "normalized.normalized_messages"
LINE_KEY = ["source", "path", "file_version", "byte_offset"]
# The manifest of each source with messages: the checks that sample files by size read them.
MESSAGE_MANIFESTS = {s.name: s.files_table for s in source_sql.sources_of("normalized_messages")}
# The key of each normalized table: checked by normalized/checks.py, and the upsert key of incremental rebuilds.
UNIQUE_KEYS = {
    "normalized_messages": LINE_KEY,
    "normalized_parse_errors": LINE_KEY,
    "normalized_hook_events": LINE_KEY,
    "normalized_usage": ["usage_key"],
    "normalized_sessions": ["source", "session_key"],
    "normalized_tool_calls": ["source", "call_id"],
    "normalized_session_links": ["source", "link_type", "from_session_key", "to_session_key", "via_uuid"],
}


def key(table: str) -> AssetKey:
    return AssetKey(["normalized", table])


def documented(table: str) -> dict:
    """The table's column docs and preview, from its SQL file's leading comments (storage/table_docs.py)."""
    return table_metadata(sql_table_doc(SQL_DIR / f"{table}.sql"))


def read_sql(table: str, **placeholders: str) -> str:
    """The SQL of `table`, with each `{name}` placeholder filled in (the tables not composed from sources)."""
    return render_sql(SQL_DIR / f"{table}.sql", placeholders)


STAMPED_COLUMNS = "machine_id, normalize_run_id"
"""The columns `incremental_query` adds to every row of a per-line table: part of those tables' version."""


def sql_version(table: str) -> str:
    """The version of a table's SQL: its file's, and the source files it reads (source_sql.table_version)."""
    if UNIQUE_KEYS.get(table) == LINE_KEY:
        return hashlib.sha256(f"{source_sql.table_version(table)}|{STAMPED_COLUMNS}".encode()).hexdigest()[:12]
    if table in source_sql.SOURCE_FILES:
        return source_sql.table_version(table)
    return sql_file_version(SQL_DIR / f"{table}.sql")


def needs_full_build(conn, table: str) -> bool:
    """True when `normalized.<table>` is missing or was built by other SQL than the file now holds."""
    return not table_exists(conn, "normalized", table) or stored_table_version(conn, "normalized", table) != sql_version(table)


def pending_paths_sql(source: Source) -> str:
    """Paths of `source` with a file version whose raw lines are not all normalized (or errors) yet.

    A manifest row's line_count against a count of normalized rows: a small
    aggregate over key columns, so an incremental run parses only the files
    that grew instead of testing every raw line of the warehouse.
    """
    name = quote_literal(source.name)
    return f"""
        SELECT f.path FROM {source.files_table} f
        LEFT JOIN (
            SELECT path, file_version, count(*) AS n FROM (
                SELECT path, file_version FROM normalized.{source.line_table} WHERE source = {name}
                UNION ALL
                SELECT path, file_version FROM normalized.normalized_parse_errors WHERE source = {name}
            ) GROUP BY ALL
        ) n USING (path, file_version)
        WHERE {read_machine(source.name, "f")} AND coalesce(n.n, 0) <> f.line_count"""


def has_files(conn, source: Source) -> bool:
    """Whether the raw layer holds any file of `source`. Most sources of a machine hold none (agents not
    installed): their counts below are skipped, each a scan of a normalized table (0.1 s on a DuckLake)."""
    return conn.execute(f"SELECT 1 FROM {source.files_table} LIMIT 1").fetchone() is not None


def sources_with_files(conn, sources) -> list[Source]:
    """The `sources` whose raw manifest holds any file, in one statement: a machine has most sources' agents not
    installed, and the per-source work of a normalizing step (pending and switched paths, each table's
    not-yet-normalized lines) cost a few catalog round trips per source and table on a DuckLake."""
    probes = " UNION ALL ".join(f"SELECT {quote_literal(s.name)} WHERE EXISTS (SELECT 1 FROM {s.files_table})"
                                for s in sources)
    found = {row[0] for row in conn.execute(probes).fetchall()}
    return [s for s in sources if s.name in found]


def pending_paths(conn, source: Source) -> list[str] | None:
    """The paths `pending_paths_sql` names, or None before the tables it counts exist."""
    if not all(table_exists(conn, "normalized", t) for t in (source.line_table, "normalized_parse_errors")):
        return None
    if not has_files(conn, source):
        return []
    return [row[0] for row in conn.execute(pending_paths_sql(source)).fetchall()]


def switched_paths(conn, source: Source) -> list[str]:
    """Paths of `source` whose normalized rows (its line table's or parse errors') are another machine's than
    the one now read for the path: a machine with a smaller id captured the path since. Their rows are
    replaced. Free when one machine wrote every file of the source."""
    tables = (source.line_table, "normalized_parse_errors")
    if not has_files(conn, source):
        return []
    if not all(table_exists(conn, "normalized", t) and "machine_id" in table_columns(conn, t) for t in tables):
        return []
    # Only a path two machines captured can be read from another machine than its rows came from: the others'
    # normalized rows are not scanned (a whole scan of normalized_messages' paths, 1-2 s at 1 GB on a DuckLake).
    shared = [row[0] for row in conn.execute(
        f"SELECT path FROM {source.files_table} GROUP BY path HAVING count(DISTINCT machine_id) > 1").fetchall()]
    if not shared:
        return []
    name = quote_literal(source.name)
    stored = " UNION ALL ".join(
        f"SELECT DISTINCT path, machine_id FROM normalized.{t} WHERE source = {name} AND {paths_in('path', shared)}"
        for t in tables)
    return [row[0] for row in conn.execute(
        f"SELECT DISTINCT n.path FROM ({stored}) n JOIN {read_machines(source.name)} m USING (path) "
        "WHERE n.machine_id IS DISTINCT FROM m.machine_id ORDER BY 1"
    ).fetchall()]


def table_columns(conn, table: str) -> set[str]:
    """The columns of `normalized.<table>` (by DESCRIBE: information_schema reads every table of a DuckLake)."""
    return {row[0] for row in conn.execute(f"DESCRIBE normalized.{quote_ident(table)}").fetchall()}


def not_yet_in(conn, table: str, source: Source, pending: list[str] | None, switched: list[str] = ()) -> str:
    """SQL predicate on raw row `r`: not already normalized into `normalized.<table>` (TRUE on a full build).

    `pending` is `pending_paths(conn, source)`, computed once per source for every table it serves.
    The new rows' rowid range is looked up first (a scan of key columns only) and put in as
    constants: DuckDB skips the row groups outside it, so the SQL file's JSON work and the
    line text are read for the new lines only, not for every line of the pending files' table.
    Lines are matched by line number, which all parts of a long line share.
    The `switched` paths' lines are all new (their stored rows, another machine's, go: `replaced_rows`).
    """
    if needs_full_build(conn, table):
        return "TRUE"
    not_stored = (
        f"NOT EXISTS (SELECT 1 FROM normalized.{table} n WHERE n.source = {quote_literal(source.name)} AND n.path = r.path "
        "AND n.file_version = r.file_version AND n.line_number = r.line_number)"
    )
    if pending is None:
        return not_stored
    if not pending and not switched:
        return "FALSE"
    # constants, not a subquery: else DuckDB runs the SQL file's JSON tests on every raw line first
    new_rows = f"{paths_in('r.path', pending)} AND {not_stored}" if pending else "FALSE"
    if switched:
        new_rows = f"({paths_in('r.path', list(switched))} OR ({new_rows}))"
    first, last = conn.execute(f"SELECT min(r.rowid), max(r.rowid) FROM {source.lines_table} r WHERE {new_rows}").fetchone()
    if first is None:
        return "FALSE"
    return f"r.rowid BETWEEN {int(first)} AND {int(last)} AND {new_rows}"


def replaced_rows(conn, table: str, switched: dict[str, list[str]]) -> str | None:
    """SQL predicate on `normalized.<table>`'s rows: those of the switched paths (None: none, or a full build)."""
    terms = [f"(source = {quote_literal(name)} AND {paths_in('path', paths)})" for name, paths in sorted(switched.items())
             if paths]
    return " OR ".join(terms) if terms and not needs_full_build(conn, table) else None


def lines_sql(conn, table: str, sources: tuple[Source, ...], pending: dict, budget_bytes: int,
              switched: dict[str, list[str]] | None = None) -> list[dict[str, str]]:
    """Per statement of a per-line table's write: each source's raw lines to read (source name -> relation).
    A source `pending` does not name holds no file (`sources_with_files`): nothing to read.

    Each source's new lines (`not_yet_in`) are read whole (`whole_lines`), at most `budget_bytes`
    of them per statement (`line_batches`): one statement per batch of one source, which names
    that source alone (with every source's SQL in it, planning one statement took 0.12 s: 3 s of a
    1 GB build's 25 statements). An incremental run's few new lines make one statement.
    """
    statements = []
    for source in sources:
        if source.name not in pending:
            continue
        new = not_yet_in(conn, table, source, pending[source.name], (switched or {}).get(source.name, []))
        if new == "FALSE":
            continue
        for batch in line_batches(conn, source.name, new, budget_bytes):
            statements.append({source.name: whole_lines(source.name, f"{new} AND {batch}")})
    return statements or [{source.name: whole_lines(source.name, "FALSE") for source in sources}]


def statement_bytes(warehouse: WarehouseResource) -> int:
    """Bytes of lines one statement parses, from the warehouse's DuckDB memory limit."""
    return batch_bytes(size_in_bytes(warehouse.memory_limit))


def with_machine(sql: str, sources) -> str:
    """`sql`'s rows (source, path ...) with the machine whose lines of the path were read (`read_machines`)."""
    machines = " UNION ALL ".join(
        f"SELECT {quote_literal(s)} AS source, path, machine_id FROM {read_machines(s)}" for s in sorted(sources))
    return (f"SELECT s.*, m.machine_id FROM ({sql}) s "
            f"LEFT JOIN ({machines}) m ON m.source = s.source AND m.path = s.path")


def incremental_query(conn, table: str, statements: list[tuple[str, dict]], run_id: str,
                      switched: dict[str, list[str]] | None = None) -> SqlQuery:
    """Append the new rows, or replace the table when its SQL changed; stamps each row with its machine and the
    run id. The stored rows of `switched` paths go in the same write (`replaced_rows`).

    `statements` are SELECTs, each with the lines it read (`lines_sql`), whose rows together are the new rows
    (more than one when the work is cut to bound memory). Rows are stored in any order (each carries its line
    key; every reader orders or groups).
    """
    stamped = [f"SELECT *, CAST(? AS VARCHAR) AS normalize_run_id FROM ({with_machine(sql, lines)})"
               for sql, lines in statements]
    return SqlQuery(
        stamped[0],
        [run_id],
        write_mode="replace" if needs_full_build(conn, table) else None,
        table_version=sql_version(table),
        any_row_order=True,
        also_delete=replaced_rows(conn, table, switched or {}),
        more=tuple((sql, [run_id]) for sql in stamped[1:]),
    )


@multi_asset(
    name="normalize_transcript_lines",
    outs={
        "normalized_messages": AssetOut(
            key=key("normalized_messages"),
            group_name="normalized",
            description="One row per transcript line that is a JSON object (every source with messages): tree links, "
            "time, role, content shape, usage fields, tool blocks, text. Unknown types kept by name.",
            metadata={"write_mode": "append", "key_columns": LINE_KEY, **documented("normalized_messages")},
            kinds={"duckdb"},
        ),
        "normalized_parse_errors": AssetOut(
            key=key("normalized_parse_errors"),
            group_name="normalized",
            description="Every raw line that could not be parsed, with its raw reference and the reason.",
            metadata={"write_mode": "append", "key_columns": LINE_KEY, **documented("normalized_parse_errors")},
            kinds={"duckdb"},
        ),
    },
    deps=[lines_key(source) for source in SOURCES],
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def normalize_transcript_lines(context: AssetExecutionContext, warehouse: WarehouseResource):
    run_id = context.run.run_id
    with warehouse.connect() as conn:
        # a source added since the warehouse was made, or never captured, has no tables yet: made here, at
        # the same time as a team member's capture may make one of them
        retry_on_conflict(lambda: ensure_raw_tables(conn, SOURCES), log=context.log.warning)
        present = sources_with_files(conn, SOURCES)
        pending = {source.name: pending_paths(conn, source) for source in present}
        switched = {source.name: switched_paths(conn, source) for source in present}
        budget = statement_bytes(warehouse)
        with_messages = source_sql.sources_of("normalized_messages")
        messages_sql = [(source_sql.messages_sql(lines), lines) for lines in lines_sql(
            conn, "normalized_messages", with_messages, pending, budget, switched)]
        errors_sql = [(source_sql.parse_errors_sql(lines), lines) for lines in lines_sql(
            conn, "normalized_parse_errors", SOURCES, pending, budget, switched)]
        messages = incremental_query(conn, "normalized_messages", messages_sql, run_id,
                                     {s.name: switched[s.name] for s in with_messages if s.name in switched})
        errors = incremental_query(conn, "normalized_parse_errors", errors_sql, run_id, switched)
    yield Output(messages, output_name="normalized_messages")
    yield Output(errors, output_name="normalized_parse_errors")


@asset(
    key=key("normalized_hook_events"),
    group_name="normalized",
    deps=[lines_key(source) for source in source_sql.sources_of("normalized_hook_events")],
    pool=WAREHOUSE_POOL,
    metadata={"write_mode": "append", "key_columns": LINE_KEY, **documented("normalized_hook_events")},
    kinds={"duckdb"},
    description="One row per spooled hook payload: event, session, tool, tool_use_id, duration, received_at.",
)
def normalized_hook_events(context: AssetExecutionContext, warehouse: WarehouseResource) -> SqlQuery:
    sources = source_sql.sources_of("normalized_hook_events")
    with warehouse.connect() as conn:
        retry_on_conflict(lambda: ensure_raw_tables(conn, sources), log=context.log.warning)
        present = sources_with_files(conn, sources)
        pending = {source.name: pending_paths(conn, source) for source in present}
        switched = {source.name: switched_paths(conn, source) for source in present}
        sql = [(source_sql.hook_events_sql(lines), lines) for lines in lines_sql(
            conn, "normalized_hook_events", sources, pending, statement_bytes(warehouse), switched)]
        return incremental_query(conn, "normalized_hook_events", sql, context.run.run_id, switched)


def rebuilt_from_messages(table: str, description: str, groups):
    """An asset computed from normalized_messages as a whole. An incremental run recomputes only
    the groups `groups` names in the files with new messages (storage/watermarks.py)."""

    @asset(
        key=key(table),
        group_name="normalized",
        deps=[key("normalized_messages")],
        pool=WAREHOUSE_POOL,
        metadata={"write_mode": "replace", "key_columns": UNIQUE_KEYS[table], **documented(table)},
        kinds={"duckdb"},
        description=description,
    )
    def _rebuilt(warehouse: WarehouseResource) -> SqlQuery:
        with warehouse.connect() as conn:
            return rebuild_query(conn, f"normalized.{table}", MESSAGES, groups, sql_version(table),
                                 full=needs_full_build(conn, table))

    return _rebuilt


def from_file(table: str, scope):
    """The groups of a table whose one SQL file takes `scope`'s placeholders."""

    def groups(changed):
        placeholders, also_delete = scope(changed)
        return read_sql(table, **placeholders), also_delete

    return groups


normalized_usage = rebuilt_from_messages(
    "normalized_usage",
    "One row per API call, each source's rules (Claude deduplicated by message.id + requestId, Codex re-emits "
    "skipped); non-overlapping token columns.",
    source_sql.usage_sql,
)
normalized_sessions = rebuilt_from_messages(
    "normalized_sessions", "One row per session: main, subagent, compaction file or inline sidechain.",
    from_file("normalized_sessions", sessions_scope),
)
normalized_tool_calls = rebuilt_from_messages(
    "normalized_tool_calls", "Every tool call paired with its result by call id; pending when no result yet.",
    from_file("normalized_tool_calls", tool_calls_scope),
)
normalized_session_links = rebuilt_from_messages(
    "normalized_session_links", "Subagent, compaction, summary and resume links between sessions.",
    from_file("normalized_session_links", session_links_scope),
)

normalized_assets = [
    normalize_transcript_lines,
    normalized_hook_events,
    normalized_usage,
    normalized_sessions,
    normalized_tool_calls,
    normalized_session_links,
]
