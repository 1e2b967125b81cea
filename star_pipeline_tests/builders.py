"""The tests' transcript builders: records as Claude Code, Codex and our hook spool write them.

Field names and nesting follow ../shared/FORMATS.md; every test writes its own small files
with these (the corpus in ../shared is read only by the tests that say so).
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from star_pipeline_tests.conftest import Sandbox

T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=timezone.utc)
SESSION = "5c0375b4-57a5-4f26-b12d-d022ee4e51b7"
CODEX_SESSION = "0199a3c1-7e2b-7c50-9d4e-2f1a6b8c9d0e"

_ids = itertools.count(1)


CWD = "/home/u/proj"
SLUG = "-home-u-proj"
OPUS = "claude-opus-4-6"

def at(seconds: float) -> str:
    """ISO UTC timestamp with milliseconds, `seconds` after 2026-03-01T10:00:00Z (as the agents write it)."""
    moment = T0 + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_uuid() -> str:
    return f"5f0c1a2e-0000-4000-8000-{next(_ids):012d}"


# -- Claude Code records -----------------------------------------------------
def claude(kind: str, session: str, ts: float, *, version: str = "2.1.39", sidechain: bool = False,
           agent_id: str | None = None, uuid: str | None = None, parent: str | None = None, **extra) -> dict:
    """A Claude Code envelope line (user, assistant, progress, system ...)."""
    record = {
        "parentUuid": parent,
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": CWD,
        "sessionId": session,
        "version": version,
        "gitBranch": "main",
    }
    if agent_id is not None:
        record["agentId"] = agent_id
    record.update({"type": kind, "uuid": uuid or new_uuid(), "timestamp": at(ts)})
    record.update(extra)
    return record


def usage(inp: int, out: int, cc: int = 0, cr: int = 0, cc_1h: int = 0) -> dict:
    return {
        "input_tokens": inp,
        "cache_creation_input_tokens": cc,
        "cache_read_input_tokens": cr,
        "output_tokens": out,
        "cache_creation": {"ephemeral_5m_input_tokens": cc - cc_1h, "ephemeral_1h_input_tokens": cc_1h},
        "service_tier": "standard",
    }


def assistant(session: str, ts: float, msg_id: str, req_id: str | None, tokens: dict, *, content: list | None = None,
              model: str = OPUS, **kw) -> dict:
    message = {
        "model": model,
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "content": content if content is not None else [{"type": "text", "text": "Done."}],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": tokens,
    }
    extra = {"requestId": req_id} if req_id is not None else {}
    return claude("assistant", session, ts, message=message, **extra, **kw)


def user(session: str, ts: float, content: str | list = "Please fix the failing test.", **kw) -> dict:
    return claude("user", session, ts, message={"role": "user", "content": content}, **kw)


def tool_use(call_id: str, name: str, **tool_input) -> dict:
    return {"type": "tool_use", "id": call_id, "name": name, "input": tool_input}


def tool_result(call_id: str, text: str = "ok", is_error: bool = False) -> dict:
    return {"tool_use_id": call_id, "type": "tool_result", "content": text, "is_error": is_error}


def encode(record: dict | bytes) -> bytes:
    if isinstance(record, bytes):
        return record
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def write_jsonl(path: Path, records: list, *, append: bool = False) -> Path:
    """Write records (dicts, or raw bytes for corrupt lines) one per line. Claude records without an
    explicit parentUuid are chained to the record before them, as in a real transcript."""
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = None
    for record in records:
        if isinstance(record, dict) and "parentUuid" in record:
            if record["parentUuid"] is None and previous is not None:
                record["parentUuid"] = previous
            previous = record["uuid"]
    with open(path, "ab" if append else "wb") as handle:
        handle.write(b"".join(encode(r) + b"\n" for r in records))
    return path


def session_file(sandbox: Sandbox, session: str) -> Path:
    return sandbox.claude_root / SLUG / f"{session}.jsonl"


# -- Codex records -------------------------------------------------------------
def cx(ts: float, kind: str, payload: dict) -> dict:
    return {"timestamp": at(ts), "type": kind, "payload": payload}


def session_meta(session: str, ts: float = 0) -> dict:
    return cx(ts, "session_meta", {
        "id": session, "timestamp": at(ts), "cwd": CWD, "originator": "codex_cli_rs", "cli_version": "0.63.0",
        "instructions": None, "source": "cli", "model_provider": "openai",
        "git": {"commit_hash": "3f2a9c1", "branch": "main", "repository_url": "https://github.com/u/proj.git"},
    })


def turn_context(ts: float, model: str) -> dict:
    return cx(ts, "turn_context", {
        "turn_id": new_uuid(), "cwd": CWD, "approval_policy": "on-request",
        "sandbox_policy": {"type": "workspace-write"}, "model": model, "effort": "medium", "summary": "auto",
    })


def token_totals(inp: int, cached: int, out: int, reasoning: int) -> dict:
    return {"input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out,
            "reasoning_output_tokens": reasoning, "total_tokens": inp + out}


def token_count(ts: float, total: tuple | None, last: tuple | None = None) -> dict:
    """event_msg/token_count; `total=None` is a rate-limit-only event (info null)."""
    info = None if total is None else {
        "total_token_usage": token_totals(*total),
        "last_token_usage": token_totals(*(last or total)),
        "model_context_window": 258400,
    }
    return cx(ts, "event_msg", {"type": "token_count", "info": info,
                                "rate_limits": {"primary": {"used_percent": 4.0, "window_minutes": 300}}})


def codex_file(sandbox: Sandbox, session: str, day: str = "2026/03/01", stamp: str = "2026-03-01T10-00-00") -> Path:
    return sandbox.codex_root / day / f"rollout-{stamp}-{session}.jsonl"


def copied_into(session: str, record: dict) -> dict:
    """`record` as a resumed session copies it: same uuid, message.id, requestId, timestamp; the new sessionId."""
    return {**json.loads(json.dumps(record)), "sessionId": session}


def write_session(sandbox):
    folder = sandbox.claude_root / "-home-u-p"
    folder.mkdir(parents=True)
    lines = []
    for i in range(3):
        lines.append(
            {
                "type": "assistant",
                "sessionId": "s1",
                "uuid": f"u{i}",
                "parentUuid": f"u{i - 1}" if i else None,
                "timestamp": f"2026-03-01T10:00:0{i}.000Z",
                "requestId": f"req_{i}",
                "message": {
                    "id": f"msg_{i}",
                    "model": "claude-sonnet-4-6",
                    "role": "assistant",
                    "content": [{"type": "text", "text": "hi"}],
                    "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100},
                },
            }
        )
    (folder / "s1.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


def claude_line(n: int, *, kind: str = "user", text: str = "hello", session: str = SESSION, **extra) -> bytes:
    """One Claude Code 2.1 transcript record (without its newline)."""
    record = {
        "parentUuid": None if n == 1 else f"00000000-0000-4000-8000-{n - 1:012d}",
        "isSidechain": False,
        "userType": "external",
        "cwd": "/home/u/demo",
        "sessionId": session,
        "version": "2.1.39",
        "gitBranch": "main",
        "type": kind,
        "uuid": f"00000000-0000-4000-8000-{n:012d}",
        "timestamp": f"2026-01-01T00:00:{n % 60:02d}.000Z",
    }
    if kind == "assistant":
        record["requestId"] = f"req_011C{n:020d}"
        record["message"] = {
            "model": "claude-opus-4-8",
            "id": f"msg_01{n:022d}",
            "role": "assistant",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 12, "cache_read_input_tokens": 0, "output_tokens": 7},
        }
    else:
        record["message"] = {"role": "user", "content": text}
    record.update(extra)
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def codex_line(n: int, text: str = "ok") -> bytes:
    if n == 1:
        payload = {"id": CODEX_SESSION, "cwd": "/home/u/demo", "originator": "codex_cli_rs", "cli_version": "0.40.0"}
        kind = "session_meta"
    else:
        payload = {"type": "agent_message", "message": text}
        kind = "event_msg"
    record = {"timestamp": f"2026-01-01T00:00:{n:02d}.000Z", "type": kind, "payload": payload}
    return json.dumps(record, separators=(",", ":")).encode()


# -- Qwen Code, Kimi CLI, GitHub Copilot CLI (../shared/FORMATS-agents.md) ---------------------------
def qwen(kind: str, session: str, ts: float, **fields) -> dict:
    """A Qwen Code chat line: user | assistant | tool_result | system."""
    return {"uuid": new_uuid(), "parentUuid": None, "sessionId": session, "timestamp": at(ts), "type": kind,
            "cwd": CWD, "version": "0.12.6", "gitBranch": "main", **fields}


def qwen_assistant(session: str, ts: float, prompt: int, candidates: int, cached: int = 0, thoughts: int = 0,
                   text: str = "Done.") -> dict:
    return qwen("assistant", session, ts, model="coder-model",
                message={"role": "model", "parts": [{"text": text}]},
                usageMetadata={"promptTokenCount": prompt, "candidatesTokenCount": candidates,
                               "thoughtsTokenCount": thoughts, "totalTokenCount": prompt + candidates,
                               "cachedContentTokenCount": cached})


def qwen_telemetry(session: str, ts: float, response_id: str, prompt: int, candidates: int, cached: int = 0,
                   thoughts: int = 0) -> dict:
    """The ui_telemetry line Qwen writes for every API call (inclusive counts, like usageMetadata)."""
    return qwen("system", session, ts, subtype="ui_telemetry", systemPayload={"uiEvent": {
        "event.name": "qwen-code.api_response", "event.timestamp": at(ts), "response_id": response_id,
        "model": "coder-model", "status_code": 200, "duration_ms": 900, "input_token_count": prompt,
        "output_token_count": candidates, "cached_content_token_count": cached, "thoughts_token_count": thoughts,
        "tool_token_count": 0, "total_token_count": prompt + candidates, "prompt_id": f"{session}########0"}})


def qwen_file(sandbox: Sandbox, session: str) -> Path:
    return sandbox.home / ".qwen" / "projects" / "-home-u-proj" / "chats" / f"{session}.jsonl"


def kimi_event(ts: float, kind: str, payload: dict) -> dict:
    """A Kimi CLI wire.jsonl line: epoch seconds, {type, payload}."""
    return {"timestamp": T0.timestamp() + ts, "message": {"type": kind, "payload": payload}}


def kimi_status(ts: float, message_id: str, input_other: int, output: int, cache_read: int = 0) -> dict:
    return kimi_event(ts, "StatusUpdate", {"context_usage": 0.04, "context_tokens": input_other + cache_read,
                                           "max_context_tokens": 262144, "message_id": message_id,
                                           "token_usage": {"input_other": input_other, "output": output,
                                                           "input_cache_read": cache_read, "input_cache_creation": 0}})


def kimi_subagent(ts: float, task_call_id: str, event: dict) -> dict:
    """`event` (a kimi_event) as a sub-agent's: wrapped in SubagentEvent."""
    return kimi_event(ts, "SubagentEvent", {"task_tool_call_id": task_call_id, "event": event["message"]})


