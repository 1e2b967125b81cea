"""Tool calls and their outcomes, per agent and tool name, read straight from the agents' files: the reference the
warehouse's normalized_tool_calls is held to (sources/test_tool_outcomes_corpus.py), written apart from it (plain
Python and json/sqlite3, no warehouse code), as the token references beside the corpus are.

## Rules

A call is counted once per agent and call id, whichever file or copy holds it. Its outcome comes from its result
(the first one read for the id); a call with no result is `pending`. The outcome is one of:

| status | meaning |
|---|---|
| ok | the file says it succeeded (a zero exit code, a false error flag, a success status) |
| failed | a non-zero exit code, a true error flag, an error status, or failure wording |
| rejected | the user (or a permission rule) declined it |
| interrupted | it was stopped before it finished |
| unknown | a result came back, but the format records no outcome for it (never counted as ok) |

`reason` says how the status was told: `exit code`, `flag`, `status field`, or the wording it was read from.

| agent | calls | result and outcome |
|---|---|---|
| claude_code | `tool_use` blocks of every line but `progress` | `tool_result` `is_error` (absent: false); an error whose text begins "The user doesn't want to proceed with this tool use" (rejected by user) or "Permission for this tool use was denied" (permission denied) is rejected; "[Request interrupted by user", a `toolUseResult.interrupted`, "<tool_use_error>Cancelled: parallel tool call" or "<tool_use_error>Sibling tool call errored" (cancelled: a parallel call failed) is interrupted; a failed result's "Exit code N" is its exit code |
| codex | `function_call`, `custom_tool_call` (envelope or legacy) | the output text: JSON `{"output", "metadata": {"exit_code", "duration_seconds"}}`, or a header before its "Output:" line with `Exit code: N` / `Process exited with code N` and `Wall time: S seconds`; without a code, its first words: "failed in sandbox", "execution error", "error:", "apply_patch verification failed", "command timed out", "exec_command failed", "write_stdin failed", "failed to parse" (failed), "... rejected by user" (rejected), "aborted" (interrupted), "Plan updated", "Success. Updated the following files" (ok); anything else unknown |
| gemini | `toolCalls[]` of every message | `status` success / error / cancelled (rejected); a success whose output has a line `Exit Code: N` takes it (non-zero: failed) |
| copilot | `assistant.message` `toolRequests`; history files' `tool_calls` | `tool.execution_complete` `success` (false: failed, or rejected for error.code rejected/denied); a success ending `<exited with exit code N>` takes it; history `tool` messages: unknown |
| opencode | `tool` parts (database rows and legacy files), by part id | `state.status` completed / error (an error "... rejected permission ..." is rejected, "...aborted..." interrupted); a completed part's `metadata.exit` non-zero, or present and null (the command was killed), is failed; running or pending parts have no result |
| kimi | `ToolCall` events of wire.jsonl, nested ones included | `ToolResult` `return_value.is_error` ("...rejected by the user..." rejected); "Command failed with exit code: N" gives the code |
| qwen | `functionCall` parts | `tool_result` line's `toolCallResult.status` success / error / cancelled (rejected); a success whose output has `Exit Code: N` takes it |
| amp | `tool_use` blocks | `tool_result` `run.status` done / error / rejected-by-user / cancelled (interrupted); in-progress is no result; a done result's `exitCode` non-zero is failed |
| droid | `tool_use` blocks | `tool_result` `is_error` where present, else unknown |
| goose | `toolRequest` items of messages | `toolResponse` `toolResult.status` success / error |
| pi | `toolCall` blocks of assistant messages (pi and OpenClaw session files) | `toolResult` `isError` (not a boolean: unknown); an error whose text ends "Command exited with code N" takes N; one that is "Operation aborted" or ends "Command aborted" is interrupted; after every file is read, a call of an assistant message whose `stopReason` is "aborted" and that has no result is interrupted ("reply aborted") |
| crush | `tool_call` parts of messages rows (crush.db read with its -wal, every `.crush/crush.db` under HOME) | `tool_result` part's `is_error`: true is failed, but "Permission denied" / "User denied permission" (rejected: the finish reason of its reply is permission_denied) and "Tool execution canceled by user" (interrupted: canceled); false is ok, but a bash result whose `metadata.output` ends with a line "Exit code N" is failed with N |
| cline, roo, kilo | `tool` and `command` messages (say or ask) of ui_messages.json, by `ts`; a command's tool is execute_command, a tool's the `tool` of its JSON text | none is tied to a call: a message not `partial` has an unknown outcome, a partial one no result |

Durations are not part of the reference (the warehouse's come from the same fields: tests check them on fixtures).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path

STATUSES = ("ok", "failed", "rejected", "interrupted", "unknown", "pending")


class Calls:
    """Calls of one agent: id -> tool name, and id -> (status, reason, exit code) of its first result."""

    def __init__(self) -> None:
        self.tools: dict[str, str] = {}
        self.outcomes: dict[str, tuple[str, str | None, int | None]] = {}

    def call(self, call_id, name) -> None:
        if call_id is not None and call_id not in self.tools:
            self.tools[call_id] = name

    def result(self, call_id, status, reason=None, exit_code=None) -> None:
        if call_id is not None and call_id not in self.outcomes:
            self.outcomes[call_id] = ("unknown" if status is None else status, reason if status else None, exit_code)

    def summary(self) -> dict:
        """{"calls": {tool: n}, "status": {(tool, status): n}, "reason": {(tool, status, reason): n} (not ok)}"""
        calls, status, reason = Counter(), Counter(), Counter()
        for call_id, tool in self.tools.items():
            got, why, _ = self.outcomes.get(call_id, ("pending", None, None))
            calls[tool] += 1
            status[(tool, got)] += 1
            if got not in ("ok", "pending", "unknown"):
                reason[(tool, got, why)] += 1
        return {"calls": dict(calls), "status": dict(status), "reason": dict(reason)}


def _lines(path: str):
    with open(path, "rb") as handle:
        for raw in handle:
            try:
                value = json.loads(raw)
            except ValueError:
                continue
            if isinstance(value, dict):
                yield value


def _int(pattern: str, text) -> int | None:
    match = re.search(pattern, text, re.M) if isinstance(text, str) else None
    return int(match.group(1)) if match else None


def _by_code(code: int) -> str:
    return "ok" if code == 0 else "failed"


# -- Claude Code ----------------------------------------------------------------------------------------------
CLAUDE_REJECTED = {"The user doesn't want to proceed with this tool use": "rejected by user",
                   "Permission for this tool use was denied": "permission denied"}
CLAUDE_CANCELLED = ("<tool_use_error>Cancelled: parallel tool call", "<tool_use_error>Sibling tool call errored")


def claude_code(root: Path) -> Calls:
    calls = Calls()
    for path in sorted(glob.glob(str(root / "**" / "*.jsonl"), recursive=True)):
        for line in _lines(path):
            if line.get("type") == "progress":
                continue
            content = (line.get("message") or {}).get("content") if isinstance(line.get("message"), dict) else None
            if not isinstance(content, list):
                continue
            interrupted = isinstance(line.get("toolUseResult"), dict) and line["toolUseResult"].get("interrupted") is True
            for block in content:
                if not isinstance(block, dict):
                    continue
                if block.get("type") == "tool_use":
                    calls.call(block.get("id"), block.get("name"))
                elif block.get("type") == "tool_result":
                    text = block.get("content")
                    if isinstance(text, list):
                        text = next((b.get("text") for b in text if isinstance(b, dict)), None)
                    head = (text or "")[:200] if isinstance(text, str) else ""
                    error = block.get("is_error") is True
                    rejected = next((why for start, why in CLAUDE_REJECTED.items() if head.startswith(start)), None)
                    if rejected:
                        calls.result(block.get("tool_use_id"), "rejected", rejected)
                    elif head.startswith("[Request interrupted by user") or interrupted:
                        calls.result(block.get("tool_use_id"), "interrupted", "interrupted by user")
                    elif head.startswith(CLAUDE_CANCELLED):
                        calls.result(block.get("tool_use_id"), "interrupted", "cancelled: a parallel call failed")
                    else:
                        code = _int(r"^Exit code (-?\d+)", head) if error else None
                        calls.result(block.get("tool_use_id"), "failed" if error else "ok", "flag", code)
    return calls


# -- Codex ----------------------------------------------------------------------------------------------------
CODEX_WORDS = [("failed in sandbox", "failed"), ("execution error", "failed"), ("error:", "failed"),
               ("apply_patch verification failed", "failed"), ("command timed out", "failed"),
               ("exec_command failed", "failed"), ("write_stdin failed", "failed"), ("failed to parse", "failed"),
               ("aborted", "interrupted"), ("plan updated", "ok"), ("success. updated the following files", "ok")]


def codex_outcome(output) -> tuple[str | None, str | None, int | None, int | None]:
    """(status, reason, exit code, duration ms) of one Codex tool output, as the rule in this module's docstring says."""
    text = output if isinstance(output, str) else json.dumps(output)
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict) and isinstance(value.get("metadata"), dict):
            code = value["metadata"].get("exit_code")
            seconds = value["metadata"].get("duration_seconds")
            if isinstance(code, int):
                return _by_code(code), "exit code", code, None if seconds is None else round(seconds * 1000)
    marker = text[:600].find("\nOutput:")
    if marker >= 0:
        header = text[:marker + 1]
        code = _int(r"^(?:Exit code:|Process exited with code) (-?\d+)\s*$", header)
        wall = re.search(r"^Wall time: ([0-9.]+) seconds\s*$", header, re.M)
        if code is not None:
            return _by_code(code), "exit code", code, round(float(wall.group(1)) * 1000) if wall else None
    head = text[:300]
    if re.match(r"[^\n]*rejected by (the )?user", head, re.I):
        return "rejected", "rejected by user", None, None
    start = head.lstrip().lower()
    for words, status in CODEX_WORDS:
        if start.startswith(words):
            return status, words.rstrip(":"), None, None
    return None, None, None, None


