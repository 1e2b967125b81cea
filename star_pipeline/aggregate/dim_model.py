"""dim_model: every model seen, with its prices over time (SCD2), from the price sources (pricing.py)."""

from datetime import date

from dagster import AssetExecutionContext, asset

from star_pipeline.aggregate import pricing
from star_pipeline.aggregate.sql_assets import GROUP, PIPELINE_VERSION_DOC, key, normalized, with_pipeline_version
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.scd2 import SCD2_DOC, scd2_history_sql
from star_pipeline.storage.table_docs import TableDoc, table_metadata
from star_pipeline.storage.table_writes import SqlQuery

PRICE_COLUMNS = [
    ("input_price", "input"), ("output_price", "output"), ("cache_read_price", "cache_read"),
    ("cache_write_price", "cache_write"), ("cache_write_1h_price", "cache_write_1h"),
]
_PRICE_OF = {"input_price": "input tokens", "output_price": "output tokens", "cache_read_price": "cache reads",
             "cache_write_price": "5-minute cache writes", "cache_write_1h_price": "1-hour cache writes"}
DIM_MODEL_DOC = TableDoc(
    {
        "model": "the model, as the agents name it",
        "provider": "its provider, as the price source names it (NULL: no price known)",
        "price_source": "where its prices come from: genai-prices <version>, model-prices <version>, "
        "pricing.yaml over one of them, or unknown",
        **{column: f"USD per million {what}" for column, what in _PRICE_OF.items()},
        "long_context_threshold": "prompt tokens (input + cache writes + reads) above which a call is priced "
        "entirely at the long_* prices (NULL: no long-context pricing)",
        **{f"long_{column}": f"USD per million {what} in a long-context call" for column, what in _PRICE_OF.items()},
    },
    preview=("model", "price_source", "input_price", "output_price", "cache_read_price", "effective_from",
             "is_current"),
) | SCD2_DOC | PIPELINE_VERSION_DOC


@asset(key=key("dim_model"), group_name=GROUP, deps=[normalized("normalized_usage")], pool=WAREHOUSE_POOL,
       kinds={"duckdb"}, metadata={"write_mode": "replace", **table_metadata(DIM_MODEL_DOC)},
       description="SCD2: every model seen, with its prices (USD per million tokens) over time, from genai-prices "
       "and the pricing file (config/pricing.yaml). Models without a known price have NULL prices.")
def dim_model(context: AssetExecutionContext, warehouse: WarehouseResource) -> SqlQuery:
    with warehouse.connect() as conn:
        models = [r[0] for r in conn.execute("SELECT DISTINCT model FROM normalized.normalized_usage WHERE model IS NOT NULL").fetchall()]
    rows = pricing.price_rows(models)
    priced = {r.model for r in rows}
    unknown = sorted(set(models) - priced)
    if unknown:
        context.log.warning(f"no price known for {unknown}: their calls get cost NULL; add them to {pricing.PRICING_PATH}")
    columns = ["model", "provider", "price_source", *[c for c, _ in PRICE_COLUMNS], "long_context_threshold",
               *[f"long_{c}" for c, _ in PRICE_COLUMNS], "observed_at"]
    values, params = [], []
    for r in rows:
        values.append("(" + ", ".join("?" for _ in columns) + ")")
        params += [r.model, r.provider, r.price_source, *[r.prices.get(k) for _, k in PRICE_COLUMNS],
                   r.long_context_threshold, *[r.long_context_prices.get(k) for _, k in PRICE_COLUMNS],
                   f"{r.valid_from or date(1970, 1, 1)} 00:00:00+00"]  # a price date starts at UTC midnight
    for model in unknown:
        values.append("(" + ", ".join("?" for _ in columns) + ")")
        params += [model, None, "unknown", *[None] * 5, None, *[None] * 5, "1970-01-01 00:00:00+00"]
    types = {"model": "VARCHAR", "provider": "VARCHAR", "price_source": "VARCHAR",
             "long_context_threshold": "BIGINT", "observed_at": "TIMESTAMPTZ"}
    casts = ", ".join(f"CAST({c} AS {types.get(c, 'DOUBLE')}) AS {c}" for c in columns)
    observations = (
        f"SELECT {casts} FROM (VALUES {', '.join(values)}) AS v({', '.join(columns)})"
        if values else f"SELECT {casts} FROM (SELECT {', '.join('NULL AS ' + c for c in columns)}) WHERE FALSE"
    )
    history = scd2_history_sql(
        observations, business_keys=["model"], attributes=[c for c in columns if c not in ("model", "observed_at")],
        observed_at="observed_at", record_source="genai-prices + model-prices + pricing.yaml",
    )
    return SqlQuery(with_pipeline_version(history), params)
