"""published_search_copy: what `star-pipeline search` and `star-pipeline mcp` read (<warehouse>.search.duckdb),
brought up to date after every rebuild: the masked texts with their session's project, their vectors for the
configured model, the lexical (BM25) index of the texts' words, and the history tables the MCP tools
answer from (HISTORY_TABLES: sessions, tool calls, API calls, files touched), where every text comes
from search_documents and so is masked as it is.

The costly parts are computed in the warehouse, incrementally, per distinct text: the vectors
(search_embeddings) and the words (search_postings); the copy only lays them out for reading (document
ids, term ids, postings sorted by term). A rebuild changes the copy in proportion to what changed: the
copy is copied (a file copy, at disk speed), the documents whose row changed are deleted and inserted
again with their vectors and postings (new terms get new ids, document frequencies are adjusted), the
small history tables are written again, and the copy is renamed into place, so search never waits for a
writer and never sees half a copy. It is written whole when there is none, when its layout, model or
setting differ, or when the documents changed since it was last written whole pass UPDATED_AT_MOST of
them (and UPDATED_ALWAYS_BELOW) (appended postings are no longer sorted by term; a whole copy sorts them again).
(DuckDB's own fts index was rebuilt whole here, 10 of 16 s at 1 GB; the whole copy 29 s at 1 GB.)
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from dagster import MaterializeResult, MetadataValue, asset

from star_pipeline.aggregate.search_documents import SEARCH_TEXT
from star_pipeline.aggregate.sql_assets import GROUP, key, normalized
from star_pipeline.storage.embeddings import model_id
from star_pipeline.storage.masking import SECRET_PATH, TARGET_MASKED  # a call's target path hidden with its secret
from star_pipeline.storage.published_copies import fresh_temporary, replace_with, search_copy_path, stamp
from star_pipeline.storage.resources import WAREHOUSE_POOL, SearchResource, WarehouseResource
from star_pipeline.storage.search_words import prepare
from star_pipeline.storage.warehouse import quote_literal


# The history tables of the copy (search/history.py reads them), each one query over the warehouse. Texts
# (first prompts, call inputs, error examples) are taken from search_documents, which is masked; a call whose
# message is not there (a copy search keeps elsewhere) has no text rather than an unmasked one.
HISTORY_TABLES = {
    "sessions": """
        WITH prompts AS (
            -- the first thing a person typed: a user message of the main agent that is not a tag block
            -- (<command-name>, <environment_context>, ...) injected around prompts
            SELECT source, session_id, left(regexp_replace(trim(message_text), '\\s+', ' ', 'g'), 200) AS first_prompt
            FROM aggregate.search_documents
            WHERE role = 'user' AND agent_id IS NULL AND nullif(trim(message_text), '') IS NOT NULL
              AND NOT starts_with(ltrim(message_text, ' "' || chr(10)), '<')
            QUALIFY row_number() OVER (PARTITION BY source, session_id ORDER BY event_ts, path, byte_offset) = 1
        ),
        calls AS (
            SELECT source, session_id, count(*) AS tool_calls, count(*) FILTER (WHERE status = 'failed') AS tool_errors,
                arg_max(status, called_at) AS last_call_status
            FROM aggregate.fact_tool_call GROUP BY ALL
        ),
        activity AS (
            SELECT source, session_id, min(event_ts) AS first_activity, max(event_ts) AS last_activity, count(*) AS messages
            FROM aggregate.search_documents GROUP BY ALL
        )
        SELECT p.source, p.session_id, p.project_id AS project, p.machine_id AS machine, p.git_branch,
            least(a.first_activity, u.first_activity) AS first_activity,
            greatest(a.last_activity, u.last_activity) AS last_activity,
            coalesce(a.messages, 0) AS messages, coalesce(u.api_calls, 0) AS api_calls,
            coalesce(u.total_tokens, 0) AS total_tokens, u.cost_usd, coalesce(u.models, []) AS models,
            coalesce(c.tool_calls, 0) AS tool_calls, coalesce(c.tool_errors, 0) AS tool_errors, c.last_call_status,
            f.first_prompt
        FROM aggregate.session_projects p
        LEFT JOIN aggregate.derived_session_usage u USING (source, session_id)
        LEFT JOIN activity a USING (source, session_id)
        LEFT JOIN calls c USING (source, session_id)
        LEFT JOIN prompts f USING (source, session_id)""",
    "tool_calls": f"""
        SELECT c.source, c.session_id, c.agent_id, c.call_id, c.tool_name, c.called_at, c.duration_ms, c.duration_source,
            c.status, c.exit_code, c.status_reason,
            CASE WHEN {TARGET_MASKED} THEN '{SECRET_PATH}' ELSE c.target_path END AS target_path, c.subagent_type,
            coalesce(p.project_id, '(unknown)') AS project,
            left(i.tool_input, 300) AS input_head,
            CASE WHEN c.status IN ('failed', 'rejected', 'interrupted') THEN left(r.tool_result, 500) END AS error_head
        FROM normalized.normalized_tool_calls c
        LEFT JOIN aggregate.session_projects p USING (source, session_id)
        LEFT JOIN aggregate.search_documents i
               ON i.source = c.source AND i.path = c.path AND i.file_version = c.file_version AND i.byte_offset = c.byte_offset
        LEFT JOIN aggregate.search_documents r
               ON r.source = c.source AND r.path = c.result_path AND r.file_version = c.result_file_version
              AND r.byte_offset = c.result_byte_offset""",
    "api_calls": """
        SELECT source, session_id, agent_id, event_ts, report_model AS model, input_tokens, output_tokens,
            cache_creation_input_tokens, cache_read_input_tokens, reasoning_output_tokens, total_tokens, cost_usd
        FROM aggregate.fact_token_usage""",
    "file_activity": f"""
        SELECT f.source, f.project_id AS project, f.session_id,
            CASE WHEN m.session_id IS NOT NULL THEN '{SECRET_PATH}' ELSE f.target_path END AS target_path,
            f.reads, f.edits, f.first_touched, f.last_touched
        FROM aggregate.derived_file_activity f
        LEFT JOIN (SELECT DISTINCT c.source, c.session_id, c.target_path FROM normalized.normalized_tool_calls c
                   JOIN aggregate.search_documents i
                     ON i.source = c.source AND i.path = c.path AND i.file_version = c.file_version
                    AND i.byte_offset = c.byte_offset
                   WHERE {TARGET_MASKED}) m USING (source, session_id, target_path)""",
    # Each subagent a session started, its type and the call that started it (the dashboard nests its entries there)
    "subagents": """
        SELECT source, session_id, agent_id, agent_type, spawned_by_call_id FROM aggregate.derived_subagents""",
    # How sessions continue one another (the dashboard's session page): a session that starts with copies of
    # another's records was resumed from it ('resume'; a summary line naming another session's message:
    # 'summary'), and each compaction inside a session, at its time (no text: ids, kinds and times only).
    "session_links": """
        SELECT l.source, l.link_type, l.from_session_key AS session_id, l.to_session_key AS other_session_id,
            CAST(NULL AS TIMESTAMPTZ) AS happened_at
        FROM normalized.normalized_session_links l
        WHERE l.link_type IN ('resume', 'summary')
          AND (l.source, l.from_session_key) IN (SELECT (source, session_id) FROM aggregate.session_projects)
          AND (l.source, l.to_session_key) IN (SELECT (source, session_id) FROM aggregate.session_projects)
        UNION ALL
        SELECT source, 'compaction', session_id, NULL, event_ts
        FROM normalized.normalized_messages WHERE record_type = 'system' AND subtype = 'compact_boundary'""",
}


COPY_LAYOUT = 2
"""The copy's layout (search_meta.layout): a copy of another layout is written whole."""
UPDATED_AT_MOST = 0.25
"""The share of a copy's documents that may change before it is written whole again (postings appended by updates
are not sorted by term, and a document deleted leaves its space behind: a whole copy sorts and compacts)..."""
UPDATED_ALWAYS_BELOW = 20_000
"""...but never fewer than this many documents: a small copy is cheap either way, and a first few sessions change
much of it."""
DOCUMENT_KEY = ("source", "path", "file_version", "byte_offset")
# The copy's documents as search_documents and session_projects now give them (`row_hash`: what a reader sees
# of a document; a document whose row_hash differs from the copy's is replaced), those matching {where}.
CURRENT_DOCUMENTS = """
    SELECT d.source, d.path, d.file_version, d.byte_offset, d.session_id, d.agent_id,
        coalesce(p.project_id, '(unknown)') AS project, coalesce(p.machine_id, '(unknown)') AS machine,
        d.event_ts, d.role, d.record_type, d.text_hash,
        hash(d.session_id, d.agent_id, coalesce(p.project_id, '(unknown)'), coalesce(p.machine_id, '(unknown)'),
             d.event_ts, d.role, d.record_type, d.text_hash) AS row_hash
    FROM aggregate.search_documents d
    LEFT JOIN aggregate.session_projects p USING (source, session_id)"""