def kimi_file(sandbox: Sandbox, session: str) -> Path:
    return sandbox.home / ".kimi" / "sessions" / "697a0ebec3147bb421a9dd6a0531906f" / session / "wire.jsonl"


def copilot_event(ts: float, kind: str, data: dict) -> dict:
    """A GitHub Copilot CLI events.jsonl line."""
    return {"type": kind, "data": data, "id": new_uuid(), "timestamp": at(ts), "parentId": None}


def copilot_shutdown(ts: float, metrics: dict) -> dict:
    """session.shutdown with modelMetrics: model -> (input incl. cache, output incl. reasoning, cache read,
    cache write, reasoning)."""
    return copilot_event(ts, "session.shutdown", {"shutdownType": "routine", "currentModel": next(iter(metrics), None),
        "modelMetrics": {model: {"requests": {"count": 1, "cost": 1}, "usage": {
            "inputTokens": i, "outputTokens": o, "cacheReadTokens": cr, "cacheWriteTokens": cw, "reasoningTokens": r}}
            for model, (i, o, cr, cw, r) in metrics.items()}})


def copilot_file(sandbox: Sandbox, session: str) -> Path:
    return sandbox.home / ".copilot" / "session-state" / session / "events.jsonl"


def amp_message(n: int, role: str, content: list, *, usage: dict | None = None) -> dict:
    """An Amp thread message; `usage` as amp_usage gives it (assistant messages)."""
    message = {"role": role, "messageId": n, "content": content, "state": {"type": "complete"}}
    return message | ({"usage": usage} if usage else {})


