"""Tool calls by outcome, per agent and tool: the one query the Tools and files page, the MCP `tool_failures` tool
and `star-pipeline report tools` share, over the search copy's `tool_calls` table (aggregate/search_copy.py: the
corrected status, exit code and duration of normalized_tool_calls, and the masked head of each error text).

A call's status is what its file records (normalized_tool_calls.sql): ok, failed, rejected (by the user),
interrupted, unknown (a result came back but its format records no outcome) or pending (no result yet). The
failure rate counts only calls whose outcome is known: an unknown outcome is never read as a success.
"""

from __future__ import annotations

from star_pipeline.search.query import SearchError

STATUSES = ("ok", "failed", "rejected", "interrupted", "unknown", "pending")
KNOWN = ("ok", "failed", "rejected", "interrupted")
NOT_OK = ("failed", "rejected", "interrupted")

# The columns of one group of calls (SQL over tool_calls).
OUTCOME_COLUMNS = (
    "count(*) AS calls, "
    + ", ".join(f"count(*) FILTER (WHERE status = '{s}') AS {s}" for s in STATUSES)
    + ", count(*) FILTER (WHERE status = 'failed') / nullif(count(*) FILTER (WHERE status IN "
    + "(" + ", ".join(f"'{s}'" for s in KNOWN) + ")), 0) AS failure_rate"
    + ", count(DISTINCT source || ':' || session_id) AS sessions"
    + ", quantile_cont(duration_ms, 0.5) AS median_ms, quantile_cont(duration_ms, 0.9) AS p90_ms"
    + ", count(duration_ms) AS timed_calls"
)


def tool_outcomes(conn, where: str = "TRUE", params: list | None = None, *, by_project: bool = False,
                  only_failing: bool = False, examples: int = 3, limit: int | None = None) -> list[dict]:
    """One dict per agent and tool (and project with `by_project`): calls by status, failure_rate, sessions,
    median_ms and p90_ms, and `latest_errors`: the newest `examples` failed, rejected or interrupted calls with
    their masked error text, exit code and the way their status was told. `where` (SQL over tool_calls, with
    `params`) selects the calls; `only_failing` keeps the groups with a call that did not succeed."""
    columns = {d[0] for d in conn.execute("SELECT * FROM tool_calls LIMIT 0").description}
    if not {"exit_code", "status_reason"} <= columns:
        raise SearchError("the published search copy predates tool outcomes (no exit_code column in tool_calls): "
                          "run `star-pipeline build` to publish it again")
    keys = "source, tool_name" + (", project" if by_project else "")
    not_ok = "(" + ", ".join(f"'{s}'" for s in NOT_OK) + ")"
    cursor = conn.execute(f"""
        SELECT {keys}, {OUTCOME_COLUMNS},
            list(struct_pack(session_id := session_id, at := called_at, status := status, exit_code := exit_code,
                             reason := status_reason, target := target_path, error := error_head)
                 ORDER BY called_at DESC NULLS LAST) FILTER (WHERE status IN {not_ok}) AS latest
        FROM tool_calls WHERE {where}
        GROUP BY {keys}
        {"HAVING count(*) FILTER (WHERE status IN " + not_ok + ") > 0" if only_failing else ""}
        ORDER BY failed DESC, calls DESC, {keys}
        {"LIMIT " + str(int(limit)) if limit else ""}""", params or [])
    names = [d[0] for d in cursor.description]
    rows = []
    for values in cursor.fetchall():
        row = dict(zip(names, values))
        row["tool"] = row.pop("tool_name")
        row["latest_errors"] = (row.pop("latest") or [])[:examples]
        rows.append(row)
    return rows
