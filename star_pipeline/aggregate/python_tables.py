"""Aggregate tables computed in Python: 5-hour billing blocks (see blocks.py) and goals/attempts.

Both walk ordered or linked rows in a way SQL expresses poorly (a running
window that restarts; connected components), over data that is small after
aggregation (one row per API call's time, one row per session).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from star_pipeline.storage.table_docs import TableDoc

# pyarrow (with numpy, 40 MiB) is imported where a table is built: the code server loads the definitions that
# import this module and never builds one (which is also why derived_blocks has no `-> pa.Table` annotation:
# Dagster resolves an asset's annotations when the definitions load).
if TYPE_CHECKING:
    import pyarrow as pa


@functools.cache
def block_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([
        ("block_id", pa.string()), ("is_gap", pa.bool_()), ("is_active", pa.bool_()),
        ("start_time", pa.timestamp("us", tz="UTC")), ("end_time", pa.timestamp("us", tz="UTC")),
        ("actual_end_time", pa.timestamp("us", tz="UTC")), ("entries", pa.int64()),
        ("input_tokens", pa.int64()), ("output_tokens", pa.int64()),
        ("cache_creation_input_tokens", pa.int64()), ("cache_read_input_tokens", pa.int64()),
        ("total_tokens", pa.int64()), ("cost_usd", pa.float64()), ("models", pa.list_(pa.string())),
        ("pipeline_version", pa.string()),
    ])


BLOCK_DOC = TableDoc(
    {
        "block_id": "the block's start as an ISO time (ccusage's id); a gap block's is 'gap-<start>'",
        "is_gap": "a gap block: a silence longer than a block between two blocks",
        "is_active": "the block is still open (its last call and now are within the block's length)",
        "start_time": "the UTC hour of its first call (a gap: one block length after the last call)",
        "end_time": "start_time + 5 hours (a gap: the next call's time)",
        "actual_end_time": "its last call's time (NULL for a gap)",
        "entries": "its API calls",
        "input_tokens": "input tokens, cache reads and writes excluded",
        "output_tokens": "output tokens",
        "cache_creation_input_tokens": "tokens written to the prompt cache",
        "cache_read_input_tokens": "tokens read from the prompt cache",
        "total_tokens": "input + output + cache writes + cache reads",
        "cost_usd": "the calls' cost in USD (calls without a price count 0)",
        "models": "the models called, in order of first use",
    },
    preview=("block_id", "is_gap", "is_active", "entries", "total_tokens", "cost_usd", "models"),
)
"""aggregate.derived_blocks' columns; pipeline_version is described in sql_assets.py."""


def blocks_table(blocks: list[dict], pipeline_version: str) -> pa.Table:
    import pyarrow as pa

    schema = block_schema()
    rows = {name: [] for name in schema.names}
    for b in blocks:
        values = {**b, "actual_end_time": b["actual_end"], "pipeline_version": pipeline_version}
        for name in schema.names:
            rows[name].append(values.get(name))
    return pa.table(rows, schema=schema)


def goal_components(sessions: list[str], edges: list[tuple[str, str]]) -> dict[str, str]:
    """Connected components of sessions linked by edges; each session -> its component's smallest key."""
    parent = {s: s for s in sessions}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        if a in parent and b in parent:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return {s: find(s) for s in sessions}
