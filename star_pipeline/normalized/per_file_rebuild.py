"""Usage, sessions, tool calls and session links: recompute only what new messages can change.

These tables combine lines (a call's copies across resumed sessions, a session's
files, a call and its result), so a new line can change rows that came from older
lines. Their groups never vanish (messages are only appended), so an incremental
run recomputes the groups named in the files that changed, from ALL their lines,
and replaces those rows by key (`upsert`). Which files changed is kept per table in
`meta_rebuild_watermarks`: each file's message count and latest normalize run, as
seen by the table's last write, written in the same transaction as the rows.

A full rebuild runs instead when the table is missing, its SQL file changed, no
watermark is stored (a warehouse from before this mechanism), a file it saw is
gone, or every file changed (normalized_messages was rebuilt by other SQL).
"""

from __future__ import annotations

from star_pipeline.storage.table_writes import SqlQuery
from star_pipeline.storage.warehouse import paths_in, quote_literal

WATERMARKS = "meta_rebuild_watermarks"
MESSAGES = "normalized.normalized_messages"


def file_signatures_sql(where: str = "TRUE") -> str:
    """Per file of normalized_messages (alias `m` in `where`): message count and latest normalize run id."""
    return (
        "SELECT source, path, file_version, count(*) AS message_count, max(normalize_run_id) AS last_normalize_run_id "
        f"FROM {MESSAGES} m WHERE {where} GROUP BY ALL"
    )


def changed_files(conn, table_name: str) -> dict[str, list[str]] | None:
    """Paths per source whose messages differ from what `table_name` last saw; None when it needs a full rebuild."""
    rows = conn.execute(
        f"""
        WITH now AS ({file_signatures_sql()}),
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


def record_watermarks(table_name: str, changed: dict[str, list[str]] | None) -> tuple[tuple[str, list], ...]:
    """Statements that store what the write saw: every file after a full rebuild, else the changed files."""
    where = "TRUE" if changed is None else files_in(changed, "m")
    return (
        (f"DELETE FROM {WATERMARKS} m WHERE table_name = ? AND {where}", [table_name]),
        (f"INSERT INTO {WATERMARKS} SELECT ?, * FROM ({file_signatures_sql(where)})", [table_name]),
    )


# Per table: the SQL file's placeholders, TRUE on a full build (changed is None), else
# predicates naming the groups in the changed files; and the rows to delete besides
# those whose key comes back.


def usage_scope(changed: dict[str, list[str]] | None) -> tuple[dict[str, str], str | None]:
    """Claude: the calls (message ids, and every line of the changed files); Codex: the sessions."""
    if changed is None:
        return {"claude_scope": "TRUE", "claude_files": "TRUE", "codex_scope": "TRUE"}, None
    claude, codex = changed.get("claude_code", []), changed.get("codex", [])
    claude_scope = (
        f"(m.message_id IN (SELECT x.message_id FROM {MESSAGES} x WHERE x.source = 'claude_code' "
        f"AND {paths_in('x.path', claude)}) OR {paths_in('m.path', claude)})"
        if claude else "FALSE"
    )
    codex_sessions = f"(SELECT x.session_id FROM {MESSAGES} x WHERE x.source = 'codex' AND {paths_in('x.path', codex)})"
    placeholders = {
        "claude_scope": claude_scope,
        "claude_files": "path IN (SELECT path FROM claude_calls)",
        "codex_scope": f"session_id IN {codex_sessions}" if codex else "FALSE",
    }
    # a Codex session's rows come from its longest copy, which can change: its old rows go first
    return placeholders, (f"source = 'codex' AND session_id IN {codex_sessions}" if codex else None)


def sessions_scope(changed: dict[str, list[str]] | None) -> tuple[dict[str, str], str | None]:
    if changed is None:
        return {"session_scope": "TRUE"}, None
    return {"session_scope": f"session_key IN (SELECT x.session_key FROM {MESSAGES} x WHERE {files_in(changed, 'x')})"}, None


def call_ids_named_in(files: str) -> str:
    """SELECT of the tool call ids (calls and results) in the messages matching `files` (SQL on alias `x`)."""
    return f"SELECT unnest(list_transform(x.tool_blocks, t -> t.call_id)) FROM {MESSAGES} x WHERE len(x.tool_blocks) > 0 AND {files}"


def tool_calls_scope(changed: dict[str, list[str]] | None) -> tuple[dict[str, str], str | None]:
    if changed is None:
        return {"call_scope": "TRUE", "call_files": "TRUE"}, None
    call_ids = call_ids_named_in(files_in(changed, "x"))
    return {"call_scope": f"b.call_id IN ({call_ids})", "call_files": "path IN (SELECT path FROM blocks_in_scope)"}, None


def session_links_scope(changed: dict[str, list[str]] | None) -> tuple[dict[str, str], str | None]:
    """The sessions of the changed files, and those sharing a uuid with them (a uuid's owner, the
    session where it first appears, can change) or naming one as a summary leaf. Their links are
    computed again from all their records, so their stored links go first."""
    if changed is None:
        return {"session_scope": "TRUE", "uuid_scope": "TRUE", "uuid_files": "TRUE"}, None
    new_uuids = f"SELECT x.uuid FROM {MESSAGES} x WHERE x.uuid IS NOT NULL AND {files_in(changed, 'x')}"
    sessions = (
        f"(SELECT x.session_key FROM {MESSAGES} x WHERE {files_in(changed, 'x')} "
        f"UNION SELECT y.session_key FROM {MESSAGES} y WHERE y.uuid IN ({new_uuids}) "
        f"UNION SELECT y.session_key FROM {MESSAGES} y WHERE y.record_type = 'summary' AND y.leaf_uuid IN ({new_uuids}))"
    )
    placeholders = {
        "session_scope": f"session_key IN {sessions}",
        "uuid_scope": "uuid IN (SELECT uuid FROM keyed UNION SELECT leaf_uuid FROM keyed WHERE record_type = 'summary')",
        "uuid_files": "path IN (SELECT path FROM uuid_rows)",
    }
    return placeholders, f"from_session_key IN {sessions}"


def rebuild_query(conn, table: str, scope, sql_file, version: str, full: bool) -> SqlQuery:
    """The write for `table`: a full rebuild (`replace`) or the changed groups (`upsert`), with its watermarks."""
    table_name = f"normalized.{table}"
    changed = None if full else changed_files(conn, table_name)
    placeholders, also_delete = scope(changed)
    return SqlQuery(
        sql_file(table, **placeholders),
        write_mode="replace" if changed is None else "upsert",
        table_version=version,
        also_delete=also_delete,
        after_write=record_watermarks(table_name, changed),
    )
