"""derived_blocks: ccusage's 5-hour billing blocks (blocks.py), from the Claude Code calls' times."""

from dagster import asset

from star_pipeline.aggregate import pricing
from star_pipeline.aggregate.blocks import CALL_TIME_SQL, billing_blocks
from star_pipeline.aggregate.python_tables import BLOCK_DOC, blocks_table
from star_pipeline.aggregate.sql_assets import GROUP, PIPELINE_VERSION_DOC, key
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.table_docs import table_metadata

@asset(key=key("derived_blocks"), group_name=GROUP, deps=[key("fact_token_usage")], pool=WAREHOUSE_POOL,
       kinds={"duckdb"}, metadata={"write_mode": "replace", **table_metadata(BLOCK_DOC | PIPELINE_VERSION_DOC)},
       description="5-hour billing blocks computed as ccusage does (Claude Code calls), with gap blocks.")
def derived_blocks(warehouse: WarehouseResource):  # a pyarrow Table (blocks_table), unannotated: see python_tables
    with warehouse.connect() as conn:
        calls = conn.execute(
            f"SELECT {CALL_TIME_SQL}, report_model, input_tokens, output_tokens, cache_creation_input_tokens, "
            "cache_read_input_tokens, cost_usd FROM aggregate.fact_token_usage "
            "WHERE source = 'claude_code' AND event_ts IS NOT NULL ORDER BY event_ts, usage_key"
        ).fetchall()
    return blocks_table(billing_blocks(calls), pricing.pipeline_version())
