"""`star-pipeline statusline`: Claude Code's status line, from two small reads, never stale.

Claude Code runs the command every few hundred milliseconds with a JSON object on stdin (`session_id`,
`transcript_path`, `model.display_name`, `context_window.context_window_size` ...; any of them may be
missing) and shows the first line it prints. We print ccusage's line:

    🤖 Opus 4.6 | 💰 $1.84 session / $12.40 today / $6.02 block (2h 13m left) | 🔥 $3.10/hr | 🧠 48,120 (24%)

and, when budgets are configured, the one that applies to the session with the most of its limit used
(`| 💸 82% of daily $20`, from the budgets file beside the published one: storage/budgets_file.py).

Two reads, no scan of the history, no lock, no process left behind:
1. the file the aggregate asset published_statusline writes after every rebuild
   (storage/statusline_file.py): the session's cost so far, today's cost by quarter hour, the last 5-hour
   block, prices; its header line and this session's line only are parsed;
2. the session's own transcripts (the main one and its subagents/ files) from the line of the last call the
   build counted: the calls written since are deduplicated against what the build counted (message.id +
   requestId, the largest copy wins) and priced as fact_token_usage prices them, then added to the session,
   to today and to the block, so the line moves with every response even between builds.

Claude Code calls only, as ccusage's statusline. Today is the system's local day; the block is ccusage's
(report blocks); the burn rate is the active block's cost per hour from its first call to its last.
Context: the last main-thread response's input + cache tokens against the window Claude Code reports
(`context_window.context_window_size`), else 200,000 (Claude's standard window; ccusage takes the
model's largest from its price table).
Standard library only (like `hook`). Never fails Claude Code: whatever goes wrong, it prints a shorter
line and exits 0; unexpected errors go to statusline-errors.log beside the published file.
"""

from __future__ import annotations

import json
import os
import sys
import time

from star_pipeline.agent_side.hook import log_error, utc_now_iso
from star_pipeline.storage.budgets_file import FORMAT as BUDGETS_FORMAT
from star_pipeline.storage.budgets_file import applies, beside_statusline_file, current_use, limit_text, used_fraction
from star_pipeline.storage.statusline_file import BLOCK_FIELDS, FORMAT, SESSION_PREFIX, call_cost, call_key

DEFAULT_CONTEXT_WINDOW = 200_000
MAX_TAIL_BYTES = 32 * 2**20  # a transcript's unread part beyond this: only its last 32 MiB are read
CONTEXT_READ_BYTES = 2**20  # with nothing published, the context is read from the transcript's last MiB
MAX_HEADER_BYTES = 4 * 2**20  # a published file whose first line is longer is not ours
ERROR_LOG = "statusline-errors.log"
HOUR_US = 3_600_000_000


def parse_time_us(text) -> int | None:
    """An ISO timestamp as Claude Code writes it (2026-03-01T10:00:00.123Z; a +HH:MM offset, or none for
    UTC, also do) in microseconds since the epoch; None when it is not one. By hand: importing datetime
    costs the statusline more than all its reading."""
    if not isinstance(text, str) or len(text) < 19 or text[4] != "-" or text[10] not in "T ":
        return None
    try:
        year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
        hours, minutes, seconds = int(text[11:13]), int(text[14:16]), int(text[17:19])
        rest, micros = text[19:], 0
        if rest.startswith("."):
            digits = len(rest) - len(rest[1:].lstrip("0123456789")) - 1
            micros = int((rest[1:1 + digits] + "000000")[:6])
            rest = rest[1 + digits:]
        offset = 0
        if rest and rest not in ("Z", "z"):
            sign = -1 if rest[0] == "-" else 1
            offset = sign * (int(rest[1:3]) * 60 + int(rest[-2:])) * 60
    except ValueError:
        return None
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    shifted = year - (month <= 2)  # days from 1970-01-01 to the date (Howard Hinnant's days_from_civil)
    era = shifted // 400
    year_of_era = shifted - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    days = era * 146097 + year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year - 719468
    return ((days * 24 + hours) * 60 + minutes) * 60_000_000 + seconds * 1_000_000 + micros - offset * 1_000_000