@dataclass
class CopyWrite:
    """What a write of the copy did: `whole` or `updated`, the documents inserted and deleted, the documents in it."""

    how: str
    inserted: int
    deleted: int
    documents: int


@asset(key=key("published_search_copy"), group_name=GROUP,
       deps=[key("search_documents"), key("search_embeddings"), key("search_postings"), key("session_projects"), key("fact_tool_call"),
             key("fact_token_usage"), key("derived_session_usage"), key("derived_file_activity"),
             key("derived_subagents"), normalized("normalized_session_links")], pool=WAREHOUSE_POOL,
       kinds={"duckdb"}, description="The read-only copy search and the MCP server read (<anchor>.search.duckdb: beside the "
       "warehouse, or in warehouse.published_path on a lake): "
       "masked texts, their vectors, a BM25 full-text index and the history tables (sessions, tool calls, API calls, "
       "files, subagents, links between sessions), updated by the documents that changed (written whole when "
       "a quarter of them did).")
def published_search_copy(warehouse: WarehouseResource, search: SearchResource) -> MaterializeResult:
    target = search_copy_path(warehouse.publishing_anchor())
    model = model_id(search.embedding_model)
    old_umask = os.umask(0o077)  # the copy and its WAL are the owner's only
    try:
        with warehouse.connect() as conn:
            prepare(conn)  # the stop words, which the copy keeps for queries
            written = (_update_copy(conn, target, model, search.embedding_model, warehouse.machine_id) if target.exists()
                       else None)
            if written is None:
                written = _write_copy_whole(conn, target, model, search.embedding_model, warehouse.machine_id)
    finally:
        os.umask(old_umask)
    return MaterializeResult(metadata={
        "path": MetadataValue.path(str(target)), "written": written.how, "rows_written": written.inserted,
        "documents_deleted": written.deleted, "documents": written.documents, "model": model})


