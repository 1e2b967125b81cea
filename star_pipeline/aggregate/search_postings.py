"""search_postings: the index words of every distinct search text (term, count), computed incrementally.

The lexical side of search, kept in the warehouse like the vectors (search_embeddings): keyed by the
md5 of the text as search_documents holds it (masked), so a new session costs the splitting and
stemming of its own texts only, a text that comes back costs nothing, and a text gone is dropped.
search_word_counts has a row per text done (its number of words, the BM25 document length), also for a
text without a word. published_search_copy turns these into the copy's term ids and postings.
Words are defined once, in storage/search_words.py.
"""

from dagster import AssetExecutionContext, MaterializeResult, asset

from star_pipeline.aggregate import pricing
from star_pipeline.aggregate.search_documents import SEARCH_TEXT
from star_pipeline.aggregate.sql_assets import GROUP, PIPELINE_VERSION_DOC, key
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.search_words import prepare, words_sql
from star_pipeline.storage.table_docs import TableDoc, table_metadata

BATCH = 20_000  # texts per statement: a search text is at most some 34,000 characters
POSTINGS_DOC = TableDoc({
    "text_hash": "md5 of the search text (a search_documents row's texts, masked, joined by line breaks)",
    "term": "an index word of the text (storage/search_words.py: split, lower-cased, stemmed)",
    "tf": "how many times the word is in the text",
}) | PIPELINE_VERSION_DOC
WORD_COUNTS_DOC = TableDoc({
    "text_hash": "md5 of the search text, one row per text indexed",
    "words": "the text's index words (the BM25 document length)",
}) | PIPELINE_VERSION_DOC
"""aggregate.search_word_counts, which search_postings writes beside its own table."""


@asset(key=key("search_postings"), group_name=GROUP, deps=[key("search_documents")], pool=WAREHOUSE_POOL,
       kinds={"duckdb"}, metadata=table_metadata(POSTINGS_DOC),
       description="The index words (term, count) of every distinct search text, for BM25; only "
       "texts not seen before are split, and texts gone are dropped (with search_word_counts: words per text).")
def search_postings(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    version = pricing.pipeline_version()
    with warehouse.connect() as conn:
        prepare(conn)
        conn.execute("CREATE TABLE IF NOT EXISTS aggregate.search_postings (text_hash VARCHAR NOT NULL, "
                     "term VARCHAR NOT NULL, tf INTEGER NOT NULL, pipeline_version VARCHAR)")
        conn.execute("CREATE TABLE IF NOT EXISTS aggregate.search_word_counts (text_hash VARCHAR NOT NULL, "
                     "words INTEGER NOT NULL, pipeline_version VARCHAR)")
        conn.execute(f"""
            CREATE OR REPLACE TEMP TABLE pending_texts AS
            SELECT row_number() OVER (ORDER BY text_hash) AS n, text_hash, text FROM (
                SELECT text_hash, any_value({SEARCH_TEXT}) AS text FROM aggregate.search_documents
                WHERE text_hash NOT IN (SELECT text_hash FROM aggregate.search_word_counts) GROUP BY 1)""")
        total = conn.execute("SELECT count(*) FROM pending_texts").fetchone()[0]
        context.log.info(f"search_postings: {total} new texts to index")
        for start in range(0, total, BATCH):
            batch = f"(SELECT text_hash, text FROM pending_texts WHERE n > {start} AND n <= {start + BATCH})"
            conn.execute(f"""
                CREATE OR REPLACE TEMP TABLE batch_postings AS
                SELECT text_hash, term, CAST(count(*) AS INTEGER) AS tf FROM ({words_sql('text', 'text_hash', batch)})
                GROUP BY text_hash, term""")
            conn.execute("BEGIN TRANSACTION")
            conn.execute("INSERT INTO aggregate.search_postings SELECT text_hash, term, tf, ? FROM batch_postings", [version])
            conn.execute(f"""
                INSERT INTO aggregate.search_word_counts
                SELECT b.text_hash, CAST(coalesce(sum(p.tf), 0) AS INTEGER), ? FROM {batch} b
                LEFT JOIN batch_postings p USING (text_hash) GROUP BY b.text_hash""", [version])
            conn.execute("COMMIT")
            context.log.info(f"search_postings: {min(start + BATCH, total)}/{total} indexed")
        conn.execute(f"""
            CREATE OR REPLACE TEMP TABLE gone_texts AS
            SELECT text_hash FROM aggregate.search_word_counts
            WHERE text_hash NOT IN (SELECT text_hash FROM aggregate.search_documents)""")
        removed = conn.execute("SELECT count(*) FROM gone_texts").fetchone()[0]
        if removed:
            conn.execute("DELETE FROM aggregate.search_postings WHERE text_hash IN (SELECT text_hash FROM gone_texts)")
            conn.execute("DELETE FROM aggregate.search_word_counts WHERE text_hash IN (SELECT text_hash FROM gone_texts)")
        texts = conn.execute("SELECT count(*) FROM aggregate.search_word_counts").fetchone()[0]
    return MaterializeResult(metadata={"rows_written": total, "removed": removed, "texts": texts})