def codex(root: Path) -> Calls:
    calls = Calls()
    for path in sorted(glob.glob(str(root / "**" / "*.jsonl"), recursive=True)):
        for line in _lines(path):
            item = line["payload"] if isinstance(line.get("payload"), dict) else line
            kind = item.get("type")
            if kind in ("function_call", "custom_tool_call"):
                calls.call(item.get("call_id"), item.get("name"))
            elif kind in ("function_call_output", "custom_tool_call_output"):
                status, reason, code, _ = codex_outcome(item.get("output"))
                calls.result(item.get("call_id"), status, reason, code)
    return calls


# -- the other agents, under one HOME -------------------------------------------------------------------------
def _exit_code_line(output) -> int | None:
    return _int(r"^Exit Code: (-?\d+)\s*$", output)


def gemini(home: Path) -> Calls:
    calls = Calls()
    for path in sorted(glob.glob(str(home / ".gemini" / "tmp" / "*" / "chats" / "**" / "*.json*"), recursive=True)):
        if path.endswith(".jsonl"):
            messages = list(_lines(path))
        else:
            document = json.loads(Path(path).read_text())
            messages = document.get("messages", []) if isinstance(document, dict) else []
        for message in messages:
            for tool in message.get("toolCalls") or []:
                calls.call(tool.get("id"), tool.get("name"))
                status = tool.get("status")
                if status not in ("success", "error", "cancelled"):
                    continue
                result = tool.get("result") or [{}]
                output = ((result[0] or {}).get("functionResponse") or {}).get("response", {}).get("output")
                code = _exit_code_line(output)
                if status == "success" and code is not None:
                    calls.result(tool.get("id"), _by_code(code), "exit code", code)
                else:
                    calls.result(tool.get("id"), {"success": "ok", "error": "failed"}.get(status, "rejected"),
                                 "status field", code)
    return calls


