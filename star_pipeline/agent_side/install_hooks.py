"""`star-pipeline install-hooks`: add (or remove) our hook for every Claude Code event.

Merges into Claude Code's settings.json without touching anything else in it:
an existing star-pipeline entry is updated in place, other hooks are kept, a
second run changes nothing. Before any change the file is copied to
`settings.json.star-pipeline-backup-<UTC time>`; the new file is written
atomically with the old file's permissions. Every change is printed.

With `--brief` it also adds `star-pipeline brief --dir <warehouse>.briefs` to SessionStart: Claude Code
puts that command's output (the project's brief, agent_side/brief.py) into the new session's context.
With `--statusline` it sets the top-level `statusLine` to `star-pipeline statusline --file
<warehouse>.statusline.jsonl` (agent_side/statusline.py). Settings hold one status line: one that is not
ours is never replaced silently: the command stops, changing nothing, and names it, unless `--force` is given
(the backup then keeps the old one). `--uninstall` removes all of ours and leaves anyone else's.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from pathlib import Path

from star_pipeline.agent_side.settings_files import replace_file

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
GUARD_EVENTS = ("UserPromptSubmit", "PreToolUse")  # before a prompt is sent, before a tool runs
TOOL_EVENTS = {"PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest"}
MARKER = "star-pipeline"


class SettingsError(RuntimeError):
    """settings.json cannot be read or is not the shape Claude Code uses."""


class StatusLineTaken(RuntimeError):
    """settings.json already has a status line that is not star-pipeline's, and --force was not given."""


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
    beside_python = Path(sys.executable).parent / MARKER  # the script of this environment (run as python -m ...)
    path = str(beside_python) if beside_python.exists() else os.path.abspath(sys.argv[0])
    return path, (f"star-pipeline is not on PATH, so the hook names {path}; if that environment moves the hook stops "
                  "recording (Claude Code is never affected). Put its folder on PATH (or install with pipx) and run "
                  "install-hooks again.")


def hook_command(spool_dir: str, executable: str | None = None) -> str:
    exe = executable or entry_point()[0]
    return f"{shlex.quote(exe)} hook --spool-dir {shlex.quote(spool_dir)}"


def _is_ours(hook: object, subcommand: str = "hook") -> bool:
    if not isinstance(hook, dict) or not isinstance(hook.get("command"), str):
        return False
    words = hook["command"].split()
    return len(words) >= 2 and os.path.basename(words[0].strip("'\"")) == MARKER and words[1] == subcommand


def brief_command(briefs_dir: str, executable: str | None = None) -> str:
    exe = executable or entry_point()[0]
    return f"{shlex.quote(exe)} brief --dir {shlex.quote(briefs_dir)}"


def _machine_words(machine: str | None) -> str:
    """` --machine <id>` on a team's lake: the budgets file is the writer's, and a budget's machine filter means
    the machine the agent runs on (this one), which the hook cannot learn without reading the YAML config."""
    return f" --machine {shlex.quote(machine)}" if machine else ""


def guard_command(budgets_file: str, executable: str | None = None, machine: str | None = None) -> str:
    exe = executable or entry_point()[0]
    return f"{shlex.quote(exe)} guard --file {shlex.quote(budgets_file)}{_machine_words(machine)}"


def statusline_command(published_file: str, executable: str | None = None, machine: str | None = None) -> str:
    exe = executable or entry_point()[0]
    return f"{shlex.quote(exe)} statusline --file {shlex.quote(published_file)}{_machine_words(machine)}"


def merge_statusline(settings: dict, command: str | None, uninstall: bool = False, force: bool = False) -> list[str]:
    """Make `statusLine` run `command` (remove ours when uninstalling); return one line per change. Raises
    StatusLineTaken for a status line of someone else's unless `force`."""
    current = settings.get("statusLine")
    ours = _is_ours(current, "statusline")
    if uninstall:
        if ours:
            del settings["statusLine"]
            return ["removed the star-pipeline status line"]
        return []
    if current is not None and not ours:
        described = current.get("command") if isinstance(current, dict) else None
        if not force:
            raise StatusLineTaken(described or json.dumps(current))
        settings["statusLine"] = {"type": "command", "command": command, "padding": 0}
        return [f"replaced the status line {described or json.dumps(current)!r} with {command} (the backup keeps it)"]
    if current is None:
        settings["statusLine"] = {"type": "command", "command": command, "padding": 0}
        return [f"set the status line to {command}"]
    if current.get("command") != command or current.get("type") != "command":
        previous = current.get("command")
        current.update({"type": "command", "command": command})
        return [f"updated the star-pipeline status line: {previous} -> {command}"]
    return []