def amp_usage(ts: float, inp: int, out: int, cc: int = 0, cr: int = 0, model: str = OPUS) -> dict:
    """An assistant message's usage: inputTokens exclude cache, totalInputTokens includes it (never added)."""
    return {"model": model, "maxInputTokens": 168000, "inputTokens": inp, "outputTokens": out,
            "cacheCreationInputTokens": cc, "cacheReadInputTokens": cr, "totalInputTokens": inp + cc + cr,
            "timestamp": at(ts)}


def amp_ledger_event(ts: float, operation: str, model: str, inp: int, out: int, to_message: int) -> dict:
    return {"id": new_uuid(), "timestamp": at(ts), "model": model, "credits": 0.5, "tokens": {"input": inp, "output": out},
            "operationType": operation, "fromMessageId": 0, "toMessageId": to_message}


def write_amp_thread(path: Path, thread_id: str, messages: list, *, ledger: list | None = None, v: int = 1) -> Path:
    """A whole thread, written as Amp writes it: indented JSON, rewritten whole on every change."""
    thread = {"v": v, "id": thread_id, "created": int(T0.timestamp() * 1000), "messages": messages,
              "nextMessageId": len(messages), "agentMode": "smart",
              "env": {"initial": {"trees": [{"displayName": "proj", "uri": f"file://{CWD}"}]}}, "title": "Fix the test"}
    if ledger is not None:
        thread["usageLedger"] = {"events": ledger}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(thread, indent=2))
    return path