def copilot(home: Path) -> Calls:
    calls = Calls()
    root = home / ".copilot"
    for path in sorted(glob.glob(str(root / "session-state" / "**" / "*.jsonl"), recursive=True)):
        for event in _lines(path):
            data = event.get("data") or {}
            if event.get("type") == "assistant.message":
                for request in data.get("toolRequests") or []:
                    calls.call(request.get("toolCallId"), request.get("name"))
            elif event.get("type") == "tool.execution_complete" and isinstance(data.get("success"), bool):
                content = (data.get("result") or {}).get("content") if isinstance(data.get("result"), dict) else None
                code = _int(r"<exited with exit code (-?\d+)>", content[-200:]) if isinstance(content, str) else None
                if not data["success"]:
                    rejected = (data.get("error") or {}).get("code") in ("rejected", "denied")
                    calls.result(data.get("toolCallId"), "rejected" if rejected else "failed", "flag", code)
                elif code is not None:
                    calls.result(data.get("toolCallId"), _by_code(code), "exit code", code)
                else:
                    calls.result(data.get("toolCallId"), "ok", "flag")
    for path in sorted(glob.glob(str(root / "history-session-state" / "*.json"))):
        for message in json.loads(Path(path).read_text()).get("chatMessages") or []:
            for call in message.get("tool_calls") or []:
                calls.call(call.get("id"), (call.get("function") or {}).get("name"))
            if message.get("role") == "tool":
                calls.result(message.get("tool_call_id"), None)
    return calls