def merge_hooks(settings: dict, command: str, uninstall: bool = False, brief: str | None = None,
                guard: str | None = None) -> list[str]:
    """Change `settings` in place; return one line per change. `brief`: the brief's command, added to
    SessionStart; `guard`: the guard's, added to GUARD_EVENTS (None leaves one installed earlier as it is;
    uninstall removes them too)."""
    hooks = settings.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise SettingsError("'hooks' is not an object")
    changes: list[str] = []
    wanted = [("hook", HOOK_EVENTS, command)]
    if brief is not None or uninstall:
        wanted.append(("brief", ("SessionStart",), brief))
    if guard is not None or uninstall:
        wanted.append(("guard", GUARD_EVENTS, guard))
    for subcommand, events, wanted_command in wanted:
        for event in events:
            _merge_event(hooks, event, subcommand, wanted_command, uninstall, changes)
    if not hooks:
        settings.pop("hooks")
    return changes


def _merge_event(hooks: dict, event: str, subcommand: str, command: str | None, uninstall: bool,
                 changes: list[str]) -> None:
    """Make `event` hold exactly one `star-pipeline <subcommand>` hook running `command` (none when uninstalling)."""
    name = "hook" if subcommand == "hook" else f"{subcommand} hook"
    groups = hooks.get(event, [])
    if not isinstance(groups, list):
        raise SettingsError(f"'hooks.{event}' is not a list")
    found = False
    for group in groups:
        inner = group.get("hooks", []) if isinstance(group, dict) else []
        for hook in list(inner):
            if not _is_ours(hook, subcommand):
                continue
            if uninstall:
                inner.remove(hook)
                changes.append(f"removed the star-pipeline {name} from {event}")
            elif found:
                inner.remove(hook)
                changes.append(f"removed a duplicate star-pipeline {name} from {event}")
            else:
                found = True
                if hook.get("command") != command:
                    changes.append(f"updated the star-pipeline {name} of {event}: {hook.get('command')} -> {command}")
                    hook["command"] = command
    groups[:] = [g for g in groups if not (isinstance(g, dict) and g.get("hooks") == [] and _had_only_ours(g))]
    if not uninstall and not found:
        group = {"hooks": [{"type": "command", "command": command}]}
        if event in TOOL_EVENTS:
            group = {"matcher": "*", **group}
        groups.append(group)
        changes.append(f"added the star-pipeline {name} to {event}")
    if groups:
        hooks[event] = groups
    else:
        hooks.pop(event, None)


def _had_only_ours(group: dict) -> bool:
    # A group left empty by removing our hook goes too; we only ever create such groups ourselves.
    return set(group) <= {"matcher", "hooks"}


def install_hooks(settings_path: Path, spool_dir: str, uninstall: bool = False, out=None, executable=None,
                  briefs: str | None = None, statusline: str | None = None, force: bool = False,
                  guard: str | None = None, machine: str | None = None) -> int:
    """Add (or remove) the hooks; with `briefs` (the briefs folder) also the SessionStart brief; with
    `statusline` (the published statusline file) also the status line (`force`: even over someone else's); with
    `guard` (the published budgets file) also the budgets' guard; `machine` (on a lake: this machine's id) is
    passed to both."""
    out = out or sys.stdout
    settings_path = Path(settings_path).expanduser()
    try:
        text = settings_path.read_text(encoding="utf-8") if settings_path.exists() else ""
        settings = json.loads(text) if text.strip() else {}
        if not isinstance(settings, dict):
            raise SettingsError("the top level is not an object")
        brief = brief_command(briefs, executable) if briefs else None
        changes = merge_hooks(settings, hook_command(spool_dir, executable), uninstall=uninstall, brief=brief,
                              guard=guard_command(guard, executable, machine) if guard else None)
        if statusline is not None or uninstall:
            status = statusline_command(statusline, executable, machine) if statusline else None
            changes += merge_statusline(settings, status, uninstall=uninstall, force=force)
    except StatusLineTaken as exc:
        print(
            f"{settings_path}: Claude Code already runs another status line ({exc}). Nothing was changed. Pass "
            "--force to replace it with star-pipeline's (settings.json is backed up first, so the old one can be "
            "restored), or leave out --statusline.",
            file=sys.stderr,
        )
        return 2
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
    replace_file(settings_path, json.dumps(settings, indent=2, ensure_ascii=False) + "\n", out)
    for change in changes:
        print(f"{settings_path}: {change}", file=out)
    return 0
