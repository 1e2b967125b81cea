"""A deterministic (seeded), format-faithful corpus of agent home folders, of a requested size.

Writes, under `<out>/`:
- `claude/projects/<slug>/<session>.jsonl`: Claude Code 2.1-style sessions with
  split API messages (one line per content block, placeholder output tokens on
  early lines), progress lines, tool_use/tool_result pairs, and
  `<session>/subagents/agent-<hex>.jsonl` subagent files. Line sizes follow the
  real corpus (../shared/corpus, measured 2026-11-30): tool results are ~40% of
  the bytes with a long tail (median 1.5 KB, a tenth above 8 KB) and a
  `toolUseResult` copy, re-reading the same project files; thinking blocks are
  mostly an empty text and a signature; a few prompts paste a log or an image;
  file-history snapshots and attachments. Only prompts and assistant text are
  freely written words, as in real transcripts (what search embeds);
- `codex/sessions/YYYY/MM/DD/rollout-...-<uuid>.jsonl`: Codex envelope rollouts
  with turn_context, function calls and token_count events (re-emitted ones included);
- `spool/hook-events-YYYY-MM-DD.jsonl`: hook events as `star-pipeline hook` writes them.
About 85% of the bytes are Claude Code, 12% Codex, 3% hooks. Same seed, same bytes.

One session or rollout starts every 3 hours, from 2026-03-01, for at most
`span_days` (180) days; a bigger corpus then starts again from the first day
(a few minutes later each round), so it is a heavier user over the same half
year, not a longer history. That keeps `report daily` the same number of rows at
1 GB and 4 GB, which is what lets the bench compare report times across sizes.
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import math
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

MODELS = ["claude-sonnet-4-6", "claude-opus-4-6", "claude-haiku-4-5-20251001"]
TOOLS = ["Bash", "Read", "Read", "Edit", "Grep", "Glob", "Write"]
WORDS = ("the of and to in is that for it with as was on be by this are or from at which but not have an they "
         "function return value test build commit file path error module class import data query table").split()


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _lognormal_bytes(rng: random.Random, median: int, p90: int, cap: int) -> int:
    """A size with the real corpus's long tail: half below `median`, a tenth above `p90`, none above `cap`."""
    sigma = math.log(p90 / median) / 1.2816  # 1.2816: the standard normal's 90th percentile
    return max(16, min(cap, int(rng.lognormvariate(math.log(median), sigma))))


def _code(rng: random.Random, size: int) -> str:
    """Source-file-like text of about `size` characters: repeated identifiers and indentation, like a Read result."""
    out, length, n = [], 0, 0
    while length < size:
        n += 1
        line = f"{n:>6}\t" + rng.choice((
            f"def {rng.choice(WORDS)}_{rng.randint(0, 40)}(value, table):",
            f"    return {rng.choice(WORDS)}.query(table, {rng.randint(0, 99)})",
            f"    if value is None:  # {_text(rng, 4)}",
            "",
            f"class {rng.choice(WORDS).title()}{rng.randint(0, 20)}:",
            f"    {rng.choice(WORDS)} = data[{rng.randint(0, 9)}]",
        ))
        out.append(line)
        length += len(line) + 1
    return "\n".join(out)


@functools.lru_cache(maxsize=None)
def _project_files(slug: str, cwd: str, count: int = 24) -> tuple[tuple[str, str], ...]:
    """A project's files, made once per project (seeded by its slug): sessions read the same files again and
    again, so tool results repeat as in real use."""
    rng = random.Random(slug)
    return tuple((f"{cwd}/src/mod{i}.py", _code(rng, _lognormal_bytes(rng, 1200, 10000, 80000))) for i in range(count))