def read_published(path: str, session_id: str | None, expected_format: int = FORMAT) -> tuple[dict | None, dict | None]:
    """The published file's header and this session's line (None for what is not there); the budgets file
    (storage/budgets_file.py) is laid out the same way."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None, None
    end = data.find(b"\n", 0, MAX_HEADER_BYTES)
    header = json.loads(data[:end] if end >= 0 else data)
    if not isinstance(header, dict) or header.get("format") != expected_format:
        return None, None
    if not session_id:
        return header, None
    needle = ("\n" + SESSION_PREFIX + json.dumps(session_id) + ",").encode()
    at = data.find(needle)
    if at < 0:
        return header, None
    line_end = data.find(b"\n", at + 1)
    return header, json.loads(data[at + 1: line_end if line_end >= 0 else len(data)])


def session_files(transcript: str | None, session_id: str | None,
                  published: dict) -> tuple[list[tuple[str, int | None]], str | None]:
    """The session's own files: its main transcript and its subagents/ files, each with the offset of the last
    call the build counted in it (None: none, read it whole); and the main transcript's path as the build
    named it. Files of other sessions are never read, even when the build counted a call of this session in
    one (a resumed session's copies)."""
    if not transcript:
        return [], None
    own = [transcript]
    if session_id:
        try:
            with os.scandir(os.path.join(os.path.dirname(transcript), session_id, "subagents")) as entries:
                own += sorted(entry.path for entry in entries if entry.name.endswith(".jsonl"))
        except OSError:
            pass
    offsets = {path: entry[0] for path, entry in published.items()}
    real = None
    files = []
    for path in own:
        if path not in offsets:
            if real is None:
                real = {os.path.realpath(known): known for known in offsets}
            path = real.get(os.path.realpath(path), path)
        files.append((path, offsets.get(path)))
    return files, files[0][0]


def read_tail(path: str, offset: int | None) -> list[bytes] | None:
    """The file's lines from `offset` (its start when None), at most its last MAX_TAIL_BYTES; None when the
    file is gone, or shorter than the build saw, or has no line at `offset` (rewritten since)."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = offset or 0
            if start > size:
                return None
            cut = size - start > MAX_TAIL_BYTES
            if cut:
                start = size - MAX_TAIL_BYTES
            handle.seek(start)
            data = handle.read(size - start)
    except OSError:
        return None
    if cut:
        data = data[data.find(b"\n") + 1:]  # from the first whole line
    elif offset and not data.startswith(b"{"):
        return None
    return data.split(b"\n")


def read_end(path: str, size: int = CONTEXT_READ_BYTES) -> list[bytes]:
    """The whole lines in the last `size` bytes of `path` (none when it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            end = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, end - size))
            data = handle.read()
    except OSError:
        return []
    return (data if end <= size else data[data.find(b"\n") + 1:]).split(b"\n")


def tail_calls(path: str, lines: list[bytes]) -> tuple[list[dict], tuple[int, str | None] | None]:
    """The API calls in `lines` (top-level assistant lines with usage, not `<synthetic>`), and the context of
    the last main-thread one: (input + cache tokens, model)."""
    calls, context = [], None
    for number, line in enumerate(lines):
        if b'"usage"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:  # a half-written last line, or a corrupt one
            continue
        message = record.get("message") if isinstance(record, dict) and record.get("type") == "assistant" else None
        usage = message.get("usage") if isinstance(message, dict) else None
        if not isinstance(usage, dict) or message.get("model") == "<synthetic>":
            continue
        counts = [usage.get(name) for name in ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                                               "cache_read_input_tokens")]
        if all(count is None for count in counts):
            continue
        i, o, cc, cr = (count if isinstance(count, int) else 0 for count in counts)
        one_hour = (usage.get("cache_creation") or {}).get("ephemeral_1h_input_tokens") \
            if isinstance(usage.get("cache_creation"), dict) else None
        calls.append({
            "key": call_key(message.get("id"), record.get("requestId")) or f"{path}#{number}",
            "ts": parse_time_us(record.get("timestamp")), "model": message.get("model"),
            "tokens": (i, o, cc, one_hour if isinstance(one_hour, int) else 0, cr), "total": i + o + cc + cr,
            "fast": usage.get("speed") == "fast",
        })
        if not record.get("isSidechain"):
            context = (i + cc + cr, message.get("model"))
    return calls, context


