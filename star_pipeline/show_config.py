"""`star-pipeline config`: the effective configuration, and where each value came from.

The configuration is the defaults overlaid by the user's file (config.py), and a value may expand an
environment variable (`$CLAUDE_CONFIG_DIR/projects`); a user who wonders which warehouse a command reads, or
why a folder is scanned, reads the answer here instead of merging files in their head. The output is YAML:
paths resolved, one comment per value saying default, file (the user's) and environment (the variables it
expanded); a part of it copied into the user's file sets those keys.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from star_pipeline.config import (
    AUTO_MEMORY_LIMIT, CONFIG_ENV_VAR, DEFAULT_CLASSIFIERS_DIR, DEFAULT_CONFIG_PATH, ConfigLayers, Settings,
    expand_roots, read_layers, settings_from, user_config_path, variables_set_in,
)
from star_pipeline.agent_side.settings_files import yaml_scalar

COMMENT_COLUMN = 44


def _origin(layers: ConfigLayers, key: str, raw=None) -> str:
    origin = "file" if layers.from_user_file(key) else "default"
    used = variables_set_in(raw) if isinstance(raw, str) else []
    return f"{origin}, environment: {', '.join('$' + name for name in used)}" if used else origin


def _resolved(layers: ConfigLayers, settings: Settings, key: str):
    """The value a command uses: paths made absolute, `auto` and the host name as they are here."""
    value = layers.values[key]
    if key == "warehouse.path":
        return str(settings.warehouse_path)
    if key == "warehouse.catalog":
        return settings.lake_catalog or None
    if key == "warehouse.data_path":
        return settings.lake_data_path or None
    if key == "sources.hook_spool_dir":
        return str(settings.hook_spool_dir)
    if key == "classified.classifiers_dir":
        return str(settings.classifiers_dir)
    if key == "machine.id":
        return settings.machine_id
    return value


def _note(layers: ConfigLayers, settings: Settings, key: str) -> str:
    """What the value means here, when that is not the value itself."""
    value = layers.values[key]
    if key == "warehouse.memory_limit" and str(value).strip().lower() == AUTO_MEMORY_LIMIT:
        return f"; {settings.memory_limit} on this machine"
    if key == "machine.id" and value is None:
        return ": the host name"
    if key == "classified.classifiers_dir" and settings.classifiers_dir == DEFAULT_CLASSIFIERS_DIR:
        return ": the package's own (`star-pipeline classifiers init` makes a copy to edit)"
    if key == "sources.hook_spool_dir" and os.environ.get("STAR_PIPELINE_SPOOL_DIR"):
        return (f"; STAR_PIPELINE_SPOOL_DIR is set: `star-pipeline hook` writes to "
                f"{os.environ['STAR_PIPELINE_SPOOL_DIR']} instead, and the pipeline reads this one")
    return ""


def _line(text: str, comment: str) -> str:
    return f"{text.ljust(COMMENT_COLUMN - 1)} # {comment}"


def config_lines(layers: ConfigLayers, settings: Settings) -> list[str]:
    user = layers.user
    if user.path is None:
        overlay = f"no user file ({user.chosen_by})"
    else:
        overlay = f"{user.path} (named by {user.chosen_by})" if user.chosen_by == CONFIG_ENV_VAR else \
            f"{user.path} ({user.chosen_by})"
    lines = [
        "# The effective configuration: the defaults in",
        f"#   {DEFAULT_CONFIG_PATH}",
        "# overlaid by the user's file:",
        f"#   {overlay}",
        f"# ({CONFIG_ENV_VAR} names the user's file; unset, it is {user_config_path()} when that exists.)",
        "# Each comment says where the value came from: default, file (the user's) or environment (the",
        "# variables it expands). Paths are resolved; a list set in the file replaces the default list whole.",
    ]
    section = None
    for key in layers.values:
        head, name = key.split(".", 1)
        if head != section:
            section = head
            lines.append(f"{section}:")
        value = layers.values[key]
        if isinstance(value, list):
            lines.extend(_list_lines(layers, key, name, value))
            continue
        text = f"  {name}: {yaml_scalar(_resolved(layers, settings, key))}"
        lines.append(_line(text, _origin(layers, key, value) + _note(layers, settings, key)))
    return lines


def _list_lines(layers: ConfigLayers, key: str, name: str, entries: list[str]) -> list[str]:
    """A list of roots, one line per folder it gives, each with the entry it came from."""
    lines, seen = [], set()
    for entry in entries:
        for root in expand_roots([entry], layers.base(key)):
            if root not in seen:  # as the settings hold it: each folder once
                seen.add(root)
                lines.append(_line(f"    - {yaml_scalar(str(root))}", _origin(layers, key, entry)))
    if not lines:
        return [_line(f"  {name}: []", _origin(layers, key) + (": none of its entries' variables is set"
                                                                if entries else ""))]
    return [f"  {name}:", *lines]


def run_show_config(path: Path | str | None = None, out=None) -> int:
    """Print the effective configuration; a configuration that does not load is a ConfigError (the caller's)."""
    layers = read_layers(path)
    settings = settings_from(layers)
    print("\n".join(config_lines(layers, settings)), file=out or sys.stdout)
    return 0
