"""Changing an agent's own configuration file (Claude Code's settings.json and ~/.claude.json, Codex's
config.toml) the one safe way: a timestamped backup of the old file first, then the new text written to a
temporary file beside it and renamed over it (never half a file), with the old file's permissions (a new
file is the owner's only)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path


def backup_path(path: Path) -> Path:
    """A name no earlier backup has (two changes in one second keep both backups)."""
    stem = f"{path.name}.star-pipeline-backup-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    candidate, n = path.with_name(stem), 1
    while candidate.exists():
        candidate, n = path.with_name(f"{stem}-{n}"), n + 1
    return candidate


def replace_file(path: Path, text: str, out) -> None:
    """Back `path` up (when it exists) and replace it with `text`; say what was backed up on `out`."""
    if path.exists():
        backup = backup_path(path)
        shutil.copy2(path, backup)
        backup.chmod(0o600)  # these files can hold tokens: the backup is the owner's only, whatever the original
        print(f"backed up {path} to {backup}", file=out)
        mode = path.stat().st_mode & 0o777
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = 0o600
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