def _attached(conn, path) -> None:
    conn.execute(f"ATTACH {quote_literal(str(path))} AS search_copy")


def _write_copy_whole(conn, target, model: str, setting: str, machine_id: str = "") -> CopyWrite:
    temporary = fresh_temporary(target)
    _attached(conn, temporary)
    try:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE current_documents AS {CURRENT_DOCUMENTS}")
        conn.execute(f"CREATE TABLE search_copy.documents AS {_documents_sql('TRUE', 0)}")
        dimensions = _dimensions(conn, model)
        conn.execute(f"CREATE TABLE search_copy.vectors AS {_vectors_sql(dimensions)} WHERE TRUE", [model])
        _write_history(conn)
        _write_postings(conn)
        conn.execute("CREATE TABLE search_copy.stopwords AS SELECT sw FROM stopwords")
        documents = conn.execute("SELECT count(*) FROM search_copy.documents").fetchone()[0]
        conn.execute("CREATE TABLE search_copy.search_meta AS SELECT CAST(? AS VARCHAR) AS embedding_model, "
                     "CAST(? AS VARCHAR) AS model_setting, CAST(? AS INTEGER) AS dimensions, "
                     "CAST(? AS BIGINT) AS documents, CAST(0 AS DOUBLE) AS average_words, now() AS published_at, "
                     "CAST(? AS INTEGER) AS layout, CAST(? AS BIGINT) AS whole_documents, "
                     "CAST(0 AS BIGINT) AS changed_since_whole",
                     [model, setting, dimensions, documents, COPY_LAYOUT, documents])
        _refresh_meta(conn, machine_id)
    finally:
        conn.execute("DETACH search_copy")
        conn.execute("DROP TABLE IF EXISTS current_documents")
    replace_with(temporary, target)
    return CopyWrite("whole", documents, 0, documents)


