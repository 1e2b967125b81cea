"""`star-pipeline hook`: spool one Claude Code hook payload, fast, never failing the agent.

Claude Code runs the hook synchronously on every tool call, so this path
imports only the standard library (no dagster, no duckdb, no yaml when the
spool folder is given on the command line, as `install-hooks` does).

Each call appends ONE line to `<spool_dir>/hook-events-<host>-YYYY-MM-DD.jsonl`
(UTC date), under an exclusive lock, with O_APPEND, in a single write:

    {"received_at":"2026-11-21T22:55:40.123456Z","payload":<the payload as received>}

Payloads carry no timestamp, so `received_at` is the only event time. The
payload is embedded verbatim (line breaks outside strings, which JSON allows
only as whitespace, become spaces); a payload that is not JSON is kept as a
string under "payload_text". The spool is never truncated or rewritten: the
raw layer ingests it incrementally. Files and folder are owner-only (0600/0700).
Errors go to `<spool_dir>/hook-errors.log` (or, when the spool folder itself is
unusable, `~/.local/share/star_pipeline/hook-errors.log`); the exit code is always 0.

`<host>` is the host name as `machine.id` defaults to it (storage/machine_id.py), read
without loading the config: in a team warehouse the spool of each machine then has paths
of its own. The normalized layer reads one machine's lines per path (a transcript synced
to two machines is one session), so two machines' spools must never share a path, as
they would with a date alone in the name and the same home folder. A configured
`machine.id` changes nothing here: the host name is unique per machine all the same.
"""

from __future__ import annotations

import json
import os
import sys
import time

from star_pipeline.storage.machine_id import default_machine_id

SPOOL_ENV_VAR = "STAR_PIPELINE_SPOOL_DIR"
ERROR_LOG = "hook-errors.log"


def utc_now_iso(now: float | None = None) -> str:
    now = time.time() if now is None else now
    seconds = int(now)
    micros = int(round((now - seconds) * 1_000_000))
    if micros == 1_000_000:
        seconds, micros = seconds + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def spool_line(payload: bytes, received_at: str) -> bytes:
    """The spool line for one payload (with its trailing newline)."""
    try:
        text = payload.decode("utf-8").strip()
        json.loads(text)
        valid = bool(text)
    except ValueError:  # not UTF-8, or not JSON
        valid = False
    prefix = '{"received_at":' + json.dumps(received_at)
    if valid:
        body = text.replace("\r", " ").replace("\n", " ")
        line = prefix + ',"payload":' + body + "}"
    else:
        clean = payload.decode("utf-8", errors="backslashreplace")
        line = prefix + ',"payload_text":' + json.dumps(clean, ensure_ascii=False) + "}"
    return line.encode("utf-8") + b"\n"


def spool_file_name(received_at: str, host: str | None = None) -> str:
    """`hook-events-<host>-YYYY-MM-DD.jsonl`: one file per machine and UTC day (see the module docstring)."""
    return f"hook-events-{host or default_machine_id()}-{received_at[:10]}.jsonl"


def append_to_spool(spool_dir: str, line: bytes, received_at: str) -> str:
    import fcntl

    os.makedirs(spool_dir, mode=0o700, exist_ok=True)
    path = os.path.join(spool_dir, spool_file_name(received_at))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        written = 0
        while written < len(line):  # one write in practice; loop only on a short write
            written += os.write(fd, line[written:])
    finally:
        os.close(fd)
    return path


def resolve_spool_dir(explicit: str | None) -> str:
    if explicit:
        return os.path.expanduser(explicit)
    if os.environ.get(SPOOL_ENV_VAR):
        return os.path.expanduser(os.environ[SPOOL_ENV_VAR])
    from star_pipeline.config import load_settings  # slower path: reads the YAML config

    return str(load_settings().hook_spool_dir)


def run_hook(spool_dir: str | None = None, stdin=None) -> int:
    """Read one payload from stdin and spool it. Always returns 0."""
    received_at = utc_now_iso()
    target = None
    try:
        target = resolve_spool_dir(spool_dir)
        payload = (stdin or sys.stdin.buffer).read()
        append_to_spool(target, spool_line(payload, received_at), received_at)
    except BaseException as exc:  # never fail the agent
        log_error(target, received_at, exc)
    return 0


def log_error(folder: str | None, received_at: str, exc: BaseException, file_name: str = ERROR_LOG) -> None:
    """Append the error to `file_name` (hook-errors.log) in `folder` (the spool folder), else in
    ~/.local/share/star_pipeline; never raises."""
    message = f"{received_at} {type(exc).__name__}: {exc}\n".encode("utf-8", "backslashreplace")
    for place in (folder, os.path.expanduser("~/.local/share/star_pipeline")):
        if not place:
            continue
        try:
            os.makedirs(place, mode=0o700, exist_ok=True)
            fd = os.open(os.path.join(place, file_name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, message)
            finally:
                os.close(fd)
            return
        except BaseException:
            continue
