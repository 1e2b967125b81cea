"""published_search_copy: what `star-pipeline search` and `star-pipeline mcp` read (<warehouse>.search.duckdb),
rewritten after every rebuild: the masked texts with their session's project, their vectors for the
configured model, the lexical (BM25) index of the texts' words, and the history tables the MCP tools
answer from (HISTORY_TABLES: sessions, tool calls, API calls, files touched), where every text comes
from search_documents and so is masked as it is.

The costly parts are computed in the warehouse, incrementally, per distinct text: the vectors
(search_embeddings) and the words (search_postings); the copy only lays them out for reading (document
ids, term ids, postings sorted by term), and is written whole, then renamed, so search never waits for
a writer and never sees half a copy. (DuckDB's own fts index was rebuilt whole here, 10 of 16 s at 1 GB.)
"""

from __future__ import annotations

import os

from dagster import MaterializeResult, MetadataValue, asset

from star_pipeline.aggregate.search_embeddings import SEARCH_TEXT
from star_pipeline.aggregate.sql_assets import GROUP, key, normalized
from star_pipeline.storage.embeddings import model_id
from star_pipeline.storage.masking import SECRET_PATH, TARGET_MASKED  # a call's target path hidden with its secret
from star_pipeline.storage.published_copies import fresh_temporary, replace_with, search_copy_path
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


@asset(key=key("published_search_copy"), group_name=GROUP,
       deps=[key("search_documents"), key("search_embeddings"), key("search_postings"), key("session_projects"), key("fact_tool_call"),
             key("fact_token_usage"), key("derived_session_usage"), key("derived_file_activity"),
             key("derived_subagents"), normalized("normalized_session_links")], pool=WAREHOUSE_POOL,
       kinds={"duckdb"}, description="The read-only copy search and the MCP server read (<warehouse>.search.duckdb): "
       "masked texts, their vectors, a BM25 full-text index and the history tables (sessions, tool calls, API calls, "
       "files, subagents, links between sessions), rebuilt whole after every rebuild.")
def published_search_copy(warehouse: WarehouseResource, search: SearchResource) -> MaterializeResult:
    target = search_copy_path(warehouse.database)
    temporary = fresh_temporary(target)
    model = model_id(search.embedding_model)
    old_umask = os.umask(0o077)  # the copy and its WAL are the owner's only
    try:
        documents = _write_copy(warehouse, temporary, model, search.embedding_model)
    finally:
        os.umask(old_umask)
    replace_with(temporary, target)
    return MaterializeResult(metadata={"path": MetadataValue.path(str(target)), "rows_written": documents, "model": model})


def _write_copy(warehouse: WarehouseResource, temporary, model: str, setting: str) -> int:
    with warehouse.connect() as conn:
        prepare(conn)  # the stop words, which the copy keeps for queries
        conn.execute(f"ATTACH {quote_literal(str(temporary))} AS search_copy")
        try:
            conn.execute(f"""
                CREATE TABLE search_copy.documents AS
                SELECT CAST(row_number() OVER (ORDER BY d.event_ts, d.path, d.byte_offset) AS BIGINT) AS doc_id,
                    d.source, d.session_id, d.agent_id, coalesce(p.project_id, '(unknown)') AS project,
                    coalesce(p.machine_id, '(unknown)') AS machine, d.event_ts, d.role,
                    d.record_type, {SEARCH_TEXT} AS text, md5({SEARCH_TEXT}) AS text_hash,
                    left(nullif(d.message_text, ''), 1000) AS prose,  -- the prompt or reply alone, for timelines
                    coalesce(w.words, 0) AS words  -- its number of index words (BM25's document length)
                FROM aggregate.search_documents d
                LEFT JOIN aggregate.session_projects p USING (source, session_id)
                LEFT JOIN aggregate.search_word_counts w ON w.text_hash = md5({SEARCH_TEXT})""")
            # Fixed-size arrays (FLOAT[dimensions]): a similarity over arrays reads ~3x faster than over lists.
            dimensions = conn.execute("SELECT len(vector) FROM aggregate.search_embeddings WHERE model = ? LIMIT 1",
                                      [model]).fetchone()
            vector = f"CAST(e.vector AS FLOAT[{int(dimensions[0])}])" if dimensions else "e.vector"
            conn.execute(f"""
                CREATE TABLE search_copy.vectors AS
                SELECT d.doc_id, {vector} AS vector FROM search_copy.documents d
                JOIN aggregate.search_embeddings e ON e.text_hash = d.text_hash AND e.model = ?""", [model])
            for table, query in HISTORY_TABLES.items():
                conn.execute(f"CREATE TABLE search_copy.{table} AS {query}")
            _write_postings(conn)
            conn.execute("CREATE TABLE search_copy.search_meta AS SELECT CAST(? AS VARCHAR) AS embedding_model, "
                         "CAST(? AS VARCHAR) AS model_setting, CAST(? AS INTEGER) AS dimensions, "
                         "(SELECT count(*) FROM search_copy.documents) AS documents, "
                         "(SELECT coalesce(avg(words), 0) FROM search_copy.documents) AS average_words, now() AS published_at",
                         [model, setting, dimensions[0] if dimensions else None])
            documents = conn.execute("SELECT count(*) FROM search_copy.documents").fetchone()[0]
        finally:
            conn.execute("DETACH search_copy")
    return documents


def _write_postings(conn) -> None:
    """The copy's lexical index from search_postings: `terms` (term id, term, document frequency) and `postings`
    (term id, document, count) sorted by term id, so a query reads the postings of its own terms only (their
    ids are integers it may write as constants, which DuckDB skips row groups by), and the stop words."""
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
    conn.execute("CREATE TABLE search_copy.stopwords AS SELECT sw FROM stopwords")
