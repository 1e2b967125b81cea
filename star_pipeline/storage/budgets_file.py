"""The file the guard hook and the statusline read for the budgets: `<warehouse>.budgets.jsonl`, written by the
aggregate asset published_budgets after every rebuild (owner-only, renamed into place).

Standard library only, like storage/statusline_file.py: the guard runs before every prompt and tool call. JSON
Lines, so that a reader parses the header and the one line of its own session:

- line 1, the header: `format`, `published_at` (microseconds since the epoch, UTC), `timezone` (the report time
  zone the windows are in), `machine` (the machine.id of the machine that built it: a budget's `machine` filter
  applies to sessions on it), and `budgets`: each budget's state as `star-pipeline budgets --json` prints it
  (reports/budgets.py `budget_state`), plus `window_start_us` / `window_end_us` (null for a session, or when no
  block is active).
- one line per session that a `period: session` budget selects: `{"session": id, "spent": {budget name: [USD,
  tokens]}}` (found by its fixed prefix, `SESSION_PREFIX`, as in the statusline's file).
"""

from __future__ import annotations

FORMAT = 1
SESSION_PREFIX = '{"session":'
STATUSLINE_SUFFIX = ".statusline.jsonl"
BUDGETS_SUFFIX = ".budgets.jsonl"


def budgets_file(warehouse_path):
    """The file beside the warehouse (a Path)."""
    from pathlib import Path

    return Path(f"{warehouse_path}{BUDGETS_SUFFIX}")


def beside_statusline_file(statusline_path: str) -> str:
    """The budgets file of the warehouse whose statusline file is `statusline_path` (a string, no pathlib)."""
    base = statusline_path[:-len(STATUSLINE_SUFFIX)] if statusline_path.endswith(STATUSLINE_SUFFIX) else statusline_path
    return base + BUDGETS_SUFFIX


def statusline_beside(budgets_path: str) -> str:
    """The statusline file of the warehouse whose budgets file is `budgets_path`."""
    base = budgets_path[:-len(BUDGETS_SUFFIX)] if budgets_path.endswith(BUDGETS_SUFFIX) else budgets_path
    return base + STATUSLINE_SUFFIX


def read_header(path) -> dict | None:
    """The budgets file's header, or None when it is missing, broken or of another format (the alert sensor, the
    dashboard and MCP read it; the guard and the status line also read their session's line)."""
    import json

    try:
        with open(path, "rb") as handle:
            header = json.loads(handle.readline())
    except (OSError, ValueError):
        return None
    return header if isinstance(header, dict) and header.get("format") == FORMAT else None


HOUR_US = 3_600_000_000
BLOCK_US = 5 * HOUR_US


def applies(state: dict, cwd: str | None, machine: str | None) -> bool:
    """Whether a published budget applies to a Claude Code session working in `cwd` on `machine` (the guard and the
    statusline see Claude Code sessions only): its source, machine and project filters allow it."""
    filters = state.get("filters") or {}
    if filters.get("source") not in (None, "claude_code"):
        return False
    if filters.get("machine") is not None and filters["machine"] != machine:
        return False
    project = filters.get("project")
    if project is not None:
        project = project.rstrip("/")
        return bool(cwd) and (cwd == project or cwd.startswith(project + "/"))
    return True


def current_use(state: dict, session_spent: dict | None, calls: list[tuple], now_us: int) -> tuple[float, int, str]:
    """(USD, tokens, window key) a published budget has spent by now: what the build counted in its window (for a
    session budget: this session's, from its line `session_spent`), plus the session's calls written since
    (`calls`: (time, cost, tokens, model, new_call), agent_side/statusline.py `new_calls`) that fall in the window
    and pass the model filter. A window that has ended since the build starts again from its end, with nothing
    counted; so does a block when none was active at the build (from 5 hours ago)."""
    model = (state.get("filters") or {}).get("model")
    name = state["name"]
    start, end = state.get("window_start_us"), state.get("window_end_us")
    if state["period"] == "session":
        usd, tokens = (session_spent or {}).get(name, (0.0, 0))
        start = end = None
        key = "session"
    elif end is not None and now_us < end:
        usd, tokens = state["spent_usd"], state["spent_tokens"]
        key = str(start)
    else:
        usd, tokens = 0.0, 0
        start, end = (end if end is not None else now_us - BLOCK_US), None
        key = str(start)
    for ts, cost, call_tokens, call_model, _ in calls:
        if model is not None and call_model != model:
            continue
        if start is not None and (ts is None or ts < start):
            continue
        if end is not None and ts is not None and ts >= end:
            continue
        usd += cost
        tokens += call_tokens
    return usd, tokens, key


def used_fraction(state: dict, usd: float, tokens: int) -> float:
    return (usd / state["limit_usd"]) if state.get("limit_usd") is not None else tokens / state["limit_tokens"]


def limit_text(state: dict) -> str:
    """`$20`, `$12.50` or `5,000,000 tokens`."""
    if state.get("limit_usd") is None:
        return f"{state['limit_tokens']:,} tokens"
    limit = state["limit_usd"]
    return f"${limit:,.0f}" if limit == int(limit) else f"${limit:,.2f}"


def spent_text(state: dict, usd: float, tokens: int) -> str:
    return f"{tokens:,} tokens" if state.get("limit_usd") is None else f"${usd:,.2f}"
