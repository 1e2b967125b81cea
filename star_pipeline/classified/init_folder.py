"""`star-pipeline classifiers init [DIR]`: a copy of the default classifiers for the user to edit.

The defaults ship with the package (config/classifiers/ in a checkout, star_pipeline/defaults/classifiers/ in
site-packages for an installed copy: storage/shipped_files.py), where an edit is lost at the next install and may need
root, or changes the project's own file. This copies them into a folder the user owns
(default: `classifiers` beside the user's config.yaml, `~/.config/star_pipeline/classifiers`) and points
`classified.classifiers_dir` at it in the user's configuration file, creating that file when there is none.

Nothing of the user's is replaced: a classifier file already in the folder is kept as it is (said so, by name),
and the configuration file is changed in its text (its comments and other keys kept; backed up first, as
install-hooks does). Files and folders it creates are the owner's only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from star_pipeline.agent_side.settings_files import replace_file, yaml_with_key
from star_pipeline.config import (
    CONFIG_ENV_VAR, DEFAULT_CLASSIFIERS_DIR, DEFAULT_CONFIG_PATH, ConfigError, load_settings, user_config_path,
)

SECTION, KEY = "classified", "classifiers_dir"


def default_classifiers_folder() -> Path:
    """`classifiers` beside the user's config.yaml at the XDG path: `~/.config/star_pipeline/classifiers`."""
    return user_config_path().parent / "classifiers"


def config_file_to_edit() -> Path:
    """The user's configuration file: the one STAR_PIPELINE_CONFIG names (which must exist), else the XDG
    path's (created when absent). Never the package's defaults."""
    named = os.environ.get(CONFIG_ENV_VAR)
    if not named:
        return user_config_path()
    path = Path(named).expanduser()
    if not path.exists():
        raise ConfigError(f"{path}: configuration file not found (named by {CONFIG_ENV_VAR}). Create it, or unset "
                          f"{CONFIG_ENV_VAR} to use {user_config_path()} (created if absent).")
    if path.resolve() == DEFAULT_CONFIG_PATH:
        raise ConfigError(f"{path}: {CONFIG_ENV_VAR} names the package's defaults, which an install replaces; "
                          f"unset it to use {user_config_path()}, or point it at a file of your own.")
    return path


def _make_private_folder(folder: Path) -> None:
    """`folder` and its missing parents, each created owner-only (0700) whatever the umask."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        path.mkdir(mode=0o700)
        path.chmod(0o700)


def _copy_private(source: Path, destination: Path) -> None:
    """Copy `source` to a new owner-only `destination`; never replaces a file (O_EXCL)."""
    fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(source.read_bytes())


def _new_config_text(config: Path, folder: Path) -> tuple[str | None, bool, str | None]:
    """(the config's new text, or None when it already points at `folder`; whether its comments were kept;
    the value it had). Refuses, changing nothing, a file that is not a YAML mapping of sections."""
    import yaml

    text = config.read_text(encoding="utf-8") if config.exists() else ""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config}: not valid YAML, so not changed: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get(SECTION) or {}, dict):
        raise ConfigError(f"{config}: '{SECTION}' must be a mapping in a mapping of sections; not changed. Fix the "
                          "file, then run this again.")
    old = (data.get(SECTION) or {}).get(KEY)
    if isinstance(old, str) and _same_folder(old, config, folder):
        return None, True, old
    new_text, kept = yaml_with_key(text, SECTION, KEY, str(folder))
    return new_text, kept, old


def _same_folder(value: str, config: Path, folder: Path) -> bool:
    path = Path(os.path.expandvars(os.path.expanduser(value)))
    return (path if path.is_absolute() else config.resolve().parent / path).resolve() == folder


def init_classifiers(target: str | Path | None = None, out=None) -> int:
    out = out or sys.stdout
    folder = (Path(target).expanduser() if target else default_classifiers_folder()).resolve()
    if folder == DEFAULT_CLASSIFIERS_DIR:
        raise ConfigError(f"{folder} is the package's own classifiers folder; name another folder.")
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is a file, not a folder; name a folder (it is created when missing).")
    config = config_file_to_edit()
    new_text, comments_kept, old = _new_config_text(config, folder)  # a config it cannot change stops here

    _make_private_folder(folder)
    copied, kept = [], []
    for source in sorted(DEFAULT_CLASSIFIERS_DIR.glob("*.yaml")):
        destination = folder / source.name
        if destination.exists():
            kept.append(source.name)
            continue
        _copy_private(source, destination)
        copied.append(source.name)
    if copied:
        print(f"copied {', '.join(copied)} from {DEFAULT_CLASSIFIERS_DIR} to {folder} (owner-only)", file=out)
    if kept:
        print(f"kept {', '.join(kept)} in {folder}: already there, not overwritten (delete one and run this again "
              "for its default)", file=out)

    if new_text is None:
        print(f"{config}: {SECTION}.{KEY} already points at {folder}; not changed", file=out)
    else:
        created = not config.exists()
        _make_private_folder(config.parent)
        replace_file(config, new_text, out)
        if created:
            print(f"created {config} (owner-only) with {SECTION}.{KEY}: {folder}", file=out)
        else:
            was = f" (it was {old})" if old is not None else ""
            print(f"set {SECTION}.{KEY}: {folder} in {config}{was}", file=out)
            if not comments_kept:
                print(f"{config}: its layout did not allow a change in place, so it was written anew with every key "
                      "but without its comments; the backup above keeps them", file=out)

    load_settings()  # what every command now reads loads (a problem elsewhere in the file is named here)
    example = folder / (copied or kept or ["message_kinds.yaml"])[0]
    print(f"next: edit a classifier (for example {example}); `star-pipeline build`, or `make dev`'s sensor within "
          f"30 s, classifies with its new version. `star-pipeline config` shows the setting.", file=out)
    return 0