def _opencode_part(calls: Calls, part_id: str, part: dict) -> None:
    if part.get("type") != "tool":
        return
    calls.call(part_id, part.get("tool"))
    state = part.get("state") or {}
    metadata = state.get("metadata") if isinstance(state.get("metadata"), dict) else {}
    if state.get("status") == "error":
        error = (state.get("error") or "").lower()
        if "rejected permission" in error:
            calls.result(part_id, "rejected", "rejected permission")
        elif "aborted" in error:
            calls.result(part_id, "interrupted", "aborted")
        else:
            calls.result(part_id, "failed", "status field")
    elif state.get("status") == "completed":
        code = metadata.get("exit")
        if isinstance(code, int):
            calls.result(part_id, _by_code(code), "exit code", code)
        elif "exit" in metadata and code is None:
            calls.result(part_id, "failed", "killed (no exit code)")
        else:
            calls.result(part_id, "ok", "status field")


def opencode(home: Path) -> Calls:
    calls = Calls()
    root = home / ".local" / "share" / "opencode"
    database = root / "opencode.db"
    if database.exists():
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            for part_id, data in conn.execute("SELECT id, data FROM part ORDER BY id"):
                _opencode_part(calls, part_id, json.loads(data))
        finally:
            conn.close()
    for path in sorted(glob.glob(str(root / "storage" / "part" / "*" / "*.json"))):
        part = json.loads(Path(path).read_text())
        _opencode_part(calls, part.get("id"), part)
    return calls


def kimi(home: Path) -> Calls:
    calls = Calls()

    def event(message: dict) -> None:
        kind, payload = message.get("type"), message.get("payload") or {}
        if kind == "SubagentEvent":
            event(payload.get("event") or {})
        elif kind == "ToolCall":
            calls.call(payload.get("id"), (payload.get("function") or {}).get("name"))
        elif kind == "ToolResult":
            value = payload.get("return_value") or {}
            if not isinstance(value.get("is_error"), bool):
                calls.result(payload.get("tool_call_id"), None)
                return
            words = value.get("message") or ""
            code = _int(r"^Command failed with exit code: (-?\d+)", words)
            if value["is_error"] and "rejected by the user" in words.lower():
                calls.result(payload.get("tool_call_id"), "rejected", "rejected by user", code)
            else:
                calls.result(payload.get("tool_call_id"), "failed" if value["is_error"] else "ok",
                             "exit code" if code is not None else "flag", code)

    for path in sorted(glob.glob(str(home / ".kimi" / "sessions" / "*" / "*" / "wire.jsonl"))):
        for line in _lines(path):
            if isinstance(line.get("message"), dict):
                event(line["message"])
    return calls


def qwen(home: Path) -> Calls:
    calls = Calls()
    for path in sorted(glob.glob(str(home / ".qwen" / "projects" / "*" / "chats" / "*.jsonl"))):
        for line in _lines(path):
            parts = (line.get("message") or {}).get("parts") if isinstance(line.get("message"), dict) else None
            result = line.get("toolCallResult") or {}
            for part in parts if isinstance(parts, list) else []:
                if (part.get("functionCall") or {}).get("name") is not None:
                    calls.call(part["functionCall"].get("id"), part["functionCall"]["name"])
                response = part.get("functionResponse") or {}
                if response.get("id") is None:
                    continue
                status = result.get("status") if result.get("callId") == response["id"] else None
                code = _exit_code_line((response.get("response") or {}).get("output"))
                if status == "success" and code is not None:
                    calls.result(response["id"], _by_code(code), "exit code", code)
                elif status in ("success", "error", "cancelled"):
                    calls.result(response["id"], {"success": "ok", "error": "failed"}.get(status, "rejected"),
                                 "status field", code)
                else:
                    calls.result(response["id"], None)
    return calls