def _update_copy(conn, target, model: str, setting: str, machine_id: str = "") -> CopyWrite | None:
    """The copy brought up to date in a copy of itself, then renamed into place; None when it must be written
    whole (another layout, model or setting, or too many documents changed)."""
    temporary = fresh_temporary(target)
    shutil.copyfile(target, temporary)  # readers keep reading the old copy until the rename
    _attached(conn, temporary)
    try:
        meta = _meta(conn)
        if meta is None or meta["layout"] != COPY_LAYOUT or meta["embedding_model"] != model or \
                meta["model_setting"] != setting or meta["dimensions"] != _dimensions(conn, model):
            return None
        conn.execute(f"CREATE OR REPLACE TEMP TABLE current_documents AS {CURRENT_DOCUMENTS}")
        on_key = " AND ".join(f"c.{column} = n.{column}" for column in (*DOCUMENT_KEY, "row_hash"))
        conn.execute(f"""CREATE OR REPLACE TEMP TABLE gone_documents AS
            SELECT c.doc_id FROM search_copy.documents c ANTI JOIN current_documents n ON {on_key}""")
        conn.execute(f"""CREATE OR REPLACE TEMP TABLE new_documents AS
            SELECT {', '.join(DOCUMENT_KEY)} FROM current_documents n ANTI JOIN search_copy.documents c ON {on_key}""")
        deleted = conn.execute("SELECT count(*) FROM gone_documents").fetchone()[0]
        inserted = conn.execute("SELECT count(*) FROM new_documents").fetchone()[0]
        changed = meta["changed_since_whole"] + inserted + deleted
        if changed > max(UPDATED_AT_MOST * meta["whole_documents"], UPDATED_ALWAYS_BELOW):
            return None
        if deleted:
            conn.execute("""CREATE OR REPLACE TEMP TABLE gone_terms AS
                SELECT termid, count(*) AS n FROM search_copy.postings WHERE doc_id IN (SELECT doc_id FROM gone_documents)
                GROUP BY termid""")
            for table in ("postings", "vectors", "documents"):
                conn.execute(f"DELETE FROM search_copy.{table} WHERE doc_id IN (SELECT doc_id FROM gone_documents)")
            conn.execute("UPDATE search_copy.terms t SET df = t.df - g.n FROM gone_terms g WHERE t.termid = g.termid")
        if inserted:
            first = conn.execute("SELECT coalesce(max(doc_id), 0) FROM search_copy.documents").fetchone()[0]
            keys = ", ".join(f"d.{column}" for column in DOCUMENT_KEY)
            conn.execute(f"INSERT INTO search_copy.documents "
                         f"{_documents_sql(f'({keys}) IN (SELECT * FROM new_documents)', first)}")
            conn.execute(f"INSERT INTO search_copy.vectors {_vectors_sql(meta['dimensions'])} WHERE d.doc_id > ?",
                         [model, first])
            _add_postings(conn, first)
        for table in HISTORY_TABLES:
            conn.execute(f"DROP TABLE search_copy.{table}")
        _write_history(conn)
        conn.execute("UPDATE search_copy.search_meta SET changed_since_whole = changed_since_whole + ?",
                     [inserted + deleted])
        _refresh_meta(conn, machine_id)
        documents = conn.execute("SELECT count(*) FROM search_copy.documents").fetchone()[0]
    finally:
        conn.execute("DETACH search_copy")
        for name in ("current_documents", "gone_documents", "new_documents", "gone_terms"):
            conn.execute(f"DROP TABLE IF EXISTS {name}")
    replace_with(temporary, target)
    return CopyWrite("updated", inserted, deleted, documents)


def _meta(conn) -> dict | None:
    columns = {row[0] for row in conn.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = 'search_copy' AND table_name = 'search_meta'"
    ).fetchall()}
    if "layout" not in columns:  # written before copies were updated in place
        return None
    cursor = conn.execute("SELECT embedding_model, model_setting, dimensions, layout, whole_documents, "
                          "changed_since_whole FROM search_copy.search_meta")
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row)) if row else None


def _dimensions(conn, model: str) -> int | None:
    row = conn.execute("SELECT len(vector) FROM aggregate.search_embeddings WHERE model = ? LIMIT 1", [model]).fetchone()
    return int(row[0]) if row else None


