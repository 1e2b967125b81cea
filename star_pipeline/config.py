"""Loading and validating the project configuration (config/star_pipeline.yaml).

One place reads the configuration for every entry point (dagster dev, the
command line, the tests). `STAR_PIPELINE_CONFIG` names another file to use
instead of the default. Errors name the file and the key, so a user can fix
the file without reading code.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config" / "star_pipeline.yaml"
DEFAULT_CLASSIFIERS_DIR = PROJECT_ROOT / "config" / "classifiers"
CONFIG_ENV_VAR = "STAR_PIPELINE_CONFIG"
# DuckDB's memory limit for pipeline connections unless the config says otherwise: low enough that a
# gigabyte build stays near 1 GiB of memory in all (DuckDB spills joins and sorts to disk past it).
DEFAULT_MEMORY_LIMIT = "512MB"

_VAR_PATTERN = re.compile(r"\$\{(\w+)\}|\$(\w+)")


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class Settings:
    config_path: Path
    warehouse_path: Path
    lock_timeout_seconds: float
    memory_limit: str
    claude_code_roots: tuple[Path, ...]
    codex_roots: tuple[Path, ...]
    hook_spool_dir: Path
    partial_line_quiet_seconds: float
    classifiers_dir: Path


# key -> (type, default); nested dicts are sections. A default of REQUIRED means
# the key must be present.
REQUIRED = object()
_SCHEMA: dict = {
    "warehouse": {
        "path": (str, REQUIRED),
        "lock_timeout_seconds": ((int, float), 60),
        "memory_limit": (str, DEFAULT_MEMORY_LIMIT),
    },
    "sources": {
        "claude_code_roots": (list, []),
        "codex_roots": (list, []),
        "hook_spool_dir": (str, REQUIRED),
    },
    "raw": {
        "partial_line_quiet_seconds": ((int, float), 600),
    },
    "classified": {
        "classifiers_dir": (str, None),
    },
}


def config_path_from_env() -> Path:
    value = os.environ.get(CONFIG_ENV_VAR)
    return Path(value).expanduser() if value else DEFAULT_CONFIG_PATH


def load_settings(path: Path | str | None = None) -> Settings:
    """Read and validate the configuration; `path` defaults to $STAR_PIPELINE_CONFIG or the default file."""
    import yaml  # imported here so the hook command never pays for it

    config_path = Path(path) if path else config_path_from_env()
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{config_path}: configuration file not found. Create it (copy {DEFAULT_CONFIG_PATH}) "
            f"or point {CONFIG_ENV_VAR} at an existing file."
        ) from None
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read the configuration file ({exc.strerror}).") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config_path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: the top level must be a mapping of sections {sorted(_SCHEMA)}.")
    values = _validate(config_path, raw, _SCHEMA, prefix="")
    base = config_path.resolve().parent

    def one_path(key: str) -> Path:
        expanded = _expand(values[key], config_path, key)
        return _absolute(expanded, base)

    return Settings(
        config_path=config_path.resolve(),
        warehouse_path=one_path("warehouse.path"),
        lock_timeout_seconds=float(values["warehouse.lock_timeout_seconds"]),
        memory_limit=values["warehouse.memory_limit"],
        claude_code_roots=_roots(values["sources.claude_code_roots"], config_path, "sources.claude_code_roots", base),
        codex_roots=_roots(values["sources.codex_roots"], config_path, "sources.codex_roots", base),
        hook_spool_dir=one_path("sources.hook_spool_dir"),
        partial_line_quiet_seconds=float(values["raw.partial_line_quiet_seconds"]),
        classifiers_dir=one_path("classified.classifiers_dir")
        if values["classified.classifiers_dir"]
        else DEFAULT_CLASSIFIERS_DIR,
    )


def _validate(config_path: Path, raw: dict, schema: dict, prefix: str) -> dict:
    out: dict = {}
    for key in raw:
        if key not in schema:
            raise ConfigError(
                f"{config_path}: unknown key '{prefix}{key}'. Known keys here: {', '.join(sorted(schema))}."
            )
    for key, spec in schema.items():
        dotted = f"{prefix}{key}"
        if isinstance(spec, dict):
            section = raw.get(key, {})
            if section is None:
                section = {}
            if not isinstance(section, dict):
                raise ConfigError(f"{config_path}: '{dotted}' must be a mapping, got {type(section).__name__}.")
            out.update(_validate(config_path, section, spec, prefix=f"{dotted}."))
            continue
        expected, default = spec
        if key not in raw or raw[key] is None:
            if default is REQUIRED:
                raise ConfigError(f"{config_path}: missing required key '{dotted}'.")
            out[dotted] = default
            continue
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, expected):
            names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
            raise ConfigError(f"{config_path}: '{dotted}' must be {names}, got {type(value).__name__} ({value!r}).")
        if expected is list:
            for item in value:
                if not isinstance(item, str):
                    raise ConfigError(f"{config_path}: every entry of '{dotted}' must be a string path, got {item!r}.")
        out[dotted] = value
    return out


def _expand(value: str, config_path: Path, key: str) -> str:
    missing = [a or b for a, b in _VAR_PATTERN.findall(value) if (a or b) not in os.environ]
    if missing:
        raise ConfigError(f"{config_path}: '{key}' uses ${missing[0]}, which is not set.")
    return os.path.expanduser(_VAR_PATTERN.sub(lambda m: os.environ[m.group(1) or m.group(2)], value))


def _roots(entries: list[str], config_path: Path, key: str, base: Path) -> tuple[Path, ...]:
    """Expand a list of source roots: unset variables drop the entry, comma lists fan out."""
    roots: list[Path] = []
    for entry in entries:
        names = [a or b for a, b in _VAR_PATTERN.findall(entry)]
        if any(name not in os.environ or not os.environ[name] for name in names):
            continue
        candidates = [entry]
        for name in names:
            parts = [p.strip() for p in os.environ[name].split(",") if p.strip()]
            candidates = [c.replace("${%s}" % name, part).replace("$%s" % name, part) for c in candidates for part in parts]
        for candidate in candidates:
            path = _absolute(os.path.expanduser(candidate), base)
            if path not in roots:
                roots.append(path)
    return tuple(roots)


def _absolute(value: str, base: Path) -> Path:
    path = Path(value)
    return path if path.is_absolute() else (base / path)