def amp(home: Path) -> Calls:
    calls = Calls()
    for path in sorted(glob.glob(str(home / ".local" / "share" / "amp" / "threads" / "T-*.json"))):
        for message in json.loads(Path(path).read_text()).get("messages") or []:
            for block in message.get("content") or []:
                if block.get("type") == "tool_use":
                    calls.call(block.get("id"), block.get("name"))
                elif block.get("type") == "tool_result":
                    run = block.get("run") or {}
                    status = run.get("status")
                    if status == "in-progress":
                        continue
                    code = run["result"].get("exitCode") if isinstance(run.get("result"), dict) else None
                    if status == "done" and isinstance(code, int):
                        calls.result(block.get("toolUseID"), _by_code(code), "exit code", code)
                    elif status == "done":
                        calls.result(block.get("toolUseID"), "ok", "status field")
                    elif status == "error":
                        calls.result(block.get("toolUseID"), "failed", "status field")
                    elif isinstance(status, str) and status.startswith("rejected"):
                        calls.result(block.get("toolUseID"), "rejected", "status field")
                    elif status == "cancelled":
                        calls.result(block.get("toolUseID"), "interrupted", "status field")
                    else:
                        calls.result(block.get("toolUseID"), None)
    return calls


def droid(home: Path) -> Calls:
    calls = Calls()
    for path in sorted(glob.glob(str(home / ".factory" / "sessions" / "*" / "*.jsonl"))):
        for line in _lines(path):
            content = (line.get("message") or {}).get("content") if isinstance(line.get("message"), dict) else None
            for block in content if isinstance(content, list) else []:
                if not isinstance(block, dict):
                    continue
                if block.get("type") == "tool_use":
                    calls.call(block.get("id"), block.get("name"))
                elif block.get("type") == "tool_result":
                    flag = block.get("is_error")
                    calls.result(block.get("tool_use_id"), None if flag is None else ("failed" if flag else "ok"),
                                 "flag")
    return calls


def goose(home: Path) -> Calls:
    calls = Calls()
    database = home / ".local" / "share" / "goose" / "sessions" / "sessions.db"
    if not database.exists():
        return calls
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT content_json FROM messages ORDER BY id").fetchall()
    finally:
        conn.close()
    for (content,) in rows:
        try:
            items = json.loads(content)
        except (TypeError, ValueError):
            continue
        for item in items if isinstance(items, list) else []:
            if item.get("type") == "toolRequest":
                calls.call(item.get("id"), ((item.get("toolCall") or {}).get("value") or {}).get("name"))
            elif item.get("type") == "toolResponse":
                status = (item.get("toolResult") or {}).get("status")
                calls.result(item.get("id"), {"success": "ok", "error": "failed"}.get(status),
                             "status field" if status in ("success", "error") else None)
    return calls


HOME_AGENTS = {"gemini": gemini, "copilot": copilot, "opencode": opencode, "kimi": kimi, "qwen": qwen, "amp": amp,
               "droid": droid, "goose": goose}


# -- the next wave, under agents2/home --------------------------------------------------------------------------
def pi(home: Path) -> Calls:
    calls = Calls()
    aborted: list[str] = []
    paths = glob.glob(str(home / ".pi" / "agent" / "sessions" / "*" / "*.jsonl")) + \
        glob.glob(str(home / ".openclaw" / "agents" / "*" / "sessions" / "*.jsonl"))
    for path in sorted(paths):
        for line in _lines(path):
            message = line.get("message") if isinstance(line.get("message"), dict) else {}
            content = message.get("content")
            if message.get("role") == "assistant":
                for block in content if isinstance(content, list) else []:
                    if isinstance(block, dict) and block.get("type") == "toolCall":
                        calls.call(block.get("id"), block.get("name"))
                        if message.get("stopReason") == "aborted":
                            aborted.append(block.get("id"))
            elif message.get("role") == "toolResult":
                flag = message.get("isError")
                if not isinstance(flag, bool):
                    calls.result(message.get("toolCallId"), None)
                    continue
                text = content if isinstance(content, str) else "\n".join(
                    b.get("text") or "" for b in content or [] if isinstance(b, dict) and b.get("type") == "text")
                code = _int(r"Command exited with code (-?\d+)\s*\Z", text) if flag else None
                if flag and (text.rstrip() == "Operation aborted" or text.rstrip().endswith("Command aborted")):
                    calls.result(message.get("toolCallId"), "interrupted", "aborted")
                elif code is not None:
                    calls.result(message.get("toolCallId"), "failed", "exit code", code)
                else:
                    calls.result(message.get("toolCallId"), "failed" if flag else "ok", "flag")
    for call_id in aborted:  # no result: the reply was aborted before its calls ran
        calls.result(call_id, "interrupted", "reply aborted")
    return calls


CRUSH_REJECTED = ("Permission denied", "User denied permission")


