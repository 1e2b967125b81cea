"""published_statusline: what `star-pipeline statusline` needs from the history, in one small file
(<warehouse>.statusline.jsonl, laid out in storage/statusline_file.py), rewritten after every rebuild.

Claude Code calls only, as ccusage's statusline counts them: each session's cost and tokens (what `report
session` says), today's cost in quarter hours (what `report daily` says, for any time zone), the last 5-hour
block (what `report blocks` says), and what the statusline needs to add the calls written since the build
from the session's own transcripts: where each file's last counted call starts, that call's key and cost,
and the prices to cost new calls with.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from dagster import MaterializeResult, MetadataValue, asset

from star_pipeline.aggregate import pricing
from star_pipeline.aggregate.blocks import BLOCK_US, CALL_TIME_SQL, EPOCH, billing_blocks
from star_pipeline.aggregate.sql_assets import GROUP, key
from star_pipeline.storage.published_copies import publish_text
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.statusline_file import FORMAT, QUARTER_US, call_key, statusline_file

DAY_US = 24 * 3_600_000_000
CLAUDE = "f.source = 'claude_code'"
LAST_CALLS_PER_FILE = 2  # a file's tail can only continue its last response; one more for safety


def _us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _prices(conn) -> dict[str, list]:
    rows = conn.execute(
        "SELECT model, epoch_us(effective_from), epoch_us(effective_to), input_price, output_price, cache_read_price, "
        "cache_write_price, cache_write_1h_price, long_context_threshold, long_input_price, long_output_price, "
        "long_cache_read_price, long_cache_write_price, long_cache_write_1h_price "
        "FROM aggregate.dim_model ORDER BY model, effective_from").fetchall()
    prices: dict[str, list] = {}
    for model, *period in rows:
        prices.setdefault(model, []).append(period)
    return prices


def _quarter_hours(conn, built_through: int | None) -> list[list]:
    if built_through is None:
        return []
    since = (built_through // DAY_US - 2) * DAY_US
    return [list(row) for row in conn.execute(
        f"SELECT {CALL_TIME_SQL} // {QUARTER_US} * {QUARTER_US} AS q, coalesce(sum(cost_usd), 0), sum(input_tokens), "
        "sum(output_tokens), sum(cache_creation_input_tokens), sum(cache_read_input_tokens), count(*) "
        f"FROM aggregate.fact_token_usage f WHERE {CLAUDE} AND {CALL_TIME_SQL} >= ? GROUP BY q ORDER BY q",
        [since]).fetchall()]


def _last_block(conn) -> list | None:
    """The last non-gap 5-hour block, from the calls since the last silence longer than a block (where
    billing_blocks always starts a new block, so the blocks from there are those of the whole history)."""
    calls = conn.execute(f"""
        WITH timed AS (
            SELECT {CALL_TIME_SQL} AS ts, lag({CALL_TIME_SQL}) OVER (ORDER BY f.event_ts, f.usage_key) AS previous
            FROM aggregate.fact_token_usage f WHERE {CLAUDE} AND f.event_ts IS NOT NULL
        ), chain AS (SELECT max(ts) AS since FROM timed WHERE previous IS NULL OR ts - previous > {BLOCK_US})
        SELECT {CALL_TIME_SQL}, f.report_model, f.input_tokens, f.output_tokens, f.cache_creation_input_tokens,
               f.cache_read_input_tokens, f.cost_usd
        FROM aggregate.fact_token_usage f WHERE {CLAUDE} AND f.event_ts IS NOT NULL
          AND {CALL_TIME_SQL} >= (SELECT since FROM chain)
        ORDER BY f.event_ts, f.usage_key""").fetchall()
    blocks = [b for b in billing_blocks(calls) if not b["is_gap"]]
    if not blocks:
        return None
    b = blocks[-1]
    return [_us(b["start_time"]), _us(b["first_call"]), _us(b["actual_end"]), b["entries"], b["input_tokens"],
            b["output_tokens"], b["cache_creation_input_tokens"], b["cache_read_input_tokens"], b["cost_usd"], b["models"]]


def _sessions(conn) -> list[dict]:
    sessions = {
        session_id: {"session": session_id, "cost": cost, "input": i, "output": o, "cache_creation": cc,
                     "cache_read": cr, "calls": calls, "files": {}, "context": None}
        for session_id, cost, i, o, cc, cr, calls in conn.execute(
            "SELECT session_id, coalesce(sum(cost_usd), 0), sum(input_tokens), sum(output_tokens), "
            "sum(cache_creation_input_tokens), sum(cache_read_input_tokens), count(*) "
            f"FROM aggregate.fact_token_usage f WHERE {CLAUDE} GROUP BY session_id ORDER BY session_id").fetchall()
    }
    # per file of a session: its last counted calls (by place in the file's current version), the last first
    for session_id, path, offset, message_id, request_id, total, cost in conn.execute(f"""
            WITH current_lines AS (
                SELECT session_id, path, byte_offset, message_id, request_id, cost_usd,
                       input_tokens + output_tokens + cache_creation_input_tokens + cache_read_input_tokens AS total
                FROM aggregate.fact_token_usage f WHERE {CLAUDE} AND path IS NOT NULL
                QUALIFY file_version = max(file_version) OVER (PARTITION BY path)
            )
            SELECT session_id, path, byte_offset, message_id, request_id, total, cost_usd FROM current_lines
            QUALIFY row_number() OVER (PARTITION BY session_id, path ORDER BY byte_offset DESC) <= {LAST_CALLS_PER_FILE}
            ORDER BY session_id, path, byte_offset DESC""").fetchall():
        entry = sessions[session_id]["files"].setdefault(path, [offset, {}])
        key_ = call_key(message_id, request_id)
        if key_:
            entry[1][key_] = [total, cost]
    for session_id, tokens, model in conn.execute(f"""
            SELECT session_id, arg_max(input_tokens + cache_creation_input_tokens + cache_read_input_tokens, event_ts),
                   arg_max(model, event_ts)
            FROM aggregate.fact_token_usage f WHERE {CLAUDE} AND agent_id IS NULL AND NOT is_sidechain
              AND event_ts IS NOT NULL GROUP BY session_id""").fetchall():
        sessions[session_id]["context"] = [tokens, model]
    return list(sessions.values())


def statusline_lines(conn, machine_id: str = "") -> list[str]:
    """The file's lines (storage/statusline_file.py) from an open warehouse."""
    built_through = conn.execute(
        f"SELECT max({CALL_TIME_SQL}) FROM aggregate.fact_token_usage f WHERE {CLAUDE}").fetchone()[0]
    config, _ = pricing.pricing_config()
    header = {
        "format": FORMAT, "published_at": _us(datetime.now(timezone.utc)), "machine": machine_id,
        "built_through": built_through,
        "fast_multiplier": float(config.get("fast_multiplier", 2)), "block_us": BLOCK_US,
        "prices": _prices(conn), "quarter_hours": _quarter_hours(conn, built_through), "block": _last_block(conn),
    }
    return [json.dumps(line, separators=(",", ":")) for line in (header, *_sessions(conn))]


@asset(key=key("published_statusline"), group_name=GROUP, deps=[key("fact_token_usage"), key("dim_model")],
       pool=WAREHOUSE_POOL, kinds={"python"},
       description="What `star-pipeline statusline` reads besides the session's transcript "
       "(<anchor>.statusline.jsonl): per-session cost, today's cost by quarter hour, the last 5-hour block, "
       "where each transcript's counted calls end, and the prices, for Claude Code calls.")
def published_statusline(warehouse: WarehouseResource) -> MaterializeResult:
    with warehouse.connect() as conn:
        lines = statusline_lines(conn, warehouse.machine_id)
    target = statusline_file(warehouse.publishing_anchor())
    publish_text(target, "\n".join(lines) + "\n")
    return MaterializeResult(metadata={"path": MetadataValue.path(str(target)), "sessions": len(lines) - 1,
                                       "bytes": target.stat().st_size})