class Totals:
    """The session's, today's and the block's cost: the published ones, plus the calls written since."""

    def __init__(self, header: dict, session: dict | None, now_us: int) -> None:
        self.session = session["cost"] if session else 0.0
        midnight = time.localtime(now_us / 1e6)
        self.day_start = int(time.mktime((*midnight[:3], 0, 0, 0, 0, 0, -1)) * 1_000_000)
        self.day_end = int(time.mktime((*midnight[:2], midnight[2] + 1, 0, 0, 0, 0, 0, -1)) * 1_000_000)
        self.today = sum(q[1] for q in header.get("quarter_hours") or () if self.day_start <= q[0] < self.day_end)
        self.block_us = header.get("block_us") or 5 * HOUR_US
        block = header.get("block")
        self.block = dict(zip(BLOCK_FIELDS, block)) if block else None

    def add(self, ts: int | None, cost: float, new_call: bool) -> None:
        """A call (or, `new_call` False, a larger copy of a counted one: the difference) at `ts`."""
        self.session += cost
        if ts is None:
            return
        if self.day_start <= ts < self.day_end:
            self.today += cost
        block = self.block
        if new_call and (block is None or ts - block["start_us"] > self.block_us
                         or ts - block["last_call_us"] > self.block_us):
            self.block = {"start_us": ts - ts % HOUR_US, "first_call_us": ts, "last_call_us": ts, "cost": cost}
        elif block is not None and block["start_us"] <= ts:
            block["cost"] += cost
            block["last_call_us"] = max(block["last_call_us"], ts)


def new_calls(header: dict, session: dict | None, files: list[tuple[str, int | None]],
              transcript: str | None) -> tuple[list[tuple], tuple[int, str | None] | None]:
    """What the session's files hold beyond what the build counted, in time order, as (time, cost, tokens, model,
    new_call) (`new_call` False: a later, larger copy of a counted call, its cost and tokens the difference); and
    the context of the main transcript's last call. The statusline adds them to its totals, the guard to the
    budgets (agent_side/guard.py)."""
    counted: dict[str, list] = {}
    for _, keys in (session or {}).get("files", {}).values():
        counted.update(keys)
    built_through = header.get("built_through")
    prices, multiplier = header.get("prices") or {}, header.get("fast_multiplier", 2.0)
    best: dict[str, tuple[dict, bool]] = {}
    context = None
    for path, offset in files:
        lines = read_tail(path, offset)
        if lines is None:
            continue
        calls, last = tail_calls(path, lines)
        if path == transcript and last is not None:
            context = last
        for call in calls:
            if call["key"] not in best or call["total"] > best[call["key"]][0]["total"]:
                best[call["key"]] = (call, offset is not None)
    found = []
    for key, (call, known_file) in sorted(best.items(), key=lambda item: item[1][0]["ts"] or 0):
        cost = call_cost(prices.get(call["model"]), call["ts"] or 0, *call["tokens"], call["fast"], multiplier) or 0.0
        if key in counted:
            total, counted_cost = counted[key]
            if call["total"] > total:  # a later, larger copy of a counted call replaces it
                found.append((call["ts"], cost - (counted_cost or 0.0), call["total"] - total, call["model"], False))
        elif known_file or built_through is None or (call["ts"] is not None and call["ts"] > built_through):
            found.append((call["ts"], cost, call["total"], call["model"], True))
        # else: a copy of a call the build counted in another session (a resumed session's first lines)
    return found, context


def money(value: float) -> str:
    return f"${value:.2f}"


