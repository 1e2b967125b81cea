"""The normalized tables' SQL: each table's contract (`<table>.sql` beside this file) filled with the
sources' own SQL (`star_pipeline/sources/<source>/<part>.sql`), one branch per registered source.

A table's version is the hash of its contract and of every source file it reads, so a change
to any source's parser rebuilds the table, as a change to its contract does.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from star_pipeline.sources import SOURCES, Source
from star_pipeline.storage.sql_files import render_sql, sql_code
from star_pipeline.storage.warehouse import quote_literal

SQL_DIR = Path(__file__).parent

# Per table: the source SQL file it reads (None: the SQL of every source is generated here).
SOURCE_FILES = {
    "normalized_messages": "messages",
    "normalized_usage": "usage",
    "normalized_hook_events": "hook_events",
}


def contract_sql(table: str, **placeholders: str) -> str:
    return render_sql(SQL_DIR / f"{table}.sql", placeholders)


def sources_of(table: str) -> tuple[Source, ...]:
    """The registered sources that have rows in `table`."""
    if table == "normalized_messages" or table == "normalized_usage":
        return tuple(s for s in SOURCES if s.has_messages)
    if table == "normalized_hook_events":
        return tuple(s for s in SOURCES if s.has_hook_events)
    return SOURCES


def table_version(table: str) -> str:
    """The first 12 hex of the sha256 of the code (comments left out) of the table's contract and the source
    files it reads."""
    hasher = hashlib.sha256(sql_code((SQL_DIR / f"{table}.sql").read_text()).encode())
    part = SOURCE_FILES.get(table)
    for source in sources_of(table):
        hasher.update(source.name.encode())
        if part:
            hasher.update(sql_code(source.sql_file(part).read_text()).encode())
        else:  # parse errors: the source's own test and reasons
            hasher.update(repr((source.unparsed_where, source.parse_error_reasons)).encode())
    return hasher.hexdigest()[:12]


def source_part_sql(source: Source, part: str, placeholders: dict[str, str]) -> str:
    """A source's `<part>.sql` filled in; `{source}`, where the file has it, is the source's name as a literal (one
    SQL folder may serve several sources: Cline, Roo Code and Kilo Code)."""
    path = source.sql_file(part)
    if "{source}" in path.read_text():
        placeholders = {**placeholders, "source": quote_literal(source.name)}
    return render_sql(path, placeholders)


def _union(parts: list[str]) -> str:
    return "\n".join(f"UNION ALL BY NAME SELECT * FROM ({part})" for part in parts)


def messages_sql(lines: dict[str, str]) -> str:
    """normalized_messages from `lines` (source name -> relation of its raw lines to read, whole)."""
    parts = [source_part_sql(s, "messages", {"lines": lines[s.name]}) for s in sources_of("normalized_messages")
             if s.name in lines]
    return contract_sql("normalized_messages", source_messages=_union(parts))


def hook_events_sql(lines: dict[str, str]) -> str:
    parts = [source_part_sql(s, "hook_events", {"lines": lines[s.name]}) for s in sources_of("normalized_hook_events")
             if s.name in lines]
    return contract_sql("normalized_hook_events", source_hook_events=_union(parts))


def parse_errors_sql(lines: dict[str, str]) -> str:
    """normalized_parse_errors from `lines`: each source's raw lines that its `unparsed_where` marks (`lines`
    names at least one source)."""
    selects = [
        f"SELECT {quote_literal(s.name)} AS source, r.path, r.file_version, r.line_number, r.byte_offset, r.byte_length, "
        f"r.line_bytes, r.ends_with_newline, try(decode(r.line_bytes)) AS text "
        f"FROM {lines[s.name]} r WHERE {s.unparsed_where}"
        for s in SOURCES if s.name in lines
    ]
    reasons = " ".join(
        f"WHEN source = {quote_literal(s.name)} AND {condition} THEN {quote_literal(reason)}"
        for s in SOURCES for condition, reason in s.parse_error_reasons
    )
    return contract_sql("normalized_parse_errors", source_lines="\n    UNION ALL\n    ".join(selects),
                        source_reasons=reasons)


def api_call_usage(source: Source) -> str:
    """`{api_call_usage}` of a source's usage.sql: its counted calls (relation `counted`: session_id, agent_id,
    is_sidechain, path, file_version, byte_offset, event_ts, `c` an element of normalized_messages.api_calls,
    `default_model` for a call that names none) as normalized_usage rows."""
    name = quote_literal(source.name)
    call = "coalesce(c.call_id, path || '@' || byte_offset)"  # a call the agent gave no id: its line
    return f"""SELECT {name} AS source, session_id, agent_id, {call} AS request_id,
        coalesce(c.model, default_model) AS model, c.model IS NULL AS model_is_fallback, event_ts,
        c.input_tokens, c.output_tokens, c.cache_creation_input_tokens, CAST(0 AS BIGINT) AS cache_creation_1h_input_tokens,
        c.cache_read_input_tokens, c.reasoning_output_tokens, coalesce(is_sidechain, FALSE) AS is_sidechain,
        'standard' AS speed, path, file_version, byte_offset,
        {name} || ':' || session_id || ':' || {call} AS usage_key, c.recorded_cost_usd
    FROM counted"""


def usage_sql(changed: dict[str, list[str]] | None) -> tuple[str, str | None]:
    """normalized_usage over the calls `changed` names (None: every call), and the rows to delete besides
    those whose key comes back (each source's `usage_scope` says)."""
    parts, deletes = [], []
    for source in sources_of("normalized_usage"):
        placeholders, also_delete = source.usage_scope(None if changed is None else changed.get(source.name, []))
        if "{api_call_usage}" in source.sql_file("usage").read_text():
            placeholders = {**placeholders, "api_call_usage": api_call_usage(source)}
        parts.append(source_part_sql(source, "usage", placeholders))
        if also_delete:
            deletes.append(f"({also_delete})")
    return contract_sql("normalized_usage", source_usage=_union(parts)), (" OR ".join(deletes) or None)
