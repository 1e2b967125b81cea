"""Aggregate invariants: sums equal their sources, no orphan keys, valid SCD2 histories, sane costs."""

from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from star_pipeline.aggregate.pricing import PRICING_PATH
from star_pipeline.aggregate.sql_assets import key
from star_pipeline.storage.published_copies import search_copy_path
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.warehouse import quote_literal

TOKEN_SUM = "sum(input_tokens + output_tokens + cache_creation_input_tokens + cache_read_input_tokens)"


def _scalar(conn, sql: str):
    return conn.execute(sql).fetchone()[0]


def costs_agree(costs: list[float]) -> bool:
    """Sums of the same costs in another order agree to a millionth of a dollar: double sums differ in their
    last bits with the order, so rounding each to 6 places could split equal sums across a rounding edge
    (412.4291385 vs 412.4291384999 failed a 10x amplified corpus); tokens are integers and compared exactly."""
    return max(costs) - min(costs) <= max(1e-6, 1e-12 * max(abs(c) for c in costs))


@asset_check(asset=key("derived_projects"), name="token_sums_agree", blocking=True, pool=WAREHOUSE_POOL,
             additional_deps=[key("derived_session_usage"), key("derived_daily_usage"), key("derived_model_usage"),
                              key("fact_token_usage")],
             description="SUM(total_tokens) of projects = sessions = daily = models = facts = normalized_usage.")
def token_sums_agree(warehouse: WarehouseResource) -> AssetCheckResult:
    with warehouse.connect() as conn:
        sums = {
            "normalized_usage": _scalar(conn, f"SELECT coalesce({TOKEN_SUM}, 0) FROM normalized.normalized_usage"),
            "fact_token_usage": _scalar(conn, "SELECT coalesce(sum(total_tokens), 0) FROM aggregate.fact_token_usage"),
            "derived_session_usage": _scalar(conn, "SELECT coalesce(sum(total_tokens), 0) FROM aggregate.derived_session_usage"),
            "derived_projects": _scalar(conn, "SELECT coalesce(sum(total_tokens), 0) FROM aggregate.derived_projects"),
            "derived_daily_usage": _scalar(conn, "SELECT coalesce(sum(total_tokens), 0) FROM aggregate.derived_daily_usage"),
            "derived_model_usage": _scalar(conn, "SELECT coalesce(sum(total_tokens), 0) FROM aggregate.derived_model_usage"),
        }
        costs = {
            table: _scalar(conn, f"SELECT coalesce(sum(cost_usd), 0) FROM aggregate.{table}")
            for table in ("fact_token_usage", "derived_session_usage", "derived_projects", "derived_daily_usage", "derived_model_usage")
        }
    passed = len(set(sums.values())) == 1 and costs_agree(list(costs.values()))
    return AssetCheckResult(passed=passed, metadata={"token_sums": MetadataValue.json({k: int(v) for k, v in sums.items()}),
                                                     "cost_sums": MetadataValue.json({k: float(v) for k, v in costs.items()})})


@asset_check(asset=key("fact_tool_call"), name="facts_have_no_orphan_keys", blocking=True, pool=WAREHOUSE_POOL,
             additional_deps=[key("dim_project"), key("dim_model"), key("dim_machine"), key("fact_token_usage"), key("dim_tool"), key("dim_date"),
                              key("fact_session_event")],
             description="Every fact key exists in its dimension; every fact row traces to its normalized row.")
def facts_have_no_orphan_keys(warehouse: WarehouseResource) -> AssetCheckResult:
    queries = {
        "usage_project_key": "SELECT count(*) FROM aggregate.fact_token_usage f ANTI JOIN aggregate.dim_project d ON d.hash_key = f.project_key",
        "usage_machine_key": "SELECT count(*) FROM aggregate.fact_token_usage f ANTI JOIN aggregate.dim_machine d ON d.hash_key = f.machine_key",
        "usage_model_key": "SELECT count(*) FROM aggregate.fact_token_usage f ANTI JOIN aggregate.dim_model d ON d.hash_key = f.model_key",
        "usage_date_key": "SELECT count(*) FROM aggregate.fact_token_usage f ANTI JOIN aggregate.dim_date d ON d.date_key = f.date_key WHERE f.date_key IS NOT NULL",
        "usage_to_normalized": "SELECT count(*) FROM aggregate.fact_token_usage f ANTI JOIN normalized.normalized_usage u ON u.usage_key = f.usage_key",
        "tool_call_tool_key": "SELECT count(*) FROM aggregate.fact_tool_call f ANTI JOIN aggregate.dim_tool d ON d.hash_key = f.tool_key",
        "tool_call_project_key": "SELECT count(*) FROM aggregate.fact_tool_call f ANTI JOIN aggregate.dim_project d ON d.hash_key = f.project_key",
        "session_event_project_key": "SELECT count(*) FROM aggregate.fact_session_event f ANTI JOIN aggregate.dim_project d ON d.hash_key = f.project_key",
        "session_event_tool_key": "SELECT count(*) FROM aggregate.fact_session_event f ANTI JOIN aggregate.dim_tool d ON d.hash_key = f.tool_key WHERE f.tool_key IS NOT NULL",
    }
    with warehouse.connect() as conn:
        orphans = {name: _scalar(conn, sql) for name, sql in queries.items()}
    return AssetCheckResult(passed=not any(orphans.values()), metadata={"orphans": MetadataValue.json(orphans)})


