"""published_search_copy: what `star-pipeline search` reads (<warehouse>.search.duckdb), rewritten after every
rebuild: the masked texts with their session's project, their vectors for the configured model, and a
full-text (BM25) index over the texts.

DuckDB's fts index cannot be updated, only built again, so it is built here, on the copy, whole: the
warehouse stays the one source of truth, the index is derived from it and rebuilt by the next run, and
search never waits for a writer.
"""

from __future__ import annotations

import os

import duckdb
from dagster import MaterializeResult, MetadataValue, asset

from star_pipeline.aggregate.search_embeddings import SEARCH_TEXT
from star_pipeline.aggregate.sql_assets import GROUP, key
from star_pipeline.storage.embeddings import model_id
from star_pipeline.storage.extensions import load_extension
from star_pipeline.storage.published_copies import fresh_temporary, replace_with, search_copy_path
from star_pipeline.storage.resources import WAREHOUSE_POOL, SearchResource, WarehouseResource
from star_pipeline.storage.warehouse import quote_literal


@asset(key=key("published_search_copy"), group_name=GROUP,
       deps=[key("search_documents"), key("search_embeddings"), key("session_projects")], pool=WAREHOUSE_POOL,
       kinds={"duckdb"}, description="The read-only copy search reads (<warehouse>.search.duckdb): masked texts, "
       "their vectors and a BM25 full-text index, rebuilt whole after every rebuild.")
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
        conn.execute(f"ATTACH {quote_literal(str(temporary))} AS search_copy")
        try:
            conn.execute(f"""
                CREATE TABLE search_copy.documents AS
                SELECT CAST(row_number() OVER (ORDER BY d.event_ts, d.path, d.byte_offset) AS BIGINT) AS doc_id,
                    d.source, d.session_id, d.agent_id, coalesce(p.project_id, '(unknown)') AS project, d.event_ts, d.role,
                    d.record_type, {SEARCH_TEXT} AS text, md5({SEARCH_TEXT}) AS text_hash
                FROM aggregate.search_documents d
                LEFT JOIN aggregate.session_projects p USING (source, session_id)""")
            conn.execute("""
                CREATE TABLE search_copy.vectors AS
                SELECT d.doc_id, e.vector FROM search_copy.documents d
                JOIN aggregate.search_embeddings e ON e.text_hash = d.text_hash AND e.model = ?""", [model])
            conn.execute("CREATE TABLE search_copy.search_meta AS SELECT CAST(? AS VARCHAR) AS embedding_model, "
                         "CAST(? AS VARCHAR) AS model_setting, now() AS published_at", [model, setting])
            documents = conn.execute("SELECT count(*) FROM search_copy.documents").fetchone()[0]
        finally:
            conn.execute("DETACH search_copy")
    index = duckdb.connect(str(temporary))
    try:
        load_extension(index, "fts")
        index.execute("PRAGMA create_fts_index('documents', 'doc_id', 'text', stemmer = 'porter', "
                      "stopwords = 'english', strip_accents = 1, lower = 1, overwrite = 1)")
        index.execute("CHECKPOINT")
    finally:
        index.close()
    return documents