def status_line(payload: bytes, published_path: str | None, now_us: int | None = None,
                machine: str | None = None) -> str:
    """`machine`: the machine.id this runs on (a budget's machine filter), else the published file's (the writer's,
    which is this machine's on the single file)."""
    now_us = now_us if now_us is not None else time.time_ns() // 1000
    try:
        hook = json.loads(payload) if payload.strip() else {}
    except ValueError:
        hook = {}
    hook = hook if isinstance(hook, dict) else {}
    model = hook.get("model") if isinstance(hook.get("model"), dict) else {"id": hook.get("model")}
    session_id = hook.get("session_id") if isinstance(hook.get("session_id"), str) else None
    transcript = hook.get("transcript_path") if isinstance(hook.get("transcript_path"), str) else None
    window = hook.get("context_window") if isinstance(hook.get("context_window"), dict) else {}

    header, session = read_published(published_path, session_id) if published_path else (None, None)
    totals = Totals(header, session, now_us) if header else None
    this_session = totals is not None and session_id is not None and (session is not None or transcript is not None)
    calls: list[tuple] = []
    if this_session:
        files, transcript = session_files(transcript, session_id, (session or {}).get("files", {}))
        calls, context = new_calls(header, session, files, transcript)
        for ts, cost, _, _, new_call in calls:
            totals.add(ts, cost, new_call=new_call)
    else:  # no session to add to: the context only, from the transcript's end
        context = tail_calls(transcript, read_end(transcript))[1] if transcript else None
    if context is None and session and session.get("context"):
        context = tuple(session["context"])
    current = window.get("current_usage") if isinstance(window.get("current_usage"), dict) else None
    if context is None and current:
        context = (sum(current.get(k) or 0 for k in ("input_tokens", "cache_creation_input_tokens",
                                                      "cache_read_input_tokens")), None)

    label = next((name for name in (model.get("display_name"), model.get("id"), context and context[1])
                  if isinstance(name, str) and name), "Claude")
    size = window.get("context_window_size")
    size = size if isinstance(size, int) and size > 0 else DEFAULT_CONTEXT_WINDOW
    brain = f"{context[0]:,} ({int(context[0] / size * 100 + 0.5)}%)" if context else "N/A"  # JS Math.round, as ccusage
    if totals is None:
        return f"🤖 {label} | 💰 no star-pipeline data yet (run star-pipeline build) | 🧠 {brain}"
    session_text = money(totals.session) if this_session else "N/A"
    block, block_text, burn = totals.block, "No active block", ""
    if block and now_us - block["last_call_us"] < totals.block_us and now_us < block["start_us"] + totals.block_us:
        left = round((block["start_us"] + totals.block_us - now_us) / 60e6)
        block_text = f"{money(block['cost'])} block ({f'{left // 60}h {left % 60}m' if left >= 60 else f'{left}m'} left)"
        minutes = (block["last_call_us"] - block["first_call_us"]) / 60e6
        if minutes > 0:
            burn = f" | 🔥 {money(block['cost'] / minutes * 60)}/hr"
    budget = tightest_budget(published_path, hook, session_id, calls, now_us, machine)
    return (f"🤖 {label} | 💰 {session_text} session / {money(totals.today)} today / {block_text}{burn} | 🧠 {brain}"
            + (f" | 💸 {budget}" if budget else ""))


def tightest_budget(published_path: str, hook: dict, session_id: str | None, calls: list[tuple],
                    now_us: int, machine: str | None = None) -> str | None:
    """`82% of daily $20`: the budget that applies to the session (storage/budgets_file.py `applies`) with the
    largest share of its limit used, counting the calls written since the build; None without budgets (or without
    the budgets file, or with a broken one: the status line goes on without it)."""
    workspace = hook.get("workspace") if isinstance(hook.get("workspace"), dict) else {}
    cwd = hook.get("cwd") if isinstance(hook.get("cwd"), str) else workspace.get("current_dir")
    try:
        header, line = read_published(beside_statusline_file(published_path), session_id, BUDGETS_FORMAT)
        if header is None:
            return None
        used = []
        for state in header.get("budgets") or ():
            if applies(state, cwd if isinstance(cwd, str) else None, machine or header.get("machine")):
                usd, tokens, _ = current_use(state, (line or {}).get("spent"), calls, now_us)
                used.append((used_fraction(state, usd, tokens), state))
    except (ValueError, KeyError, TypeError, ZeroDivisionError):
        return None
    if not used:
        return None
    fraction, state = max(used, key=lambda pair: pair[0])
    return f"{int(fraction * 100)}% of {state['name']} {limit_text(state)}"  # rounded down: 100% means reached


def run_statusline(published_path: str | None = None, stdin=None, out=None, machine: str | None = None) -> int:
    """Print the status line for the payload on stdin. Always returns 0. `machine`: this machine's machine.id (the
    budgets' machine filters), else the config's when it is read, else the published file's."""
    out = out or sys.stdout
    try:
        if published_path is None:
            from star_pipeline.config import load_settings  # slower path: reads the YAML config
            from star_pipeline.storage.statusline_file import statusline_file

            settings = load_settings()
            published_path = str(statusline_file(settings.published_anchor))
            machine = machine or settings.machine_id
        payload = (stdin or sys.stdin.buffer).read()
        line = status_line(payload, published_path, machine=machine)
    except BaseException as exc:  # never in Claude Code's way
        log_error(os.path.dirname(published_path) if published_path else None, utc_now_iso(), exc, ERROR_LOG)
        line = "🤖 Claude | 💰 star-pipeline statusline failed (see statusline-errors.log)"
    try:
        out.write(line + "\n")
        out.flush()
    except BaseException:
        pass
    return 0
