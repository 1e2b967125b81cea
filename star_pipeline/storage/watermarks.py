"""Per-file watermarks: recompute only the groups that new lines can change.

Tables that combine lines (a call's copies across resumed sessions, a session's
files, a call and its result; a classifier version's view of tool calls) can see
an old row change when a new line arrives. Their groups never vanish (lines are
only appended), so an incremental write recomputes the groups named in the files
that changed, from ALL their lines, and replaces those rows by key (`upsert`).
Which files changed is kept per table in `meta_rebuild_watermarks`: each file's
line count and latest run, as the table's last write saw them, written in the
same transaction as the rows.

A full rebuild runs instead when the table is missing, its SQL changed, no
watermark is stored, a file it saw is gone, or every file changed.
`lines_table` is the per-line table whose files are watched (for the warehouse's
tables: normalized.normalized_messages, with its `normalize_run_id`).
"""

from __future__ import annotations

from collections.abc import Callable

from star_pipeline.storage.table_writes import SqlQuery
from star_pipeline.storage.warehouse import paths_in, quote_literal

WATERMARKS = "meta_rebuild_watermarks"


def file_signatures_sql(lines_table: str, where: str = "TRUE") -> str:
    """Per file of `lines_table` (alias `m` in `where`): line count and latest normalize run id."""
    return (
        "SELECT source, path, file_version, count(*) AS message_count, max(normalize_run_id) AS last_normalize_run_id "
        f"FROM {lines_table} m WHERE {where} GROUP BY ALL"
    )


def changed_files(conn, table_name: str, lines_table: str) -> dict[str, list[str]] | None:
    """Paths per source whose lines differ from what `table_name` last saw; None when it needs a full rebuild."""
    rows = conn.execute(
        f"""
        WITH now AS ({file_signatures_sql(lines_table)}),
        was AS (SELECT * FROM {WATERMARKS} WHERE table_name = ?)
        SELECT coalesce(now.source, was.source), coalesce(now.path, was.path), now.path IS NULL AS vanished,
               (SELECT count(*) FROM was) AS seen, (SELECT count(*) FROM now) AS files
        FROM now FULL OUTER JOIN was ON now.source = was.source AND now.path = was.path AND now.file_version = was.file_version
        WHERE now.message_count IS DISTINCT FROM was.message_count
           OR now.last_normalize_run_id IS DISTINCT FROM was.last_normalize_run_id
        """,
        [table_name],
    ).fetchall()
    if not rows:
        seen = conn.execute(f"SELECT count(*) FROM {WATERMARKS} WHERE table_name = ?", [table_name]).fetchone()[0]
        return {} if seen else None
    seen, files = rows[0][3], rows[0][4]
    if not seen or any(row[2] for row in rows) or len(rows) >= files:
        return None
    changed: dict[str, list[str]] = {}
    for source, path, *_ in rows:
        if path not in changed.setdefault(source, []):
            changed[source].append(path)
    return changed


def files_in(changed: dict[str, list[str]], alias: str) -> str:
    """SQL predicate: row `alias` lies in one of the changed files (its paths as quoted constants)."""
    terms = [f"({alias}.source = {quote_literal(source)} AND {paths_in(alias + '.path', paths)})"
             for source, paths in sorted(changed.items())]
    return "(" + " OR ".join(terms) + ")" if terms else "FALSE"


def record_watermarks(table_name: str, changed: dict[str, list[str]] | None, lines_table: str) -> tuple[tuple[str, list], ...]:
    """Statements that store what the write saw: every file after a full rebuild, else the changed files."""
    where = "TRUE" if changed is None else files_in(changed, "m")
    return (
        (f"DELETE FROM {WATERMARKS} m WHERE table_name = ? AND {where}", [table_name]),
        (f"INSERT INTO {WATERMARKS} SELECT ?, * FROM ({file_signatures_sql(lines_table, where)})", [table_name]),
    )


# Given the changed files (None: everything), a table's SQL and the rows to delete besides those whose key comes back.
GroupsQuery = Callable[[dict[str, list[str]] | None], tuple[str, str | None]]


def rebuild_query(conn, table_name: str, lines_table: str, groups: GroupsQuery, version: str, full: bool) -> SqlQuery:
    """The write of `table_name`: a full rebuild (`replace`) or the changed groups (`upsert`), with its watermarks."""
    changed = None if full else changed_files(conn, table_name, lines_table)
    sql, also_delete = groups(changed)
    return SqlQuery(
        sql,
        write_mode="replace" if changed is None else "upsert",
        table_version=version,
        also_delete=also_delete,
        after_write=record_watermarks(table_name, changed, lines_table),
    )
