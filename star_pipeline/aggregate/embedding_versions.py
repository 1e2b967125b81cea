"""`star-pipeline embeddings list|delete`: the embedding models whose vectors the warehouse keeps.

Vectors are versioned by model (aggregate.search_embeddings.model, storage/embeddings.model_id), like
classifier versions: switching `search.embedding_model` embeds the texts again under the new model and
keeps the old model's vectors (switching back costs nothing) until they are deleted here.
"""

from __future__ import annotations

import sys

from star_pipeline.storage.embeddings import model_id
from star_pipeline.storage.warehouse import connect, table_exists


def list_models(settings, out=None) -> int:
    out = out or sys.stdout
    current = model_id(settings.embedding_model)
    with connect(settings.warehouse_path, **settings.connect_options()) as conn:
        rows = dict(conn.execute("SELECT model, count(*) FROM aggregate.search_embeddings GROUP BY model").fetchall()
                    if table_exists(conn, "aggregate", "search_embeddings") else [])
    for model in sorted(set(rows) | {current}):
        note = "  configured (search.embedding_model)" if model == current else ""
        print(f"{model}  {rows.get(model, 0)} vectors{note}", file=out)
    return 0


def delete_model(settings, model: str, out=None) -> int:
    out = out or sys.stdout
    with connect(settings.warehouse_path, **settings.connect_options()) as conn:
        known = (conn.execute("SELECT DISTINCT model FROM aggregate.search_embeddings ORDER BY 1").fetchall()
                 if table_exists(conn, "aggregate", "search_embeddings") else [])
        if model not in [row[0] for row in known]:
            print(f"star-pipeline: no vectors of {model!r}; the models stored are: "
                  f"{', '.join(row[0] for row in known) or 'none'} (see `star-pipeline embeddings list`).", file=sys.stderr)
            return 2
        deleted = conn.execute("DELETE FROM aggregate.search_embeddings WHERE model = ?", [model]).fetchone()[0]
    print(f"deleted {deleted} vectors of {model}", file=out)
    if model == model_id(settings.embedding_model):
        print("note: it is the configured model; the next rebuild embeds every text again.", file=out)
    return 0
