"""Aggregate tables computed in Python: 5-hour billing blocks (see blocks.py) and goals/attempts.

Both walk ordered or linked rows in a way SQL expresses poorly (a running
window that restarts; connected components), over data that is small after
aggregation (one row per API call's time, one row per session).
"""

from __future__ import annotations

import pyarrow as pa

BLOCK_SCHEMA = pa.schema([
    ("block_id", pa.string()), ("is_gap", pa.bool_()), ("is_active", pa.bool_()),
    ("start_time", pa.timestamp("us", tz="UTC")), ("end_time", pa.timestamp("us", tz="UTC")),
    ("actual_end_time", pa.timestamp("us", tz="UTC")), ("entries", pa.int64()),
    ("input_tokens", pa.int64()), ("output_tokens", pa.int64()),
    ("cache_creation_input_tokens", pa.int64()), ("cache_read_input_tokens", pa.int64()),
    ("total_tokens", pa.int64()), ("cost_usd", pa.float64()), ("models", pa.list_(pa.string())),
    ("pipeline_version", pa.string()),
])


def blocks_table(blocks: list[dict], pipeline_version: str) -> pa.Table:
    rows = {name: [] for name in BLOCK_SCHEMA.names}
    for b in blocks:
        values = {**b, "actual_end_time": b["actual_end"], "pipeline_version": pipeline_version}
        for name in BLOCK_SCHEMA.names:
            rows[name].append(values.get(name))
    return pa.table(rows, schema=BLOCK_SCHEMA)


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
