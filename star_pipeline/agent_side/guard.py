"""`star-pipeline guard`: the budgets' hook, run by Claude Code before every prompt (UserPromptSubmit) and every
tool call (PreToolUse) once `install-hooks --guard` has added it.

It reads the hook's JSON payload on stdin (`session_id`, `transcript_path`, `cwd`), the budgets file the last build
published (storage/budgets_file.py: each budget's limit, filters, window and spent) and, like the statusline, the
session's own transcripts from the last call the build counted (agent_side/statusline.py `new_calls`), so what it
compares is current to the session's last response. Then, for each budget that applies to the session (its source,
machine and project filters; storage/budgets_file.py `applies`):
- a `block` budget at or past its limit: exit 2 with a one-line reason on stderr naming the budget, spent and
  limit; Claude Code refuses the prompt or the tool call and shows the reason;
- a budget past its `warn_at` fraction (or a `warn` budget past its limit): exit 0, and a `systemMessage` on
  stdout that Claude Code shows the user, once per budget, window and level (remembered in
  `<warehouse>.guard-warned.json`; `<warehouse>.<machine>.guard-warned.json` with `--machine`, on a team's lake).
Standard library only (no duckdb, dagster or yaml when given --file, as install-hooks installs it): it runs before
every tool call. A guard must never lock a user out of their agent: when its own data is missing or broken it lets
the call through (exit 0) and says why in guard-errors.log beside the budgets file.
"""

from __future__ import annotations

import json
import os
import sys
import time

from star_pipeline.agent_side.hook import log_error, utc_now_iso
from star_pipeline.agent_side.statusline import new_calls, read_published, session_files
from star_pipeline.storage.budgets_file import (BUDGETS_SUFFIX, FORMAT, applies, current_use, limit_text, spent_text,
                                                statusline_beside, used_fraction)

ERROR_LOG = "guard-errors.log"
WARNED_SUFFIX = ".guard-warned.json"
BLOCKED = 2  # Claude Code's exit code for "refuse this prompt or tool call, and show stderr"
MAX_REMEMBERED = 500  # warnings remembered in the warned file (the oldest go first)


class GuardDataMissing(RuntimeError):
    """The guard's own data (the published budgets file) is missing or not ours: the call goes through."""


def session_calls(statusline_path: str, session_id: str | None, transcript: str | None) -> list[tuple]:
    """The session's calls written since the build (none without a session, a transcript or a statusline file)."""
    if not session_id or not transcript:
        return []
    header, session = read_published(statusline_path, session_id)
    if header is None:
        return []
    files, transcript = session_files(transcript, session_id, (session or {}).get("files", {}))
    return new_calls(header, session, files, transcript)[0]


def evaluate(payload: dict, budgets_path: str, now_us: int,
             machine: str | None = None) -> tuple[list[dict], list[dict]]:
    """The budgets that apply to the payload's session on `machine` (this machine's machine.id; None: the budgets
    file's, the writer's), each with what it has spent now: (over `block` budgets, budgets past warn_at
    otherwise), each a dict of the published state plus `usd`, `tokens`, `key`, `fraction`."""
    session_id = payload.get("session_id") if isinstance(payload.get("session_id"), str) else None
    transcript = payload.get("transcript_path") if isinstance(payload.get("transcript_path"), str) else None
    cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else None
    header, session_line = read_published(budgets_path, session_id, FORMAT)
    if header is None:
        raise GuardDataMissing(f"{budgets_path}: no budgets published (missing, or not a budgets file); run "
                               "`star-pipeline build` once, or let `make dev` rebuild")
    states = [s for s in header.get("budgets") or () if applies(s, cwd, machine or header.get("machine"))]
    if not states:
        return [], []
    calls = session_calls(statusline_beside(budgets_path), session_id, transcript)
    blocking, warning = [], []
    for state in states:
        usd, tokens, key = current_use(state, (session_line or {}).get("spent"), calls, now_us)
        fraction = used_fraction(state, usd, tokens)
        found = {**state, "usd": usd, "tokens": tokens, "fraction": fraction,
                 "key": f"{state['name']}|{session_id if key == 'session' else key}"}
        if fraction >= 1 and state["action"] == "block":
            blocking.append(found)
        elif fraction >= state["warn_at"]:
            warning.append({**found, "key": found["key"] + ("|over" if fraction >= 1 else "|warn")})
    return blocking, warning


