"""`star-pipeline brief`: print the brief of the session's project at a Claude Code session start.

Installed by `install-hooks --brief` as a SessionStart hook, whose stdout Claude Code adds to the new
session's context. Reads the hook's JSON payload on stdin (its `cwd` and `source`), finds the project's
brief among the files the aggregate asset published_briefs writes (storage/brief_files.py) and prints it.
Standard library only, like `hook`: no duckdb, no dagster, no configuration file read (install-hooks puts
the briefs folder on the command line). Silent, with exit code 0, when there is no brief for the project,
when the session is resumed or compacted (its context already holds the brief), or when anything fails:
a brief must never stand in a session's way.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from star_pipeline.storage.brief_files import brief_file, project_candidates

MAX_BRIEF_BYTES = 8192  # a published brief is about 2 KB; a larger file is not one of ours
STARTS_WITH_BRIEF = {"startup", "clear", None}  # SessionStart's `source`: not "resume" or "compact"


def brief_for(payload: dict, folder: Path) -> str | None:
    if payload.get("source") not in STARTS_WITH_BRIEF:
        return None
    cwd = payload.get("cwd") or os.getcwd()
    for project in project_candidates(str(cwd)):
        path = brief_file(folder, project)
        try:
            if path.stat().st_size <= MAX_BRIEF_BYTES:
                return path.read_text(encoding="utf-8")
        except OSError:
            continue
    return None


def run_brief(folder: str | None) -> int:
    try:
        if not folder:
            return 0
        raw = sys.stdin.read()
        payload = json.loads(raw) if raw.strip() else {}
        text = brief_for(payload if isinstance(payload, dict) else {}, Path(folder))
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()
    except Exception:  # noqa: BLE001 - never in the session's way
        pass
    return 0
