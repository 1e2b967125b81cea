"""Changing a user's configuration file (Claude Code's settings.json and ~/.claude.json, Codex's config.toml,
star_pipeline's own config.yaml) the one safe way: a timestamped backup of the old file first, then the new
text written to a temporary file beside it and renamed over it (never half a file), with the old file's
permissions (a new file is the owner's only). `yaml_with_key` changes one key of a YAML file in its text, so
that the user's comments and layout stay."""

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


def yaml_with_key(text: str, section: str, key: str, value) -> tuple[str, bool]:
    """`text` (a YAML mapping of sections, as config.yaml is) with `section.key` set to `value`, and whether its
    comments were kept. The change is made in the text (the value replaced, or one line added) and kept only if
    the result parses to exactly the old mapping plus that key; a layout that does not allow it (flow style,
    a section written twice) is dumped anew: every key kept, the comments lost."""
    import yaml

    from star_pipeline.config import yaml_scalar  # how `config` prints a value, too

    data = yaml.safe_load(text) or {}
    wanted = {**data, section: {**(data.get(section) or {}), key: value}}
    edited = _yaml_edited_in_place(text, section, key, yaml_scalar(value))
    if edited is not None:
        try:
            if yaml.safe_load(edited) == wanted:
                return edited, True
        except yaml.YAMLError:
            pass
    return yaml.safe_dump(wanted, sort_keys=False, default_flow_style=False, allow_unicode=True), False


def _yaml_edited_in_place(text: str, section: str, key: str, scalar: str) -> str | None:
    """The text with the one change made where it belongs, or None when the layout is not a block mapping."""
    import yaml
    from yaml.nodes import MappingNode, ScalarNode

    def line_start(index: int) -> int:
        return text.rfind("\n", 0, index) + 1

    root = yaml.compose(text)
    ending = text if not text or text.endswith("\n") else text + "\n"
    if root is None:  # empty, or comments only: the section goes after them
        return f"{ending}{section}:\n  {key}: {scalar}\n"
    if not isinstance(root, MappingNode) or root.flow_style or not root.value:
        return None
    indent = root.value[0][0].start_mark.column
    for key_node, value_node in root.value:
        if key_node.value != section:
            continue
        if isinstance(value_node, ScalarNode) and value_node.tag.endswith(":null"):  # `section:` with nothing
            end_of_line = text.find("\n", key_node.end_mark.index)
            end_of_line = len(text) if end_of_line < 0 else end_of_line
            return f"{text[:end_of_line]}\n{' ' * (indent + 2)}{key}: {scalar}{text[end_of_line:]}"
        if not isinstance(value_node, MappingNode) or value_node.flow_style or not value_node.value:
            return None
        for item_key, item_value in value_node.value:
            if item_key.value == key:
                if not isinstance(item_value, ScalarNode) or item_value.start_mark.index == item_value.end_mark.index:
                    return None
                return text[:item_value.start_mark.index] + scalar + text[item_value.end_mark.index:]
        first = value_node.value[0][0]  # the key goes on a line of its own above the section's first key
        at = line_start(first.start_mark.index)
        return f"{text[:at]}{' ' * first.start_mark.column}{key}: {scalar}\n{text[at:]}"
    return f"{ending}{' ' * indent}{section}:\n{' ' * (indent + 2)}{key}: {scalar}\n"