def window_words(state: dict) -> str:
    return "this session" if state["period"] == "session" else state["window"]


NEXT_WINDOW = {"day": "tomorrow", "week": "next week", "month": "next month", "block": "the next 5-hour block",
               "session": "a new session"}


def block_reason(state: dict) -> str:
    return (f"star-pipeline budget {state['name']!r} is over: {spent_text(state, state['usd'], state['tokens'])} "
            f"spent of {limit_text(state)} ({window_words(state)}). Raise its limit in your star_pipeline config or "
            f"wait for {NEXT_WINDOW[state['period']]}; `star-pipeline budgets` shows them all.")


def warning_text(state: dict) -> str:
    crossed = "over its limit" if state["fraction"] >= 1 else f"at {int(state['fraction'] * 100)}%"  # 99.9% is not 100
    return (f"star-pipeline budget {state['name']!r} is {crossed}: {spent_text(state, state['usd'], state['tokens'])} "
            f"of {limit_text(state)} ({window_words(state)}).")


def warned_file(budgets_path: str, machine: str | None = None) -> str:
    """Beside the budgets file; one per machine when `machine` is given (a team's lake: the budgets file is in the
    folder every machine reads, and each machine's user is warned once)."""
    base = budgets_path[:-len(BUDGETS_SUFFIX)] if budgets_path.endswith(BUDGETS_SUFFIX) else budgets_path
    return base + (f".{machine}" if machine else "") + WARNED_SUFFIX


def not_warned_yet(path: str, warnings: list[dict]) -> list[dict]:
    """The warnings not given before (by budget, window and level), remembered as given from now on."""
    try:
        with open(path, encoding="utf-8") as handle:
            remembered = json.load(handle)
        remembered = remembered if isinstance(remembered, dict) else {}
    except (OSError, ValueError):
        remembered = {}
    fresh = [w for w in warnings if w["key"] not in remembered]
    if fresh:
        for warning in fresh:
            remembered[warning["key"]] = int(time.time())
        kept = dict(sorted(remembered.items(), key=lambda item: item[1])[-MAX_REMEMBERED:])
        temporary = f"{path}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(kept, handle)
        os.replace(temporary, path)
    return fresh


def run_guard(budgets_path: str | None = None, stdin=None, out=None, err=None, machine: str | None = None) -> int:
    """Read one hook payload from stdin; 2 to refuse the call (a `block` budget is over), else 0. `machine`: this
    machine's machine.id (install-hooks passes it on a lake), else the config's when it is read."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if budgets_path is None:
            from star_pipeline.config import load_settings  # slower path: reads the YAML config
            from star_pipeline.storage.budgets_file import budgets_file

            settings = load_settings()
            budgets_path = str(budgets_file(settings.published_anchor))
            machine = machine or (settings.machine_id if settings.lake is not None else None)
        raw = (stdin or sys.stdin.buffer).read()
        payload = json.loads(raw) if raw.strip() else {}
        if not isinstance(payload, dict):
            raise ValueError(f"the hook payload is not a JSON object: {raw[:80]!r}")
        blocking, warnings = evaluate(payload, budgets_path, time.time_ns() // 1000, machine)
        if blocking:
            err.write(block_reason(blocking[0]) + "\n")
            err.flush()
            return BLOCKED
        fresh = not_warned_yet(warned_file(budgets_path, machine), warnings) if warnings else []
        if fresh:
            out.write(json.dumps({"systemMessage": " ".join(warning_text(w) for w in fresh)}) + "\n")
            out.flush()
    except BaseException as exc:  # never lock a user out of their agent
        log_error(os.path.dirname(budgets_path) if budgets_path else None, utc_now_iso(), exc, ERROR_LOG)
    return 0