def _documents_sql(where: str, first_id: int) -> str:
    """The copy's documents rows of the search documents `where` selects (alias `d`), numbered from first_id + 1
    in the order they were written (`current_documents` holds their projects and row hashes)."""
    return f"""
        SELECT CAST({int(first_id)} + row_number() OVER (ORDER BY d.event_ts, d.path, d.byte_offset) AS BIGINT) AS doc_id,
            d.source, d.session_id, d.agent_id, n.project, n.machine, d.event_ts, d.role,
            d.record_type, {SEARCH_TEXT} AS text, d.text_hash,
            left(nullif(d.message_text, ''), 1000) AS prose,  -- the prompt or reply alone, for timelines
            coalesce(w.words, 0) AS words,  -- its number of index words (BM25's document length)
            d.path, d.file_version, d.byte_offset, n.row_hash  -- which document it is and what of it readers see
        FROM aggregate.search_documents d
        JOIN current_documents n USING ({', '.join(DOCUMENT_KEY)})
        LEFT JOIN aggregate.search_word_counts w ON w.text_hash = d.text_hash
        WHERE {where}"""


def _vectors_sql(dimensions: int | None) -> str:
    """The vectors of the copy's documents (alias `d`; the `?` is the model), as fixed-size arrays
    (FLOAT[dimensions]): a similarity over arrays reads ~3x faster than over lists."""
    vector = f"CAST(e.vector AS FLOAT[{int(dimensions)}])" if dimensions else "e.vector"
    return f"""
        SELECT d.doc_id, {vector} AS vector FROM search_copy.documents d
        JOIN aggregate.search_embeddings e ON e.text_hash = d.text_hash AND e.model = ?"""


def _write_history(conn) -> None:
    for table, query in HISTORY_TABLES.items():
        conn.execute(f"CREATE TABLE search_copy.{table} AS {query}")


def _refresh_meta(conn, machine_id: str) -> None:
    stamp(conn, "search_copy", machine_id)  # who published it, when (storage/published_copies.py)
    conn.execute("UPDATE search_copy.search_meta SET documents = (SELECT count(*) FROM search_copy.documents), "
                 "average_words = (SELECT coalesce(avg(words), 0) FROM search_copy.documents), published_at = now()")


def _write_postings(conn) -> None:
    """The copy's lexical index from search_postings: `terms` (term id, term, document frequency) and `postings`
    (term id, document, count) sorted by term id, so a query reads the postings of its own terms only (their
    ids are integers it may write as constants, which DuckDB skips row groups by)."""
    conn.execute("""
        CREATE OR REPLACE TEMP TABLE copy_postings AS
        SELECT p.term, d.doc_id, p.tf FROM search_copy.documents d JOIN aggregate.search_postings p USING (text_hash)""")
    conn.execute("""
        CREATE TABLE search_copy.terms AS
        SELECT CAST(row_number() OVER (ORDER BY term) AS INTEGER) AS termid, term, count(*) AS df
        FROM copy_postings GROUP BY term""")
    conn.execute("""
        CREATE TABLE search_copy.postings AS
        SELECT t.termid, c.doc_id, c.tf FROM copy_postings c JOIN search_copy.terms t USING (term)
        ORDER BY t.termid, c.doc_id""")
    conn.execute("DROP TABLE copy_postings")


def _add_postings(conn, first_id: int) -> None:
    """The postings of the documents numbered after `first_id`, new words given the next term ids."""
    conn.execute("""
        CREATE OR REPLACE TEMP TABLE copy_postings AS
        SELECT p.term, d.doc_id, p.tf FROM search_copy.documents d JOIN aggregate.search_postings p USING (text_hash)
        WHERE d.doc_id > ?""", [first_id])
    conn.execute("""
        INSERT INTO search_copy.terms
        SELECT CAST((SELECT coalesce(max(termid), 0) FROM search_copy.terms) + row_number() OVER (ORDER BY term) AS INTEGER),
            term, 0
        FROM (SELECT DISTINCT term FROM copy_postings) ANTI JOIN search_copy.terms USING (term)""")
    conn.execute("""
        CREATE OR REPLACE TEMP TABLE copy_postings AS
        SELECT t.termid, c.doc_id, c.tf FROM copy_postings c JOIN search_copy.terms t USING (term)""")
    conn.execute("INSERT INTO search_copy.postings SELECT * FROM copy_postings ORDER BY termid, doc_id")
    conn.execute("""UPDATE search_copy.terms t SET df = t.df + a.n
        FROM (SELECT termid, count(*) AS n FROM copy_postings GROUP BY termid) a WHERE t.termid = a.termid""")
    conn.execute("DROP TABLE copy_postings")
