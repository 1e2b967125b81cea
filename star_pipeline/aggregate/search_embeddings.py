"""search_embeddings: a vector per distinct search text and embedding model, computed incrementally.

Keyed by the model's id and the md5 of the text (as search_documents holds it, masked), so a new
session costs the embedding of its own texts only, a text that comes back (a resumed session's copy)
costs nothing, and vectors of another model stay until they are deleted (a model is a version, as
a classifier's is). Written here, in batches, rather than returned: the vectors of a first build
over gigabytes do not fit in memory at once.
"""

from typing import TYPE_CHECKING

from dagster import AssetExecutionContext, MaterializeResult, asset

from star_pipeline.aggregate import pricing
from star_pipeline.aggregate.search_documents import SEARCH_TEXT
from star_pipeline.aggregate.sql_assets import GROUP, PIPELINE_VERSION_DOC, key
from star_pipeline.storage.embeddings import embed, model_id
from star_pipeline.storage.resources import WAREHOUSE_POOL, SearchResource, WarehouseResource
from star_pipeline.storage.table_docs import TableDoc, table_metadata
from star_pipeline.storage.warehouse import CATALOG

if TYPE_CHECKING:  # numpy and pyarrow are imported by the step: the code server that loads the definitions never needs them
    import numpy as np
    import pyarrow as pa

BATCH = 4096
EMBEDDINGS_DOC = TableDoc({
    "model": "the embedding model's id (search.embedding_model): a model is a version, as a classifier's is",
    "text_hash": "md5 of the search text (a search_documents row's texts, masked, joined by line breaks)",
    "vector": "the text's embedding (its first 2,000 characters)",
}) | PIPELINE_VERSION_DOC


def vector_column(vectors: "np.ndarray") -> "pa.Array":
    """The rows of `vectors` as one Arrow column over the matrix's own memory: no Python list per row."""
    import numpy as np
    import pyarrow as pa

    flat = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1)
    values = pa.Array.from_buffers(pa.float32(), flat.size, [None, pa.py_buffer(flat)])
    return pa.FixedSizeListArray.from_arrays(values, vectors.shape[1])


@asset(key=key("search_embeddings"), group_name=GROUP, deps=[key("search_documents")], pool=WAREHOUSE_POOL,
       kinds={"duckdb"}, metadata=table_metadata(EMBEDDINGS_DOC),
       description="One vector per distinct search text and embedding model (search.embedding_model); "
       "only texts without one are embedded.")
def search_embeddings(context: AssetExecutionContext, warehouse: WarehouseResource, search: SearchResource) -> MaterializeResult:
    import pyarrow as pa  # here, not with the definitions: the code server that loads them never needs it

    model = model_id(search.embedding_model)
    version = pricing.pipeline_version()  # the pipeline that embedded a text, as every aggregate row carries it
    with warehouse.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS aggregate.search_embeddings (model VARCHAR NOT NULL, "
                     "text_hash VARCHAR NOT NULL, vector FLOAT[] NOT NULL, pipeline_version VARCHAR)")
        # one row per (model, text_hash): only texts without a vector are inserted (no PRIMARY KEY: a DuckLake has none)
        # The texts without a vector, read as one stream by a second connection while this one writes their
        # vectors: one pass, instead of a temporary table of every pending text paged by LIMIT/OFFSET (each page
        # a sort of what is left: quadratic in a first import of distinct text).
        pending = f"""
            SELECT text_hash, any_value(left({SEARCH_TEXT}, 2000)) AS text FROM aggregate.search_documents
            WHERE text_hash NOT IN (SELECT text_hash FROM aggregate.search_embeddings WHERE model = ?)
            GROUP BY text_hash"""
        context.log.info(f"search_embeddings: embedding the texts without a vector of {model}")
        done = 0
        reader = conn.cursor()  # a new connection to the same instance: it starts in the in-memory catalog
        try:
            reader.execute(f"USE {CATALOG}")
            batches = reader.execute(pending, [model]).to_arrow_reader(BATCH)
            for texts in batches:
                vectors = embed(search.embedding_model, texts.column("text").to_pylist())
                batch = pa.table({"text_hash": texts.column("text_hash"), "vector": vector_column(vectors)})
                conn.register("embedding_batch", batch)
                conn.execute("INSERT INTO aggregate.search_embeddings SELECT ?, text_hash, vector::FLOAT[], ? "
                             "FROM embedding_batch", [model, version])
                conn.unregister("embedding_batch")
                done += batch.num_rows
                context.log.info(f"search_embeddings: {done} embedded so far")
        finally:
            reader.close()
        context.log.info(f"search_embeddings: {done} new texts embedded with {model}")
        removed = conn.execute(
            "DELETE FROM aggregate.search_embeddings WHERE model = ? AND text_hash NOT IN "
            "(SELECT text_hash FROM aggregate.search_documents)", [model]).fetchone()[0]
        stored = conn.execute("SELECT count(*) FROM aggregate.search_embeddings WHERE model = ?", [model]).fetchone()[0]
    return MaterializeResult(metadata={"model": model, "rows_written": done, "removed": removed, "vectors": stored})
