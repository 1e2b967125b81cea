"""`star-pipeline install-hooks`: add (or remove) our hook for every Claude Code event.

Merges into Claude Code's settings.json without touching anything else in it:
an existing star-pipeline entry is updated in place, other hooks are kept, a
second run changes nothing. Before any change the file is copied to
`settings.json.star-pipeline-backup-<UTC time>`; the new file is written
atomically with the old file's permissions. Every change is printed.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

HOOK_EVENTS = (
    "SessionStart",
    "SessionEnd",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "PermissionRequest",
    "Notification",
    "Stop",
    "SubagentStart",
    "SubagentStop",
    "PreCompact",
)
TOOL_EVENTS = {"PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest"}
MARKER = "star-pipeline"


class SettingsError(RuntimeError):
    """settings.json cannot be read or is not the shape Claude Code uses."""


def default_settings_path() -> Path:
    config_dirs = [p.strip() for p in os.environ.get("CLAUDE_CONFIG_DIR", "").split(",") if p.strip()]
    base = Path(config_dirs[0]).expanduser() if config_dirs else Path.home() / ".claude"
    return base / "settings.json"


def entry_point() -> tuple[str, str | None]:
    """How the hook names the command, and a warning when that name will not last.

    The installed entry point by name (`star-pipeline`) when the shell finds it on PATH: the
    command then survives moving or reinstalling the checkout. Else its absolute path, which
    breaks when that environment moves.
    """
    if shutil.which(MARKER):
        return MARKER, None
    path = os.path.abspath(sys.argv[0])
    return path, (f"star-pipeline is not on PATH, so the hook names {path}; if that environment moves the hook stops "
                  "recording (Claude Code is never affected). Put its folder on PATH (or install with pipx) and run "
                  "install-hooks again.")


def hook_command(spool_dir: str, executable: str | None = None) -> str:
    exe = executable or entry_point()[0]
    return f"{shlex.quote(exe)} hook --spool-dir {shlex.quote(spool_dir)}"


def _is_ours(hook: object) -> bool:
    if not isinstance(hook, dict) or not isinstance(hook.get("command"), str):
        return False
    words = hook["command"].split()
    return len(words) >= 2 and os.path.basename(words[0].strip("'\"")) == MARKER and words[1] == "hook"


def merge_hooks(settings: dict, command: str, uninstall: bool = False) -> list[str]:
    """Change `settings` in place; return one line per change."""
    hooks = settings.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise SettingsError("'hooks' is not an object")
    changes: list[str] = []
    for event in HOOK_EVENTS:
        groups = hooks.get(event, [])
        if not isinstance(groups, list):
            raise SettingsError(f"'hooks.{event}' is not a list")
        found = False
        for group in groups:
            inner = group.get("hooks", []) if isinstance(group, dict) else []
            for hook in list(inner):
                if not _is_ours(hook):
                    continue
                if uninstall:
                    inner.remove(hook)
                    changes.append(f"removed the star-pipeline hook from {event}")
                elif found:
                    inner.remove(hook)
                    changes.append(f"removed a duplicate star-pipeline hook from {event}")
                else:
                    found = True
                    if hook.get("command") != command:
                        changes.append(f"updated the star-pipeline hook of {event}: {hook.get('command')} -> {command}")
                        hook["command"] = command
        groups[:] = [g for g in groups if not (isinstance(g, dict) and g.get("hooks") == [] and _had_only_ours(g))]
        if not uninstall and not found:
            group = {"hooks": [{"type": "command", "command": command}]}
            if event in TOOL_EVENTS:
                group = {"matcher": "*", **group}
            groups.append(group)
            changes.append(f"added the star-pipeline hook to {event}")
        if groups:
            hooks[event] = groups
        else:
            hooks.pop(event, None)
    if not hooks:
        settings.pop("hooks")
    return changes


def _had_only_ours(group: dict) -> bool:
    # A group left empty by removing our hook goes too; we only ever create such groups ourselves.
    return set(group) <= {"matcher", "hooks"}


def install_hooks(settings_path: Path, spool_dir: str, uninstall: bool = False, out=None, executable=None) -> int:
    out = out or sys.stdout
    settings_path = Path(settings_path).expanduser()
    try:
        text = settings_path.read_text(encoding="utf-8") if settings_path.exists() else ""
        settings = json.loads(text) if text.strip() else {}
        if not isinstance(settings, dict):
            raise SettingsError("the top level is not an object")
        changes = merge_hooks(settings, hook_command(spool_dir, executable), uninstall=uninstall)
    except (OSError, ValueError, SettingsError) as exc:
        print(
            f"{settings_path}: cannot update Claude Code settings ({exc}). Nothing was changed; "
            "fix the file (it must be a JSON object) or pass --settings PATH.",
            file=sys.stderr,
        )
        return 2
    if executable is None and not uninstall and entry_point()[1]:
        print(entry_point()[1], file=sys.stderr)
    if not changes:
        print(f"{settings_path}: already up to date, nothing changed.", file=out)
        return 0
    if settings_path.exists():
        backup = settings_path.with_name(f"{settings_path.name}.star-pipeline-backup-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        shutil.copy2(settings_path, backup)
        print(f"backed up {settings_path} to {backup}", file=out)
        mode = settings_path.stat().st_mode & 0o777
    else:
        settings_path.parent.mkdir(parents=True, exist_ok=True)
        mode = 0o600
    fd, tmp = tempfile.mkstemp(dir=settings_path.parent, prefix=".settings.", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(settings, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.chmod(tmp, mode)
        os.replace(tmp, settings_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    for change in changes:
        print(f"{settings_path}: {change}", file=out)
    return 0