def build_scd2_check(table: str):
    @asset_check(asset=key(table), name=f"{table}_scd2_valid", blocking=True, pool=WAREHOUSE_POOL,
                 description="Exactly one current row per key, and no overlapping or gapped intervals.")
    def scd2_valid(warehouse: WarehouseResource) -> AssetCheckResult:
        with warehouse.connect() as conn:
            not_one_current = _scalar(conn, f"SELECT count(*) FROM (SELECT hash_key FROM aggregate.{table} GROUP BY 1 HAVING count(*) FILTER (WHERE is_current) <> 1)")
            bad_intervals = _scalar(conn, f"""
                SELECT count(*) FROM (
                    SELECT effective_to, lead(effective_from) OVER (PARTITION BY hash_key ORDER BY effective_from) AS next_from,
                           is_current, effective_from
                    FROM aggregate.{table})
                WHERE (next_from IS NOT NULL AND effective_to IS DISTINCT FROM next_from)
                   OR (next_from IS NULL AND NOT is_current)
                   OR (effective_to IS NOT NULL AND effective_to < effective_from)""")
        return AssetCheckResult(passed=not_one_current == 0 and bad_intervals == 0,
                                metadata={"keys_without_one_current_row": not_one_current, "bad_intervals": bad_intervals})

    return scd2_valid


@asset_check(asset=key("fact_token_usage"), name="costs_non_negative", blocking=True, pool=WAREHOUSE_POOL,
             description="Every priced call has a cost >= 0.")
def costs_non_negative(warehouse: WarehouseResource) -> AssetCheckResult:
    with warehouse.connect() as conn:
        negative = _scalar(conn, "SELECT count(*) FROM aggregate.fact_token_usage WHERE cost_usd < 0")
    return AssetCheckResult(passed=negative == 0, metadata={"negative_costs": negative})


@asset_check(asset=key("fact_token_usage"), name="unknown_models_listed", blocking=False, pool=WAREHOUSE_POOL,
             description="Lists the models no price is known for (their calls have cost NULL, never 0).")
def unknown_models_listed(warehouse: WarehouseResource) -> AssetCheckResult:
    with warehouse.connect() as conn:
        unknown = conn.execute(
            "SELECT model, count(*), sum(total_tokens) FROM aggregate.fact_token_usage WHERE NOT price_found GROUP BY 1 ORDER BY 1"
        ).fetchall()
    return AssetCheckResult(
        passed=not unknown,
        severity=AssetCheckSeverity.WARN,
        description=(f"no price for {[u[0] for u in unknown]}: add them to {PRICING_PATH}" if unknown else None),
        metadata={"unknown_models": MetadataValue.json([{"model": m, "calls": c, "tokens": int(t)} for m, c, t in unknown])},
    )


@asset_check(asset=key("published_search_copy"), name="search_copy_is_whole", blocking=False, pool=WAREHOUSE_POOL,
             additional_deps=[key("search_documents")],
             description="The search copy holds every search document, each with its vector for the configured model.")
def search_copy_is_whole(warehouse: WarehouseResource) -> AssetCheckResult:
    copy = search_copy_path(warehouse.published_anchor or warehouse.database)
    with warehouse.connect() as conn:
        documents = _scalar(conn, "SELECT count(*) FROM aggregate.search_documents")
        if not copy.exists():
            return AssetCheckResult(passed=False, description=f"{copy} is missing", metadata={"documents": documents})
        conn.execute(f"ATTACH {quote_literal(str(copy))} AS search_check (READ_ONLY)")
        try:
            copied = _scalar(conn, "SELECT count(*) FROM search_check.documents")
            with_vector = _scalar(conn, "SELECT count(DISTINCT doc_id) FROM search_check.vectors")
        finally:
            conn.execute("DETACH search_check")
    passed = documents == copied == with_vector
    return AssetCheckResult(
        passed=passed, severity=AssetCheckSeverity.WARN,
        description=None if passed else f"{documents} documents, {copied} in the copy, {with_vector} with a vector",
        metadata={"documents": documents, "copied": copied, "with_vector": with_vector},
    )


aggregate_checks = [
    search_copy_is_whole,
    token_sums_agree,
    facts_have_no_orphan_keys,
    costs_non_negative,
    unknown_models_listed,
    *[build_scd2_check(t) for t in ("dim_project", "dim_model", "dim_tool", "dim_agent_type")],
]
