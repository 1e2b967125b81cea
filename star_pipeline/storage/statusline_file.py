"""The file `star-pipeline statusline` reads: `<warehouse>.statusline.jsonl`, written by the aggregate asset
published_statusline after every rebuild (owner-only, renamed into place, so a reader never sees half of it).

Standard library only: Claude Code runs the statusline every few hundred milliseconds. JSON Lines, so that
the statusline parses the small first line and the one line of its own session, whatever the number of
sessions (it finds that line by its fixed prefix, `SESSION_PREFIX`):

- line 1, the header: `format`, `published_at`, `machine` (the machine.id of the writer that published it),
  `built_through` (the last Claude Code call counted; times are
  microseconds since the epoch, UTC), `fast_multiplier`, `prices` (model -> price periods laid out as
  `PRICE_FIELDS`, USD per million tokens, as aggregate.dim_model has them), `quarter_hours` (Claude Code
  calls per 15-minute UTC interval of the two days before `built_through`'s UTC day and that day:
  `QUARTER_FIELDS`; every time zone's midnight falls on a quarter hour, so any local day sums exactly),
  `block` (the last 5-hour billing block, as `report blocks` computes it, or null: `BLOCK_FIELDS`).
- one line per Claude Code session: `{"session": id, "cost", "input", "output", "cache_creation",
  "cache_read", "calls", "files": {path: [byte offset of the last counted call's line, {call key: [its total
  tokens, its cost]}]}, "context": [input + cache tokens of the last main-thread call, its model] or null}`.
  A call key is `<message.id>:<requestId or ->`, Claude Code's dedup key (FORMATS.md).
"""

from __future__ import annotations

FORMAT = 1
SESSION_PREFIX = '{"session":'
PRICE_FIELDS = (
    "effective_from_us", "effective_to_us", "input", "output", "cache_read", "cache_write", "cache_write_1h",
    "long_context_threshold", "long_input", "long_output", "long_cache_read", "long_cache_write", "long_cache_write_1h",
)
QUARTER_US = 15 * 60 * 1_000_000
QUARTER_FIELDS = ("start_us", "cost", "input", "output", "cache_creation", "cache_read", "calls")
BLOCK_FIELDS = ("start_us", "first_call_us", "last_call_us", "calls", "input", "output", "cache_creation",
                "cache_read", "cost", "models")


def statusline_file(warehouse_path):
    """The file beside the warehouse (a Path). pathlib is imported here, not above: the statusline never needs
    it, and importing it would cost more than everything the statusline reads."""
    from pathlib import Path

    return Path(f"{warehouse_path}.statusline.jsonl")


def call_key(message_id: str | None, request_id: str | None) -> str | None:
    """The key Claude Code's copies of one API call share (None: a line without a message id)."""
    return f"{message_id}:{request_id or '-'}" if message_id else None


def call_cost(periods: list | None, ts_us: int, input_tokens: int, output_tokens: int, cache_creation: int,
              cache_creation_1h: int, cache_read: int, fast: bool, fast_multiplier: float) -> float | None:
    """One call's cost as aggregate/fact_token_usage.sql computes it (None: no price for the model then):
    the price period in force at the call's time; all of a call at the long-context prices when its input
    (input + cache writes + cache reads) exceeds the threshold; 1-hour cache writes apart; fast mode
    `fast_multiplier` times."""
    for period in periods or ():
        start, end = period[0], period[1]
        if (start is None or ts_us >= start) and (end is None or ts_us < end):
            break
    else:
        return None
    p = dict(zip(PRICE_FIELDS, period))
    if p["input"] is None:
        return None
    threshold = p["long_context_threshold"]
    long = threshold is not None and input_tokens + cache_creation + cache_read > threshold

    def price(name: str) -> float:
        value = p[f"long_{name}"] if long and p[f"long_{name}"] is not None else p[name]
        return value or 0.0

    cost = (input_tokens * price("input") + output_tokens * price("output") + cache_read * price("cache_read")
            + (cache_creation - cache_creation_1h) * price("cache_write")
            + cache_creation_1h * price("cache_write_1h")) / 1_000_000.0
    return cost * fast_multiplier if fast else cost