def crush(home: Path) -> Calls:
    calls = Calls()
    for database in sorted(glob.glob(str(home / "**" / ".crush" / "crush.db"), recursive=True)):
        with tempfile.TemporaryDirectory() as scratch:  # a copy: reading a WAL database writes beside it
            for suffix in ("", "-wal"):
                if os.path.exists(database + suffix):
                    shutil.copyfile(database + suffix, os.path.join(scratch, "crush.db" + suffix))
            conn = sqlite3.connect(os.path.join(scratch, "crush.db"))
            try:
                rows = conn.execute("SELECT parts FROM messages ORDER BY created_at, id").fetchall()
            finally:
                conn.close()
        for (text,) in rows:
            try:
                parts = json.loads(text)
            except (TypeError, ValueError):
                continue
            for part in parts if isinstance(parts, list) else []:
                data = part.get("data") if isinstance(part, dict) and isinstance(part.get("data"), dict) else {}
                if part.get("type") == "tool_call":
                    calls.call(data.get("id"), data.get("name") or None)
                elif part.get("type") == "tool_result":
                    flag, content = data.get("is_error"), data.get("content") or ""
                    try:
                        metadata = json.loads(data.get("metadata") or "{}")
                    except ValueError:
                        metadata = {}
                    output = metadata.get("output") if isinstance(metadata, dict) else None
                    code = _int(r"\nExit code (-?\d+)\Z", "\n" + output.rstrip()) if isinstance(output, str) else None
                    if not isinstance(flag, bool):
                        calls.result(data.get("tool_call_id"), None)
                    elif flag and content.strip() in CRUSH_REJECTED:
                        calls.result(data.get("tool_call_id"), "rejected", "permission denied")
                    elif flag and content.strip() == "Tool execution canceled by user":
                        calls.result(data.get("tool_call_id"), "interrupted", "canceled by user")
                    elif flag:
                        calls.result(data.get("tool_call_id"), "failed", "flag")
                    elif code is not None:
                        calls.result(data.get("tool_call_id"), _by_code(code), "exit code", code)
                    else:
                        calls.result(data.get("tool_call_id"), "ok", "flag")
    return calls


CLINE_EXTENSIONS = {"cline": "saoudrizwan.claude-dev", "roo": "rooveterinaryinc.roo-cline", "kilo": "kilocode.kilo-code"}


def cline_family(extension_id: str):
    """The reader of one extension of the Cline family (Cline, Roo Code, Kilo Code), in every editor's user dir."""

    def read(home: Path) -> Calls:
        calls = Calls()
        pattern = f"*/User/globalStorage/{extension_id}/tasks/*/ui_messages.json"
        paths = glob.glob(str(home / ".config" / pattern)) + glob.glob(str(home / "Library" / "Application Support" / pattern))
        for path in sorted(paths):
            for message in json.loads(Path(path).read_text()):
                kind = message.get("say") or message.get("ask")
                if kind not in ("tool", "command"):
                    continue
                if kind == "command":
                    name = "execute_command"
                else:
                    try:
                        name = json.loads(message.get("text") or "").get("tool")
                    except (ValueError, AttributeError):
                        name = None
                call_id = str(message.get("ts"))
                calls.call(call_id, name)
                if not message.get("partial"):
                    calls.result(call_id, None)
        return calls

    return read


AGENTS2 = {"pi": pi, "crush": crush, **{name: cline_family(extension) for name, extension in CLINE_EXTENSIONS.items()}}


def reference(corpus: Path) -> dict[str, dict]:
    """Per agent, the summary of its calls in the development corpora (../shared/corpus): Claude Code and Codex
    from claude/projects and codex/sessions, the others from agents/home, the next wave (pi, Crush, Cline, Roo, Kilo)
    from agents2/home."""
    found = {"claude_code": claude_code(corpus / "claude" / "projects").summary(),
             "codex": codex(corpus / "codex" / "sessions").summary()}
    for name, read in HOME_AGENTS.items():
        found[name] = read(corpus / "agents" / "home").summary()
    for name, read in AGENTS2.items():
        found[name] = read(corpus / "agents2" / "home").summary()
    return found


if __name__ == "__main__":  # print the reference: python -m star_pipeline_tests.tool_reference [corpus]
    import sys

    corpus = Path(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "corpus"))
    for agent, summary in reference(corpus).items():
        for tool, n in sorted(summary["calls"].items(), key=lambda kv: (-kv[1], str(kv[0]))):
            counts = {s: summary["status"].get((tool, s), 0) for s in STATUSES}
            print(agent, tool, n, " ".join(f"{s}={c}" for s, c in counts.items() if c))