def amp_file(sandbox: Sandbox, thread_id: str) -> Path:
    return sandbox.home / ".local" / "share" / "amp" / "threads" / f"{thread_id}.json"


# -- Gemini CLI ----------------------------------------------------------------
GEMINI_PROJECT = "f528f00f72f21423df709bb5104dfe181c28474fac473cf1028c3bfd64be534a"


def gemini_message(ts: float, kind: str, content, *, id: str | None = None, model: str | None = None,
                   tokens: tuple | None = None, **extra) -> dict:
    """A Gemini CLI chat message (type user|gemini|info); `tokens` = (input incl. cached, output, cached, thoughts, tool)."""
    message = {"id": id or new_uuid(), "timestamp": at(ts), "type": kind, "content": content}
    if model:
        message["model"] = model
    if tokens:
        inp, out, cached, thoughts, tool = tokens
        message["tokens"] = {"input": inp, "output": out, "cached": cached, "thoughts": thoughts, "tool": tool,
                             "total": inp + out + thoughts + tool}
    return message | extra


def gemini_tool_call(name: str, args: dict, status: str = "success", output: str = "ok") -> dict:
    call_id = f"{name}-{next(_ids)}-0"
    response = {"output": output} if status == "success" else {"error": output}
    return {"id": call_id, "name": name, "args": args, "status": status, "timestamp": at(1),
            "result": [{"functionResponse": {"id": call_id, "name": name, "response": response}}]}


