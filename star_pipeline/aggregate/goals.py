"""derived_goals and derived_attempts: main sessions chained by resume, summary and compaction links
(connected components, python_tables.goal_components), each session an attempt."""

from dagster import AssetOut, Output, multi_asset

from star_pipeline.aggregate import pricing
from star_pipeline.aggregate.python_tables import goal_components
from star_pipeline.aggregate.sql_assets import GROUP, PIPELINE_VERSION_DOC, key, normalized
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.table_docs import TableDoc, table_metadata

GOALS_DOC = TableDoc(
    {
        "goal_id": "the goal: '<source>:<session_key>' of its first session by key",
        "root_source": "the agent of its first attempt",
        "root_session_id": "the session of its first attempt (in time)",
        "project_id": "the project of its first attempt",
        "attempts": "its main sessions",
        "first_activity": "the first record's time over its attempts",
        "last_activity": "the last record's time over its attempts",
        "total_tokens": "total tokens over its attempts (subagents' and compactions' included)",
        "cost_usd": "cost in USD over its attempts (NULL when none had a known price)",
    },
    preview=("goal_id", "attempts", "project_id", "total_tokens", "cost_usd", "last_activity"),
) | PIPELINE_VERSION_DOC
ATTEMPTS_DOC = TableDoc(
    {
        "goal_id": "the goal the attempt belongs to (derived_goals)",
        "attempt_number": "1 for the goal's first session in time, then 2, 3 ...",
        "source": "the agent",
        "session_id": "the attempt's session",
        "session_key": "the attempt's session key (normalized_sessions)",
        "first_activity": "the session's first record's time",
        "last_activity": "the session's last record's time",
        "total_tokens": "the session's total tokens (subagents' and compactions' included)",
        "cost_usd": "the session's cost in USD (NULL without a known price)",
    },
    preview=("goal_id", "attempt_number", "session_id", "total_tokens", "cost_usd", "first_activity"),
) | PIPELINE_VERSION_DOC

@multi_asset(
    name="derived_goals_and_attempts",
    outs={
        "derived_goals": AssetOut(key=key("derived_goals"), group_name=GROUP, kinds={"duckdb"},
                                  metadata={"write_mode": "replace", **table_metadata(GOALS_DOC)},
                                  description="A goal: main sessions chained by resume, summary or compaction links."),
        "derived_attempts": AssetOut(key=key("derived_attempts"), group_name=GROUP, kinds={"duckdb"},
                                     metadata={"write_mode": "replace", **table_metadata(ATTEMPTS_DOC)},
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
    version = pricing.pipeline_version()
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
    import pyarrow as pa  # here, not with the definitions: the code server that loads them never needs it

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
