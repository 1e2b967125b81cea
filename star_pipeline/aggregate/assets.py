"""Aggregate assets and the star schema. Each SQL table's query is `<table>.sql` beside this file.

Every aggregate is rebuilt from the layers below on each run (replace mode,
one transaction each), except fact_token_usage, which reprices only the calls
that changed (see its asset). Each carries `pipeline_version`, which embeds the
pricing config's hash, so a number can always be traced to the prices that
made it. Dimensions are SCD2 histories built by the storage kernel
(`scd2_history_sql`) from event times, so a rebuild gives the same history.
"""

import hashlib
import re
from datetime import date
from pathlib import Path

import pyarrow as pa
from dagster import AssetExecutionContext, AssetKey, AssetOut, MaterializeResult, MetadataValue, Output, asset, multi_asset

from star_pipeline.aggregate.pricing import PRICING_PATH, pipeline_version, price_rows, pricing_config
from star_pipeline.aggregate.blocks import CALL_TIME_SQL, billing_blocks
from star_pipeline.aggregate.python_tables import blocks_table, goal_components
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.scd2 import scd2_history_sql
from star_pipeline.storage.sql_files import render_sql
from star_pipeline.storage.table_writes import SqlQuery, stored_table_version
from star_pipeline.storage.warehouse import table_exists

SQL_DIR = Path(__file__).parent
GROUP = "aggregate"
_SAFE_VERSION = re.compile(r"^[A-Za-z0-9._-]+$")


def key(table: str) -> AssetKey:
    return AssetKey(["aggregate", table])


def normalized(table: str) -> AssetKey:
    return AssetKey(["normalized", table])


def read_sql(name: str, **placeholders: str) -> str:
    """The table's SQL with {pipeline_version} and {fast_multiplier} filled in (both computed, never user text)."""
    version = pipeline_version(PRICING_PATH)
    config, _ = pricing_config(PRICING_PATH)
    multiplier = float(config.get("fast_multiplier", 2))
    assert _SAFE_VERSION.match(version), version
    # not strict: dimension observations carry no pipeline_version, only fact_token_usage has the multiplier
    return render_sql(SQL_DIR / f"{name}.sql",
                      {"pipeline_version": version, "fast_multiplier": repr(multiplier), **placeholders}, strict=False)


def with_pipeline_version(sql: str) -> str:
    version = pipeline_version(PRICING_PATH)
    assert _SAFE_VERSION.match(version), version
    return f"SELECT *, '{version}' AS pipeline_version FROM ({sql})"


def sql_asset(table: str, deps: list[AssetKey], description: str):
    @asset(key=key(table), group_name=GROUP, deps=deps, pool=WAREHOUSE_POOL, kinds={"duckdb"},
           metadata={"write_mode": "replace"}, description=description)
    def _sql_asset() -> SqlQuery:
        return SqlQuery(read_sql(table))

    return _sql_asset


def scd2_asset(table: str, deps: list[AssetKey], business_keys: list[str], attributes: list[str], description: str):
    @asset(key=key(table), group_name=GROUP, deps=deps, pool=WAREHOUSE_POOL, kinds={"duckdb"},
           metadata={"write_mode": "replace"}, description=description)
    def _scd2_asset() -> SqlQuery:
        history = scd2_history_sql(
            read_sql(f"{table}_observations"),
            business_keys=business_keys,
            attributes=attributes,
            observed_at="observed_at",
            record_source=f"aggregate/{table}_observations.sql",
        )
        return SqlQuery(with_pipeline_version(history))

    return _scd2_asset


session_projects = sql_asset(
    "session_projects",
    [normalized("normalized_sessions")],
    "The project of every session id: cwd with worktrees folded into their repository, else '(unknown)'.",
)

PRICE_COLUMNS = [
    ("input_price", "input"), ("output_price", "output"), ("cache_read_price", "cache_read"),
    ("cache_write_price", "cache_write"), ("cache_write_1h_price", "cache_write_1h"),
]