def write_gemini_chat(path: Path, session: str, messages: list, *, kind: str | None = None) -> Path:
    """A whole session-*.json chat, as Gemini CLI writes it: indented JSON, rewritten whole on every change."""
    chat = {"sessionId": session, "projectHash": GEMINI_PROJECT, "startTime": at(0), "lastUpdated": at(len(messages)),
            "messages": messages}
    if kind:
        chat["kind"] = kind
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(chat, indent=2))
    return path


def gemini_chats(sandbox: Sandbox) -> Path:
    return sandbox.home / ".gemini" / "tmp" / GEMINI_PROJECT / "chats"


# -- Factory Droid ---------------------------------------------------------------
def droid_message(ts: float, role: str, content: list) -> dict:
    return {"type": "message", "id": new_uuid(), "timestamp": at(ts), "message": {"role": role, "content": content}}


def write_droid_settings(path: Path, model: str, usage: tuple | None, lock_ts: float = 0) -> Path:
    """<id>.settings.json, rewritten in place; `usage` = the running total (input, output, cache write, cache read,
    thinking)."""
    settings = {"assistantActiveTimeMs": 100, "model": model, "reasoningEffort": "off", "autonomyMode": "auto-low",
                "providerLock": "openai", "providerLockTimestamp": at(lock_ts)}
    if usage:
        inp, out, cw, cr, thinking = usage
        settings["tokenUsage"] = {"inputTokens": inp, "outputTokens": out, "cacheCreationTokens": cw,
                                  "cacheReadTokens": cr, "thinkingTokens": thinking}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2))
    return path


def droid_folder(sandbox: Sandbox) -> Path:
    return sandbox.home / ".factory" / "sessions" / SLUG


# -- OpenCode and Goose: SQLite databases ------------------------------------------------
OPENCODE_SCHEMA = """
CREATE TABLE project (id TEXT PRIMARY KEY, worktree TEXT, time_created INTEGER);
CREATE TABLE session (id TEXT PRIMARY KEY, project_id TEXT, parent_id TEXT, slug TEXT, directory TEXT, title TEXT,
    version TEXT, time_created INTEGER, time_updated INTEGER, tokens_input INTEGER, tokens_output INTEGER);
CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT, time_created INTEGER, time_updated INTEGER, data TEXT);
CREATE TABLE part (id TEXT PRIMARY KEY, message_id TEXT, session_id TEXT, time_created INTEGER, time_updated INTEGER,
    data TEXT);
CREATE TABLE event (id TEXT PRIMARY KEY, aggregate_id TEXT, seq INTEGER, type TEXT, data TEXT);
CREATE TABLE credential (id TEXT PRIMARY KEY, secret TEXT);
"""


def epoch_ms(seconds: float) -> int:
    return int((T0 + timedelta(seconds=seconds)).timestamp() * 1000)


def opencode_assistant(ts: float, model: str, tokens: tuple | None, *, parent: str = "msg_user") -> dict:
    """An assistant message's JSON (message.data); `tokens` = (input without cache, output, reasoning, cache read,
    cache write)."""
    data = {"parentID": parent, "role": "assistant", "mode": "build", "agent": "build",
            "path": {"cwd": CWD, "root": "/"}, "cost": 0.001, "modelID": model, "providerID": "opencode",
            "time": {"created": epoch_ms(ts), "completed": epoch_ms(ts + 1)}, "finish": "stop"}
    if tokens:
        inp, out, reasoning, read, write = tokens
        data["tokens"] = {"total": inp + out + reasoning + read + write, "input": inp, "output": out,
                          "reasoning": reasoning, "cache": {"read": read, "write": write}}
    return data


def opencode_db(path: Path):
    """A new OpenCode database (its tables as opencode 1.2 has them, trimmed), in WAL mode as OpenCode keeps it;
    the connection stays open, as the agent's does."""
    import sqlite3

    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")  # what it writes stays in the WAL, as in a live database
    connection.executescript(OPENCODE_SCHEMA)
    return connection


def opencode_folder(sandbox: Sandbox) -> Path:
    return sandbox.home / ".local" / "share" / "opencode"


