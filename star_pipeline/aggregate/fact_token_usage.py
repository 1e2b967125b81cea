"""fact_token_usage: one row per API call with its cost, repriced only where something it depends on changed."""

import hashlib

from dagster import asset

from star_pipeline.aggregate.sql_assets import GROUP, documented, key, normalized, read_sql
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.sql_files import sql_code
from star_pipeline.storage.table_writes import SqlQuery, stored_table_version
from star_pipeline.storage.warehouse import table_exists

# The normalized_usage columns fact_token_usage copies: a call whose copy differs has changed.
USAGE_COLUMNS = (
    "source", "session_id", "agent_id", "message_id", "request_id", "model", "model_is_fallback", "speed",
    "is_sidechain", "event_ts", "input_tokens", "output_tokens", "cache_creation_input_tokens",
    "cache_creation_1h_input_tokens", "cache_read_input_tokens", "reasoning_output_tokens", "path", "file_version",
    "byte_offset", "recorded_cost_usd",
)
# The calls whose fact differs from what the usage row and the session's project and machine now say (or that
# have no fact).
CHANGED_CALLS_SQL = f"""
    SELECT usage_key FROM (
        SELECT u.usage_key, hash({", ".join("u." + c for c in USAGE_COLUMNS)}, coalesce(sp.project_id, '(unknown)'),
                                 coalesce(sp.machine_id, '(unknown)')) AS h
        FROM normalized.normalized_usage u
        LEFT JOIN aggregate.session_projects sp ON sp.source = u.source AND sp.session_id = u.session_id
    ) n FULL OUTER JOIN (
        SELECT usage_key, hash({", ".join(USAGE_COLUMNS)}, project_id, machine_id) AS h FROM aggregate.fact_token_usage
    ) f USING (usage_key)
    WHERE n.h IS DISTINCT FROM f.h"""
# What else a fact's cost depends on: the price history it is priced at.
DIM_MODEL_FINGERPRINT_SQL = """
    SELECT count(*) || '-' || coalesce(sum(hash(hash_key, model, effective_from, effective_to, input_price, output_price,
        cache_read_price, cache_write_price, cache_write_1h_price, long_context_threshold, long_input_price,
        long_output_price, long_cache_read_price, long_cache_write_price, long_cache_write_1h_price)), 0)
    FROM aggregate.dim_model"""


@asset(key=key("fact_token_usage"), group_name=GROUP, pool=WAREHOUSE_POOL, kinds={"duckdb"},
       deps=[normalized("normalized_usage"), key("session_projects"), key("dim_model")],
       metadata={"write_mode": "replace", "key_columns": ["usage_key"], **documented("fact_token_usage")},
       description="Fact: one row per API call with dimension keys, tokens and cost at the price in force at the call's time.")
def fact_token_usage(warehouse: WarehouseResource) -> SqlQuery:
    """Rebuilt in full when its SQL, the prices (pipeline_version) or dim_model's price history changed;
    otherwise only the calls whose usage row or project changed are priced again, written by key,
    and facts whose call is gone are deleted. Unchanged facts keep their inserted_at."""
    full_sql = read_sql("fact_token_usage", usage_scope="TRUE")
    with warehouse.connect() as conn:
        fingerprint = conn.execute(DIM_MODEL_FINGERPRINT_SQL).fetchone()[0]
        version = hashlib.sha256(f"{sql_code(full_sql)}\n{fingerprint}".encode()).hexdigest()[:16]
        if not table_exists(conn, "aggregate", "fact_token_usage") or \
                stored_table_version(conn, "aggregate", "fact_token_usage") != version:
            return SqlQuery(full_sql, table_version=version)
    return SqlQuery(
        read_sql("fact_token_usage", usage_scope=f"u.usage_key IN ({CHANGED_CALLS_SQL})"),
        write_mode="upsert",
        table_version=version,
        also_delete="usage_key NOT IN (SELECT usage_key FROM normalized.normalized_usage)",
    )
