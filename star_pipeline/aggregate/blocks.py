"""ccusage's 5-hour billing blocks, in plain Python (the report command imports this without pyarrow or dagster)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

BLOCK = timedelta(hours=5)
HOUR_US = 3_600_000_000
BLOCK_US = 5 * HOUR_US
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# The SQL expression callers select as a call's time: microseconds since the epoch. Integers
# cross from DuckDB to Python several times faster than time-zone-aware datetimes.
CALL_TIME_SQL = "epoch_us(event_ts)"


def from_epoch_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def billing_blocks(calls: list[tuple], now: datetime | None = None, block_us: int = BLOCK_US) -> list[dict]:
    """ccusage's 5-hour blocks from (epoch_us, model, input, output, cache_creation, cache_read, cost) in time order.

    A block starts at the (UTC) hour of its first call and lasts 5 hours (`block_us`: `report blocks
    --session-length`); a call more than that after the block's start, or after the previous call, starts
    a new block. A longer silence adds a gap block from one block length after the last call to the next
    call. Times in the blocks are UTC datetimes; `first_call` is the time of the block's first call, and
    `total_tokens` the sum of its four token counts.
    """
    now = now or datetime.now(timezone.utc)
    blocks: list[dict] = []
    current: dict | None = None

    def close(block: dict) -> None:
        for name in ("start_time", "end_time", "actual_end", "first_call"):
            block[name] = from_epoch_us(block[name])
        block["is_active"] = now - block["actual_end"] < timedelta(microseconds=block_us) and now < block["end_time"]
        block["total_tokens"] = (block["input_tokens"] + block["output_tokens"] + block["cache_creation_input_tokens"]
                                 + block["cache_read_input_tokens"])
        blocks.append(block)

    for ts, model, i, o, cc, cr, cost in calls:
        if current is not None:
            since_last = ts - current["actual_end"]
            if ts - current["start_time"] > block_us or since_last > block_us:
                last_call = current["actual_end"]
                close(current)
                if since_last > block_us:
                    gap_start = from_epoch_us(last_call + block_us)
                    blocks.append(
                        {"block_id": "gap-" + iso(gap_start), "is_gap": True, "start_time": gap_start,
                         "end_time": from_epoch_us(ts), "actual_end": None, "entries": 0, "input_tokens": 0,
                         "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                         "cost_usd": 0.0, "models": [], "is_active": False, "total_tokens": 0}
                    )
                current = None
        if current is None:
            start = ts - ts % HOUR_US
            current = {"block_id": iso(from_epoch_us(start)), "is_gap": False, "start_time": start,
                       "end_time": start + block_us, "actual_end": ts, "first_call": ts, "entries": 0, "input_tokens": 0,
                       "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                       "cost_usd": 0.0, "models": []}
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