# -- Cline, Roo Code, Kilo Code -------------------------------------------------
CLINE_TASK = "1772359200000"  # a task id: Date.now() at its creation (2026-03-01T10:00:00Z)
CLINE_MODEL = "anthropic/claude-sonnet-4.5"


def cline_say(ts: float, say: str, text: str | None = None, *, model: str | None = CLINE_MODEL, **extra) -> dict:
    """A `say` message of ui_messages.json, `ts` seconds after T0; `model`: its modelInfo (None: none, as Cline
    before late 2025 wrote)."""
    message = {"ts": epoch_ms(ts), "type": "say", "say": say, **({"text": text} if text is not None else {}), **extra}
    if model:
        message["modelInfo"] = {"providerId": "cline", "modelId": model, "mode": "act"}
    message["conversationHistoryIndex"] = -1
    return message


def cline_ask(ts: float, ask: str, text: str = "", **extra) -> dict:
    return {"ts": epoch_ms(ts), "type": "ask", "ask": ask, "text": text, **extra}


def cline_request(ts: float, tokens: tuple | None = None, cost: float | None = None, *, say: str = "api_req_started",
                  cwd: str = CWD, model: str | None = CLINE_MODEL, **fields) -> dict:
    """An api_req_started message (or `say` deleted_api_reqs); `tokens` = (tokensIn, tokensOut, cacheWrites,
    cacheReads), None for a request still streaming (only its request text)."""
    body = {"request": f"<task>\nfix it\n</task>\n\n# Current Working Directory ({cwd}) Files\nmain.py"}
    if tokens is not None:
        body |= dict(zip(("tokensIn", "tokensOut", "cacheWrites", "cacheReads"), tokens)) | {"cost": cost}
    if say == "deleted_api_reqs":
        body.pop("request")
    return cline_say(ts, say, json.dumps(body | fields), model=model)


def write_cline_task(path: Path, messages: list, *, indent: int | None = None) -> Path:
    """ui_messages.json as Cline writes it: the whole array, compact, rewritten on every change."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(messages, indent=indent, separators=None if indent else (",", ":")))
    return path


def cline_task_file(sandbox: Sandbox, task: str = CLINE_TASK, *, extension: str = "saoudrizwan.claude-dev",
                    user_dir: str = ".config/Code") -> Path:
    """A task's ui_messages.json under an editor's user dir (`user_dir` under HOME: `.config/<App>` on Linux,
    `Library/Application Support/<App>` on macOS)."""
    return sandbox.home / user_dir / "User" / "globalStorage" / extension / "tasks" / task / "ui_messages.json"


# -- pi and OpenClaw -------------------------------------------------------------
PI_SESSION = "019da8eb-3ac5-718a-87b3-276b77c76497"


def pi_entry(n: int, ts: float, kind: str, **fields) -> dict:
    return {"type": kind, "id": f"{n:08x}", "parentId": f"{n - 1:08x}" if n > 1 else None, "timestamp": at(ts), **fields}


def pi_reply(n: int, ts: float, model: str, tokens: tuple, cost: float, *, content: list | None = None,
             stop: str = "stop") -> dict:
    """An assistant message entry; `tokens` = (input without cache, output, cache read, cache write)."""
    inp, out, read, write = tokens
    return pi_entry(n, ts, "message", message={
        "role": "assistant", "content": content or [{"type": "text", "text": "Done."}], "api": "openai-completions",
        "provider": "openrouter", "model": model,
        "usage": {"input": inp, "output": out, "cacheRead": read, "cacheWrite": write, "totalTokens": inp + out + read + write,
                  "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0, "total": cost}},
        "stopReason": stop, "timestamp": epoch_ms(ts)})


def pi_session_file(sandbox: Sandbox, session: str = PI_SESSION) -> Path:
    return sandbox.home / ".pi" / "agent" / "sessions" / f"-{SLUG}--" / f"2026-03-01T10-00-00-000Z_{session}.jsonl"


def pi_header(session: str = PI_SESSION) -> dict:
    return {"type": "session", "version": 3, "id": session, "timestamp": at(0), "cwd": CWD}
