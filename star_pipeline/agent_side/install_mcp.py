"""`star-pipeline install-mcp`: register (or remove) the `star-pipeline mcp` server for Claude Code and Codex.

Claude Code reads user-level MCP servers from `mcpServers` in ~/.claude.json (the file `claude mcp add
--scope user` writes; $CLAUDE_CONFIG_DIR/.claude.json when that is set); Codex from `[mcp_servers.<name>]`
in ~/.codex/config.toml ($CODEX_HOME/config.toml). Only the `star-pipeline` entry is touched: the rest of
each file is kept as it was (config.toml through tomlkit, comments included), a second run changes
nothing, and each changed file is backed up first (settings_files.replace_file). The server is named
as install-hooks names the hook (on PATH by name, else by absolute path), with STAR_PIPELINE_CONFIG
passed on when it is set, so the agent's server reads the warehouse this command would.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from star_pipeline.agent_side.install_hooks import entry_point
from star_pipeline.agent_side.settings_files import replace_file

SERVER_NAME = "star-pipeline"


class McpConfigError(RuntimeError):
    """An agent's configuration file cannot be read or is not the shape that agent writes."""


def default_claude_config() -> Path:
    config_dirs = [p.strip() for p in os.environ.get("CLAUDE_CONFIG_DIR", "").split(",") if p.strip()]
    return (Path(config_dirs[0]).expanduser() if config_dirs else Path.home()) / ".claude.json"


def default_codex_config() -> Path:
    home = os.environ.get("CODEX_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".codex") / "config.toml"


def server_entry(executable: str | None = None) -> dict:
    """What both agents run: the command, its arguments and the environment it needs."""
    entry = {"command": executable or entry_point()[0], "args": ["mcp"]}
    if os.environ.get("STAR_PIPELINE_CONFIG"):
        entry["env"] = {"STAR_PIPELINE_CONFIG": str(Path(os.environ["STAR_PIPELINE_CONFIG"]).expanduser().resolve())}
    return entry


def _claude_text(path: Path, entry: dict, uninstall: bool) -> tuple[str | None, str]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    config = json.loads(text) if text.strip() else {}
    if not isinstance(config, dict):
        raise McpConfigError("the top level is not a JSON object")
    servers = config.get("mcpServers", {})
    if not isinstance(servers, dict):
        raise McpConfigError("'mcpServers' is not an object")
    wanted = {"type": "stdio", **entry}
    if uninstall:
        if SERVER_NAME not in servers:
            return None, "not registered, nothing changed"
        del servers[SERVER_NAME]
        change = "removed the star-pipeline MCP server"
    else:
        if servers.get(SERVER_NAME) == wanted:
            return None, "already up to date, nothing changed"
        change = ("updated" if SERVER_NAME in servers else "added") + " the star-pipeline MCP server"
        servers[SERVER_NAME] = wanted
    if servers:
        config["mcpServers"] = servers
    else:
        config.pop("mcpServers", None)
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n", change


def _codex_text(path: Path, entry: dict, uninstall: bool) -> tuple[str | None, str]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    document = tomlkit.parse(text)
    servers = document.get("mcp_servers")
    if servers is not None and not isinstance(servers, dict):
        raise McpConfigError("'mcp_servers' is not a table")
    current = servers.get(SERVER_NAME) if servers is not None else None
    if uninstall:
        if current is None:
            return None, "not registered, nothing changed"
        del servers[SERVER_NAME]
        if not servers:
            del document["mcp_servers"]
        # the blank line tomlkit leaves where the table was goes too: the file reads as before install-mcp
        return tomlkit.dumps(document).rstrip() + "\n", "removed the star-pipeline MCP server"
    if current is not None and current.unwrap() == entry:
        return None, "already up to date, nothing changed"
    if servers is None:
        servers = tomlkit.table(is_super_table=True)
        document["mcp_servers"] = servers
    table = tomlkit.table()
    table["command"] = entry["command"]
    table["args"] = entry["args"]
    if "env" in entry:
        env = tomlkit.inline_table()
        env.update(entry["env"])
        table["env"] = env
    change = ("updated" if current is not None else "added") + " the star-pipeline MCP server"
    servers[SERVER_NAME] = table
    return tomlkit.dumps(document), change


def install_mcp(claude_config: Path | None, codex_config: Path | None, uninstall: bool = False, out=None,
                executable: str | None = None) -> int:
    """Register the server in each given file (None: skip that agent); 2 when a file could not be changed."""
    out = out or sys.stdout
    entry = server_entry(executable)
    status = 0
    for agent, path, render in (("Claude Code", claude_config, _claude_text), ("Codex", codex_config, _codex_text)):
        if path is None:
            continue
        path = Path(path).expanduser()
        try:
            text, change = render(path, entry, uninstall)
            if text is not None:
                replace_file(path, text, out)
        except (OSError, ValueError, McpConfigError, TOMLKitError) as exc:
            print(f"{path}: cannot update {agent}'s MCP configuration ({exc}). Nothing was changed in it; fix the "
                  "file or pass its path with --claude-config / --codex-config.", file=sys.stderr)
            status = 2
            continue
        print(f"{path}: {change}", file=out)
    if executable is None and not uninstall and entry_point()[1]:
        print(f"star-pipeline is not on PATH, so the agents run {entry['command']}; if that environment moves they "
              "cannot start the server. Put its folder on PATH (or install with pipx) and run install-mcp again.",
              file=sys.stderr)
    return status
