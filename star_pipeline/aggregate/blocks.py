"""ccusage's 5-hour billing blocks, in plain Python (the report command imports this without pyarrow or dagster)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

BLOCK = timedelta(hours=5)


def floor_to_hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def billing_blocks(calls: list[tuple], now: datetime | None = None) -> list[dict]:
    """ccusage's 5-hour blocks from (event_ts, model, input, output, cache_creation, cache_read, cost) in time order.

    A block starts at the hour of its first call and lasts 5 hours; a call more
    than 5 hours after the block's start, or after the previous call, starts a
    new block. A silence longer than 5 hours adds a gap block from 5 hours after
    the last call to the next call.
    """
    now = now or datetime.now(timezone.utc)
    blocks: list[dict] = []
    current: dict | None = None

    def close(block: dict) -> None:
        block["is_active"] = now - block["actual_end"] < BLOCK and now < block["end_time"]
        blocks.append(block)

    for ts, model, i, o, cc, cr, cost in calls:
        ts = ts.astimezone(timezone.utc)  # blocks start on the UTC hour, whatever the local time zone
        if current is not None:
            since_start = ts - current["start_time"]
            since_last = ts - current["actual_end"]
            if since_start > BLOCK or since_last > BLOCK:
                close(current)
                if since_last > BLOCK:
                    gap_start = current["actual_end"] + BLOCK
                    blocks.append(
                        {"block_id": "gap-" + iso(gap_start), "is_gap": True, "start_time": gap_start, "end_time": ts,
                         "actual_end": None, "entries": 0, "input_tokens": 0, "output_tokens": 0,
                         "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "cost_usd": 0.0,
                         "models": [], "is_active": False}
                    )
                current = None
        if current is None:
            start = floor_to_hour(ts)
            current = {"block_id": iso(start), "is_gap": False, "start_time": start, "end_time": start + BLOCK,
                       "actual_end": ts, "entries": 0, "input_tokens": 0, "output_tokens": 0,
                       "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "cost_usd": 0.0, "models": []}
        current["actual_end"] = ts
        current["entries"] += 1
        current["input_tokens"] += i
        current["output_tokens"] += o
        current["cache_creation_input_tokens"] += cc
        current["cache_read_input_tokens"] += cr
        current["cost_usd"] += cost or 0.0
        if model not in current["models"]:
            current["models"].append(model)
    if current is not None:
        close(current)
    return blocks


def iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