@asset(key=key("dim_model"), group_name=GROUP, deps=[normalized("normalized_usage")], pool=WAREHOUSE_POOL,
       kinds={"duckdb"}, metadata={"write_mode": "replace"},
       description="SCD2: every model seen, with its prices (USD per million tokens) over time, from genai-prices "
       "and config/pricing.yaml. Models without a known price have NULL prices.")
def dim_model(context: AssetExecutionContext, warehouse: WarehouseResource) -> SqlQuery:
    with warehouse.connect() as conn:
        models = [r[0] for r in conn.execute("SELECT DISTINCT model FROM normalized.normalized_usage WHERE model IS NOT NULL").fetchall()]
    rows = price_rows(models)
    priced = {r.model for r in rows}
    unknown = sorted(set(models) - priced)
    if unknown:
        context.log.warning(f"no price known for {unknown}: their calls get cost NULL; add them to {PRICING_PATH}")
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
        observed_at="observed_at", record_source="genai-prices + config/pricing.yaml",
    )
    return SqlQuery(with_pipeline_version(history), params)


# The normalized_usage columns fact_token_usage copies: a call whose copy differs has changed.
USAGE_COLUMNS = (
    "source", "session_id", "agent_id", "message_id", "request_id", "model", "model_is_fallback", "speed",
    "is_sidechain", "event_ts", "input_tokens", "output_tokens", "cache_creation_input_tokens",
    "cache_creation_1h_input_tokens", "cache_read_input_tokens", "reasoning_output_tokens", "path", "file_version",
    "byte_offset",
)
# The calls whose fact differs from what the usage row and the session's project now say (or that have no fact).
CHANGED_CALLS_SQL = f"""
    SELECT usage_key FROM (
        SELECT u.usage_key, hash({", ".join("u." + c for c in USAGE_COLUMNS)}, coalesce(sp.project_id, '(unknown)')) AS h
        FROM normalized.normalized_usage u
        LEFT JOIN aggregate.session_projects sp ON sp.source = u.source AND sp.session_id = u.session_id
    ) n FULL OUTER JOIN (
        SELECT usage_key, hash({", ".join(USAGE_COLUMNS)}, project_id) AS h FROM aggregate.fact_token_usage
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
       metadata={"write_mode": "replace", "key_columns": ["usage_key"]},
       description="Fact: one row per API call with dimension keys, tokens and cost at the price in force at the call's time.")
def fact_token_usage(warehouse: WarehouseResource) -> SqlQuery:
    """Rebuilt in full when its SQL, the prices (pipeline_version) or dim_model's price history changed;
    otherwise only the calls whose usage row or project changed are priced again, written by key,
    and facts whose call is gone are deleted. Unchanged facts keep their inserted_at."""
    full_sql = read_sql("fact_token_usage", usage_scope="TRUE")
    with warehouse.connect() as conn:
        fingerprint = conn.execute(DIM_MODEL_FINGERPRINT_SQL).fetchone()[0]
        version = hashlib.sha256(f"{full_sql}\n{fingerprint}".encode()).hexdigest()[:16]
        if not table_exists(conn, "aggregate", "fact_token_usage") or \
                stored_table_version(conn, "aggregate", "fact_token_usage") != version:
            return SqlQuery(full_sql, table_version=version)
    return SqlQuery(
        read_sql("fact_token_usage", usage_scope=f"u.usage_key IN ({CHANGED_CALLS_SQL})"),
        write_mode="upsert",
        table_version=version,
        also_delete="usage_key NOT IN (SELECT usage_key FROM normalized.normalized_usage)",
    )
derived_session_usage = sql_asset(
    "derived_session_usage", [key("fact_token_usage"), normalized("normalized_sessions")],
    "One row per session; subagent and compaction calls in the parent's totals and apart.",
)
derived_projects = sql_asset(
    "derived_projects", [key("session_projects"), key("derived_session_usage")],
    "One row per project (worktrees folded in, '(unknown)' for sessions without cwd).",
)
derived_daily_usage = sql_asset("derived_daily_usage", [key("fact_token_usage")], "UTC date x source x model.")
derived_model_usage = sql_asset("derived_model_usage", [key("fact_token_usage")], "One row per source and model.")
derived_tool_stats = sql_asset(
    "derived_tool_stats", [normalized("normalized_tool_calls"), key("session_projects")],
    "Calls, errors, error rate, p50/p95 duration per tool and project.",
)
derived_file_activity = sql_asset(
    "derived_file_activity", [normalized("normalized_tool_calls"), key("session_projects")],
    "Files read and edited per project and session.",
)
dim_project = scd2_asset(
    "dim_project", [key("session_projects"), normalized("normalized_sessions")], ["project_id"],
    ["project_path", "repository_url", "git_branch"], "SCD2: project path, repository URL and branch over time.",
)
dim_tool = scd2_asset("dim_tool", [normalized("normalized_tool_calls"), normalized("normalized_hook_events")],
                      ["tool_name"], ["source"], "SCD2: tools (from transcripts and hook events).")
dim_agent_type = scd2_asset(
    "dim_agent_type", [normalized("normalized_tool_calls"), normalized("normalized_hook_events")], ["agent_type"],
    ["first_seen_in"], "SCD2: subagent types (Task/Agent calls, SubagentStart hooks).",
)
dim_date = sql_asset("dim_date", [key("fact_token_usage"), normalized("normalized_tool_calls"),
                                  normalized("normalized_hook_events")], "Every UTC date the facts span.")
dim_time = sql_asset("dim_time", [], "Every minute of the day (HHMM).")
fact_tool_call = sql_asset(
    "fact_tool_call", [normalized("normalized_tool_calls"), key("session_projects"), key("fact_token_usage")],
    "Fact: one row per tool call: tool, project, agent type, time, duration, status, target path, tokens.",
)
fact_session_event = sql_asset(
    "fact_session_event", [normalized("normalized_hook_events"), key("session_projects")],
    "Fact: one row per hook event.",
)


@asset(key=key("derived_blocks"), group_name=GROUP, deps=[key("fact_token_usage")], pool=WAREHOUSE_POOL,
       kinds={"duckdb"}, metadata={"write_mode": "replace"},
       description="5-hour billing blocks computed as ccusage does (Claude Code calls), with gap blocks.")
def derived_blocks(warehouse: WarehouseResource) -> pa.Table:
    with warehouse.connect() as conn:
        calls = conn.execute(
            f"SELECT {CALL_TIME_SQL}, report_model, input_tokens, output_tokens, cache_creation_input_tokens, "
            "cache_read_input_tokens, cost_usd FROM aggregate.fact_token_usage "
            "WHERE source = 'claude_code' AND event_ts IS NOT NULL ORDER BY event_ts, usage_key"
        ).fetchall()
    return blocks_table(billing_blocks(calls), pipeline_version(PRICING_PATH))


@multi_asset(
    name="derived_goals_and_attempts",
    outs={
        "derived_goals": AssetOut(key=key("derived_goals"), group_name=GROUP, kinds={"duckdb"},
                                  metadata={"write_mode": "replace"},
                                  description="A goal: main sessions chained by resume, summary or compaction links."),
        "derived_attempts": AssetOut(key=key("derived_attempts"), group_name=GROUP, kinds={"duckdb"},
                                     metadata={"write_mode": "replace"},
                                     description="An attempt: one main session of a goal, numbered in time order."),
    },
    deps=[normalized("normalized_sessions"), normalized("normalized_session_links"), key("derived_session_usage")],
    pool=WAREHOUSE_POOL,
)
def derived_goals_and_attempts(warehouse: WarehouseResource):
    with warehouse.connect() as conn:
        sessions = conn.execute(
            "SELECT s.source, s.session_key, s.session_id, s.first_event_ts, s.last_event_ts, "
            "coalesce(u.total_tokens, 0), u.cost_usd, coalesce(u.project_id, '(unknown)') "
            "FROM normalized.normalized_sessions s LEFT JOIN aggregate.derived_session_usage u USING (source, session_id) "
            "WHERE s.file_kind = 'main' ORDER BY s.source, s.session_key"
        ).fetchall()
        edges = conn.execute(
            "SELECT source || ':' || from_session_key, source || ':' || to_session_key FROM normalized.normalized_session_links "
            "WHERE link_type IN ('resume', 'summary', 'compaction')"
        ).fetchall()
    version = pipeline_version(PRICING_PATH)
    keys = [f"{s[0]}:{s[1]}" for s in sessions]
    component = goal_components(keys, edges)
    by_goal: dict[str, list] = {}
    for key_, s in zip(keys, sessions):
        by_goal.setdefault(component[key_], []).append(s)
    goals, attempts = [], []
    for root, members in sorted(by_goal.items()):
        # time order; a resumed session starts with copies of the original's records (same first
        # timestamp), so ties go to the session that ended first
        members.sort(key=lambda s: (s[3] is None, s[3] or 0, s[4] is None, s[4] or 0, s[1]))
        goal_id = root
        costs = [m[6] for m in members if m[6] is not None]
        goals.append({
            "goal_id": goal_id, "root_source": members[0][0], "root_session_id": members[0][2],
            "project_id": members[0][7], "attempts": len(members),
            "first_activity": min((m[3] for m in members if m[3]), default=None),
            "last_activity": max((m[4] for m in members if m[4]), default=None),
            "total_tokens": sum(m[5] for m in members), "cost_usd": sum(costs) if costs else None,
            "pipeline_version": version,
        })
        for number, m in enumerate(members, start=1):
            attempts.append({
                "goal_id": goal_id, "attempt_number": number, "source": m[0], "session_id": m[2],
                "session_key": m[1], "first_activity": m[3], "last_activity": m[4], "total_tokens": m[5],
                "cost_usd": m[6], "pipeline_version": version,
            })
    ts = pa.timestamp("us", tz="UTC")
    goal_schema = pa.schema([("goal_id", pa.string()), ("root_source", pa.string()), ("root_session_id", pa.string()),
                             ("project_id", pa.string()), ("attempts", pa.int64()), ("first_activity", ts),
                             ("last_activity", ts), ("total_tokens", pa.int64()), ("cost_usd", pa.float64()),
                             ("pipeline_version", pa.string())])
    attempt_schema = pa.schema([("goal_id", pa.string()), ("attempt_number", pa.int64()), ("source", pa.string()),
                                ("session_id", pa.string()), ("session_key", pa.string()), ("first_activity", ts),
                                ("last_activity", ts), ("total_tokens", pa.int64()), ("cost_usd", pa.float64()),
                                ("pipeline_version", pa.string())])
    yield Output(pa.Table.from_pylist(goals, schema=goal_schema), output_name="derived_goals",
                 metadata={"goals": len(goals), "multi_attempt_goals": sum(1 for g in goals if g["attempts"] > 1)})
    yield Output(pa.Table.from_pylist(attempts, schema=attempt_schema), output_name="derived_attempts")


@asset(key=key("published_report_copy"), group_name=GROUP, deps=[key("fact_token_usage"), key("derived_session_usage")],
       pool=WAREHOUSE_POOL, kinds={"duckdb"},
       description="A read-only copy of the tables reports read (<warehouse>.reports.duckdb), so that "
       "`star-pipeline report` answers while a run holds the warehouse.")
def published_report_copy(warehouse: WarehouseResource) -> MaterializeResult:
    from star_pipeline.reports.published_copy import publish

    with warehouse.connect() as conn:
        target = publish(conn, warehouse.database)
    return MaterializeResult(metadata={"path": MetadataValue.path(str(target))})


aggregate_assets = [
    published_report_copy,
    session_projects, dim_model, fact_token_usage, derived_session_usage, derived_projects, derived_daily_usage,
    derived_model_usage, derived_tool_stats, derived_file_activity, derived_blocks, derived_goals_and_attempts,
    dim_project, dim_tool, dim_agent_type, dim_date, dim_time, fact_tool_call, fact_session_event,
]
