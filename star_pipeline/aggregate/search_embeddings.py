"""search_embeddings: a vector per distinct search text and embedding model, computed incrementally.

Keyed by the model's id and the md5 of the text (as search_documents holds it, masked), so a new
session costs the embedding of its own texts only, a text that comes back (a resumed session's copy)
costs nothing, and vectors of another model stay until they are deleted (a model is a version, as
a classifier's is). Written here, in batches, rather than returned: the vectors of a first build
over gigabytes do not fit in memory at once.
"""

import pyarrow as pa
from dagster import AssetExecutionContext, MaterializeResult, asset

from star_pipeline.aggregate import pricing
from star_pipeline.aggregate.sql_assets import GROUP, key
from star_pipeline.storage.embeddings import embed, model_id
from star_pipeline.storage.resources import WAREHOUSE_POOL, SearchResource, WarehouseResource

BATCH = 4096
SEARCH_TEXT = "concat_ws(chr(10), nullif(message_text, ''), nullif(tool_input, ''), nullif(tool_result, ''))"


@asset(key=key("search_embeddings"), group_name=GROUP, deps=[key("search_documents")], pool=WAREHOUSE_POOL,
       kinds={"duckdb"}, description="One vector per distinct search text and embedding model (search.embedding_model); "
       "only texts without one are embedded.")
def search_embeddings(context: AssetExecutionContext, warehouse: WarehouseResource, search: SearchResource) -> MaterializeResult:
    model = model_id(search.embedding_model)
    version = pricing.pipeline_version()  # the pipeline that embedded a text, as every aggregate row carries it
    with warehouse.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS aggregate.search_embeddings (model VARCHAR NOT NULL, "
                     "text_hash VARCHAR NOT NULL, vector FLOAT[] NOT NULL, pipeline_version VARCHAR, "
                     "PRIMARY KEY (model, text_hash))")
        conn.execute(f"""
            CREATE OR REPLACE TEMP TABLE pending_texts AS
            SELECT text_hash, any_value(left(text, 2000)) AS text FROM (
                SELECT md5({SEARCH_TEXT}) AS text_hash, {SEARCH_TEXT} AS text FROM aggregate.search_documents)
            WHERE text_hash NOT IN (SELECT text_hash FROM aggregate.search_embeddings WHERE model = ?)
            GROUP BY text_hash ORDER BY text_hash""", [model])
        total = conn.execute("SELECT count(*) FROM pending_texts").fetchone()[0]
        context.log.info(f"search_embeddings: {total} new texts to embed with {model}")
        done = 0
        while done < total:
            rows = conn.execute("SELECT text_hash, text FROM pending_texts ORDER BY text_hash LIMIT ? OFFSET ?",
                                [BATCH, done]).fetchall()
            vectors = embed(search.embedding_model, [text for _, text in rows])
            batch = pa.table({"model": [model] * len(rows), "text_hash": [h for h, _ in rows],
                              "vector": pa.array(list(vectors), type=pa.list_(pa.float32())),
                              "pipeline_version": [version] * len(rows)})
            conn.register("embedding_batch", batch)
            conn.execute("INSERT INTO aggregate.search_embeddings SELECT * FROM embedding_batch")
            conn.unregister("embedding_batch")
            done += len(rows)
            context.log.info(f"search_embeddings: {done}/{total} embedded")
        removed = conn.execute(
            f"DELETE FROM aggregate.search_embeddings WHERE model = ? AND text_hash NOT IN "
            f"(SELECT md5({SEARCH_TEXT}) FROM aggregate.search_documents)", [model]).fetchone()[0]
        stored = conn.execute("SELECT count(*) FROM aggregate.search_embeddings WHERE model = ?", [model]).fetchone()[0]
    return MaterializeResult(metadata={"model": model, "rows_written": total, "removed": removed, "vectors": stored})
