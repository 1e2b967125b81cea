"""`star-pipeline search`: past work found by words (BM25) and by meaning (embeddings), over the published
search copy (aggregate/search_copy.py); never the warehouse itself, never dagster."""