def _base64ish(rng: random.Random, size: int) -> str:
    return base64.b64encode(rng.randbytes(size * 3 // 4)).decode()


def _tool_call(rng: random.Random, files: list[tuple[str, str]]) -> tuple[str, dict, str, dict]:
    """A tool, its input, its result text and the `toolUseResult` copy Claude Code writes beside it."""
    tool = rng.choice(TOOLS)
    path, content = rng.choice(files)
    if tool == "Read":
        lines = content.count("\n") + 1
        return tool, {"file_path": path}, content, {"type": "text", "file": {
            "filePath": path, "content": content, "numLines": lines, "startLine": 1, "totalLines": lines}}
    if tool in ("Edit", "Write"):
        old, new = content[:rng.randint(40, 400)], _code(rng, rng.randint(40, 600))
        tool_input = ({"file_path": path, "old_string": old, "new_string": new, "replace_all": False} if tool == "Edit"
                      else {"file_path": path, "content": new})
        result = f"The file {path} has been updated successfully."
        return tool, tool_input, result, {"filePath": path, "oldString": old, "newString": new, "structuredPatch": [
            {"oldStart": 1, "oldLines": old.count("\n") + 1, "newStart": 1, "newLines": new.count("\n") + 1,
             "lines": ["-" + line for line in old.split("\n")] + ["+" + line for line in new.split("\n")]}]}
    output = (_code(rng, _lognormal_bytes(rng, 900, 9000, 60000)) if tool == "Bash"
              else "\n".join(p for p, _ in rng.sample(files, min(len(files), rng.randint(1, 12)))))
    tool_input = ({"command": rng.choice(["pytest -q", "git status", "make build", "ls src"]),
                   "description": _text(rng, 5)} if tool == "Bash" else {"pattern": rng.choice(WORDS)})
    return tool, tool_input, output, {"stdout": output, "stderr": "", "interrupted": False, "isImage": False}


def claude_session(rng: random.Random, out: Path, slug: str, start: datetime, turns: int,
                   session_id: str | None = None) -> int:
    """One main session (and sometimes a subagent file) shaped like the real corpus's lines: tool results with
    a long tail of sizes and a `toolUseResult` copy, thinking blocks that are mostly a signature, progress
    lines per hook, file-history snapshots, attachments, and now and then a pasted prompt or an image."""
    session_id = session_id or _uuid(rng)
    cwd = "/home/dev/" + slug.split("-")[-1]
    files = _project_files(slug, cwd)  # the same files in every session of the project
    lines: list[dict] = []
    parent = None
    t = start
    base = {"isSidechain": False, "userType": "external", "entrypoint": "cli", "cwd": cwd, "sessionId": session_id,
            "version": "2.1.39", "gitBranch": "main", "slug": "quiet-river"}
    for turn in range(turns):
        t += timedelta(seconds=rng.randint(5, 90))
        user_uuid = _uuid(rng)
        if turn % 3 == 0:
            lines.append({"type": "file-history-snapshot", "messageId": user_uuid, "isSnapshotUpdate": False,
                          "snapshot": {"messageId": user_uuid, "timestamp": _ts(t), "trackedFileBackups": {
                              path: {"backupFileName": f"{rng.getrandbits(64):016x}@v2", "version": 2,
                                     "backupTime": _ts(t)} for path, _ in files[:rng.randint(0, 6)]}}})
        roll = rng.random()
        if roll < 0.005:  # a screenshot pasted into the prompt
            content = [{"type": "text", "text": _text(rng, 12)}, {"type": "image", "source": {
                "type": "base64", "media_type": "image/png", "data": _base64ish(rng, rng.randint(40000, 150000))}}]
        elif roll < 0.025:  # a pasted log or file
            content = _text(rng, 8) + "\n" + _code(rng, _lognormal_bytes(rng, 8000, 60000, 190000))
        else:
            content = _text(rng, rng.randint(5, 60))
        lines.append({**base, "parentUuid": parent, "type": "user", "uuid": user_uuid, "timestamp": _ts(t),
                      "message": {"role": "user", "content": content}})
        parent = user_uuid
        if rng.random() < 0.1:
            lines.append({**base, "parentUuid": parent, "type": "attachment", "uuid": _uuid(rng), "timestamp": _ts(t),
                          "attachment": {"type": "task_reminder", "content": [], "itemCount": 0}})
        message_id = f"msg_{rng.getrandbits(64):016x}"
        request_id = f"req_{rng.getrandbits(64):016x}"
        model = rng.choice(MODELS)
        usage = {"input_tokens": rng.randint(1, 50), "cache_creation_input_tokens": rng.randint(0, 20000),
                 "cache_read_input_tokens": rng.randint(1000, 150000),
                 "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                 "output_tokens": rng.randint(50, 4000), "service_tier": "standard"}
        usage["cache_creation"]["ephemeral_1h_input_tokens"] = usage["cache_creation_input_tokens"]
        tool_id = f"toolu_{rng.getrandbits(80):020x}"
        tool, tool_input, result, result_copy = _tool_call(rng, files)
        thinking = _text(rng, rng.randint(5, 25)) if rng.random() < 0.2 else ""
        blocks = [{"type": "text", "text": _text(rng, rng.randint(10, 150))},
                  {"type": "tool_use", "id": tool_id, "name": tool, "input": tool_input}]
        if rng.random() < 0.3:  # about one call in four thinks first (the real corpus: 293 of 1,093)
            blocks.insert(0, {"type": "thinking", "thinking": thinking,
                              "signature": _base64ish(rng, _lognormal_bytes(rng, 1000, 5800, 20000))})
        for index, block in enumerate(blocks):
            t += timedelta(milliseconds=rng.randint(200, 3000))
            line_usage = dict(usage, output_tokens=usage["output_tokens"] if index == len(blocks) - 1 else 1)
            assistant_uuid = _uuid(rng)
            lines.append({**base, "parentUuid": parent, "type": "assistant", "uuid": assistant_uuid, "timestamp": _ts(t),
                          "requestId": request_id,
                          "message": {"model": model, "id": message_id, "type": "message", "role": "assistant",
                                      "content": [block], "stop_reason": None, "usage": line_usage}})
            parent = assistant_uuid
        progress = [{"type": "hook_progress", "hookEvent": event, "hookName": f"{event}:{tool}", "command": "star-pipeline hook"}
                    for event in ("PreToolUse", "PostToolUse")]
        if tool == "Bash":  # Claude Code writes the running command's output as it comes
            progress += [{"type": "bash_progress", "output": _code(rng, rng.randint(50, 400)), "elapsedTimeSeconds": i + 1,
                          "totalLines": i * 3} for i in range(rng.randint(0, 3))]
        for data in progress:
            lines.append({**base, "parentUuid": parent, "type": "progress", "uuid": _uuid(rng), "timestamp": _ts(t),
                          "parentToolUseID": tool_id, "toolUseID": tool_id, "data": data})
        t += timedelta(seconds=rng.randint(1, 20))
        result_uuid = _uuid(rng)
        lines.append({**base, "parentUuid": parent, "type": "user", "uuid": result_uuid, "timestamp": _ts(t),
                      "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id,
                                                               "content": result, "is_error": rng.random() < 0.05}]},
                      "toolUseResult": result_copy})
        parent = result_uuid
    folder = out / "claude" / "projects" / slug
    folder.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode()
    (folder / f"{session_id}.jsonl").write_bytes(data)
    size = len(data)
    if rng.random() < 0.5:  # a subagent file
        agent_id = f"a{rng.getrandbits(64):017x}"[:18]
        sub = []
        for i in range(max(2, turns // 4)):
            t2 = start + timedelta(seconds=30 + i * 7)
            sub.append({**base, "isSidechain": True, "agentId": agent_id, "parentUuid": None, "type": "assistant",
                        "uuid": _uuid(rng), "timestamp": _ts(t2), "requestId": f"req_{rng.getrandbits(64):016x}",
                        "message": {"model": "claude-haiku-4-5-20251001", "id": f"msg_{rng.getrandbits(64):016x}",
                                    "role": "assistant", "content": [{"type": "text", "text": _text(rng, 80)}],
                                    "usage": {"input_tokens": 5, "output_tokens": rng.randint(20, 900),
                                              "cache_read_input_tokens": rng.randint(0, 30000),
                                              "cache_creation_input_tokens": 0}}})
        sub_folder = folder / session_id / "subagents"
        sub_folder.mkdir(parents=True, exist_ok=True)
        sub_data = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in sub).encode()
        (sub_folder / f"agent-{agent_id}.jsonl").write_bytes(sub_data)
        size += len(sub_data)
    return size


def codex_rollout(rng: random.Random, out: Path, start: datetime, turns: int) -> int:
    rollout_id = _uuid(rng)
    folder = out / "codex" / "sessions" / start.strftime("%Y/%m/%d")
    folder.mkdir(parents=True, exist_ok=True)
    lines = [{"timestamp": _ts(start), "type": "session_meta",
              "payload": {"id": rollout_id, "timestamp": _ts(start), "cwd": "/home/dev/api", "originator": "codex_cli_rs",
                          "cli_version": "0.104.0", "git": {"branch": "main", "commit_hash": "abc"}}}]
    totals = {"input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0, "reasoning_output_tokens": 0, "total_tokens": 0}
    t = start
    for turn in range(turns):
        t += timedelta(seconds=rng.randint(5, 60))
        lines.append({"timestamp": _ts(t), "type": "turn_context",
                      "payload": {"turn_id": f"t{turn}", "cwd": "/home/dev/api", "model": "gpt-5.3-codex", "effort": "medium"}})
        lines.append({"timestamp": _ts(t), "type": "response_item",
                      "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": _text(rng, 40)}]}})
        call_id = f"call_{rng.getrandbits(64):016x}"
        lines.append({"timestamp": _ts(t), "type": "response_item",
                      "payload": {"type": "function_call", "name": "shell", "call_id": call_id,
                                  "arguments": json.dumps({"command": ["bash", "-lc", "cargo test"], "workdir": "/home/dev/api"})}})
        lines.append({"timestamp": _ts(t), "type": "response_item",
                      "payload": {"type": "function_call_output", "call_id": call_id, "output": _text(rng, 200)}})
        last = {"input_tokens": rng.randint(2000, 60000), "output_tokens": rng.randint(50, 3000)}
        last["cached_input_tokens"] = rng.randint(0, last["input_tokens"])
        last["reasoning_output_tokens"] = rng.randint(0, last["output_tokens"])
        last["total_tokens"] = last["input_tokens"] + last["output_tokens"]
        for k in totals:
            totals[k] += last[k]
        event = {"timestamp": _ts(t), "type": "event_msg",
                 "payload": {"type": "token_count", "info": {"total_token_usage": dict(totals), "last_token_usage": last,
                                                             "model_context_window": 272000}}}
        lines.append(event)
        if rng.random() < 0.5:  # Codex re-emits the same cumulative totals
            lines.append(event)
    data = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode()
    (folder / f"rollout-{start.strftime('%Y-%m-%dT%H-%M-%S')}-{rollout_id}.jsonl").write_bytes(data)
    return len(data)


def hook_spool(rng: random.Random, out: Path, start: datetime, events: int) -> int:
    folder = out / "spool"
    folder.mkdir(parents=True, exist_ok=True)
    size = 0
    with (folder / f"hook-events-{start:%Y-%m-%d}.jsonl").open("ab") as handle:
        for i in range(events):
            t = start + timedelta(seconds=i * 3)
            payload = {"session_id": _uuid(rng), "hook_event_name": rng.choice(["PreToolUse", "PostToolUse", "Stop"]),
                       "tool_name": rng.choice(TOOLS), "tool_use_id": f"toolu_{i:020x}", "duration_ms": rng.randint(5, 900),
                       "cwd": "/home/dev/web", "transcript_path": "/home/dev/.claude/projects/x.jsonl"}
            line = json.dumps({"received_at": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "payload": payload}, separators=(",", ":")).encode() + b"\n"
            handle.write(line)
            size += len(line)
    return size


SPAN_DAYS = 180


def generate(out: Path, size_mb: float, seed: int = 7, span_days: float = SPAN_DAYS) -> dict:
    rng = random.Random(seed)
    target = int(size_mb * 1024 * 1024)
    written = {"claude_code": 0, "codex": 0, "hook_spool": 0}
    day = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    index = 0
    while sum(written.values()) < target:
        rounds, hours = divmod(index * 3, span_days * 24)
        start = day + timedelta(hours=hours, minutes=7 * rounds)
        share = sum(written.values()) or 1
        if written["codex"] / share < 0.12:
            written["codex"] += codex_rollout(rng, out, start, rng.randint(20, 120))
        elif written["hook_spool"] / share < 0.03:
            written["hook_spool"] += hook_spool(rng, out, start, 500)
        else:
            written["claude_code"] += claude_session(rng, out, f"-home-dev-proj{index % 12}", start, rng.randint(10, 120))
        index += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size-mb", type=float, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(generate(args.out, args.size_mb, args.seed)))


if __name__ == "__main__":
    main()
