"""Loading and validating the project configuration.

One place reads the configuration for every entry point (dagster dev, the
command line, the tests): the defaults (config/star_pipeline.yaml at the top of
the checkout, star_pipeline/defaults/ in an installed package: storage/shipped_files.py),
overlaid key by key by the user's file, which is the file `STAR_PIPELINE_CONFIG`
names, else `$XDG_CONFIG_HOME/star_pipeline/config.yaml` (`~/.config/...`) when
it exists. A key the user's file sets replaces the default
whole (a list of roots included); every other key keeps its default. Errors name
the file and the key, so a user can fix the file without reading code.
`star-pipeline config` (run_show_config, at the end) prints the result, each value with where it came from.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from star_pipeline.storage.machine_id import MACHINE_ID_PATTERN, default_machine_id
from star_pipeline.storage.project_folders import DEFAULT_SCAN_DEPTH
from star_pipeline.storage.shipped_files import DEFAULTS_DIR

# The defaults: config/ in a checkout, star_pipeline/defaults/ in an installed copy, which needs no checkout.
DEFAULT_CONFIG_PATH = DEFAULTS_DIR / "star_pipeline.yaml"
DEFAULT_CLASSIFIERS_DIR = DEFAULTS_DIR / "classifiers"
CONFIG_ENV_VAR = "STAR_PIPELINE_CONFIG"
# `warehouse.memory_limit: auto` (the default): a quarter of the machine's memory, at least 1 GiB and
# at most 4 GiB. DuckDB spills joins and sorts to disk past its limit, and the work is cut so that peak
# memory does not grow with the corpus; the limit is headroom for what cannot spill (long lines being
# reassembled, one file's JSON), not a budget that ordinary data should exhaust.
AUTO_MEMORY_LIMIT = "auto"
MIN_AUTO_MEMORY_BYTES = 1 << 30
MAX_AUTO_MEMORY_BYTES = 4 << 30
_SIZE_UNITS = {
    "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}
_SIZE_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")

_VAR_PATTERN = re.compile(r"\$\{(\w+)\}|\$(\w+)")


MAKE_DEV_DAGSTER_HOME = "~/.local/share/star_pipeline/dagster_home"
"""The DAGSTER_HOME `make dev` and `make build` use unless told otherwise (the Makefile's default)."""


def dagster_home() -> Path | None:
    """$DAGSTER_HOME, else `make dev`'s when it has been set up (it holds dagster.yaml), else None."""
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"])
    default = Path(MAKE_DEV_DAGSTER_HOME).expanduser()
    return default if (default / "dagster.yaml").exists() else None


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class Settings:
    config_path: Path
    warehouse_path: Path
    lock_timeout_seconds: float
    memory_limit: str
    roots: dict[str, tuple[Path, ...]]  # per source name (star_pipeline/sources), the folders its files are in
    partial_line_quiet_seconds: float
    classifiers_dir: Path
    embedding_model: str = "wordllama"  # search: the model that embeds texts (storage/embeddings.py)
    # warehouse.kind: ducklake (storage/warehouse/lake_engine.py): the lake's catalog and data folder; "" for the single file
    lake_catalog: str = ""
    lake_data_path: str = ""
    # warehouse.published_path (a lake only): the folder the writer publishes its read-only copies to and every team
    # machine reads them from (None: beside this machine's warehouse.path, as on the single file)
    published_path: Path | None = None
    # Where agents that write into project folders (Crush, Aider) are looked for (storage/project_folders.py):
    # `sources.project_roots` (None: the home folder and the folders of recorded sessions), so many folders deep
    project_roots: tuple[Path, ...] | None = None
    project_scan_depth: int = 4

    @property
    def lake(self):
        """The DuckLake this configuration names (storage/warehouse/lake_engine.py's LakeLocation), or None for
        the single file."""
        if not self.lake_catalog:
            return None
        from star_pipeline.storage.warehouse import LakeLocation

        return LakeLocation(self.lake_catalog, self.lake_data_path)

    @property
    def published_anchor(self) -> Path:
        """What the published copies are named after (`<anchor>.reports.duckdb`, `.search.duckdb`, the statusline,
        budgets and brief files): the writer publishes there and every reader, on any team machine, reads there.
        On a lake, `<warehouse.published_path>/warehouse.duckdb`, the same on every machine; else
        `warehouse_path`, this machine's own."""
        return self.published_path / PUBLISHED_ANCHOR_NAME if self.published_path is not None else self.warehouse_path

    def connect_options(self) -> dict:
        """What `storage.warehouse.connect(settings.warehouse_path, ...)` needs beside the path."""
        return {"lock_timeout_seconds": self.lock_timeout_seconds, "lake": self.lake}
    # machine.id: written on every raw row and manifest row this machine captures (default: the host name)
    machine_id: str = field(default_factory=default_machine_id)
    # machine.role: "writer" (rebuilds every layer) or "raw-only" (a team member's machine on a DuckLake:
    # captures its own raw lines; its sensors start only capture runs and it has no schedules)
    machine_role: str = "writer"
    # budgets: the limits `star-pipeline budgets`, the guard, the statusline, the dashboard and MCP watch (Budget)
    budgets: tuple = ()

    @property
    def hook_spool_dir(self) -> Path:
        """Where `star-pipeline hook` appends events: the hook spool source's one folder."""
        return self.roots["hook_spool"][0]


# key -> (type, default); nested dicts are sections. A default of REQUIRED means the defaults file
# must set it (the user's file then need not).
REQUIRED = object()
_SCHEMA: dict = {
    "warehouse": {
        "kind": (str, "duckdb"),
        "path": (str, REQUIRED),
        "catalog": (str, None),
        "data_path": (str, None),
        "published_path": (str, None),
        "lock_timeout_seconds": ((int, float), 60),
        "memory_limit": (str, AUTO_MEMORY_LIMIT),
    },
    "sources": {},  # one key per registered source: see _source_keys
    "raw": {
        "partial_line_quiet_seconds": ((int, float), 600),
    },
    "classified": {
        "classifiers_dir": (str, None),
    },
    "search": {
        "embedding_model": (str, "wordllama"),
    },
    "machine": {
        "id": (str, None),
        "role": (str, "writer"),
    },
    "budgets": (list, []),  # a list of mappings, checked by parse_budgets (not a section)
}


def _source_keys() -> dict:
    """`sources.<roots_key>` of every registered source: a list of roots (default: the source's own), or one
    folder (the hook spool, required)."""
    from star_pipeline.sources import SOURCES

    keys = {s.roots_key: (str, REQUIRED) if s.single_root else (list, list(s.default_roots)) for s in SOURCES}
    # the scan for project folders, shared by the agents that write into them (storage/project_folders.py)
    return {**keys, "project_roots": (list, None), "project_scan_depth": (int, DEFAULT_SCAN_DEPTH)}


def user_config_path() -> Path:
    """Where the user's configuration file is looked for when STAR_PIPELINE_CONFIG is unset:
    `$XDG_CONFIG_HOME/star_pipeline/config.yaml`, or `~/.config/...` (the XDG spec ignores a relative
    XDG_CONFIG_HOME, and so does this)."""
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path("~/.config").expanduser()
    return base / "star_pipeline" / "config.yaml"


@dataclass(frozen=True)
class UserConfigFile:
    """The user's configuration file and how it was chosen; `path` is None when there is none (the defaults
    alone)."""

    path: Path | None
    chosen_by: str  # "STAR_PIPELINE_CONFIG", "the XDG path", "the caller"; for None, what was looked for


def find_user_config(path: Path | str | None = None) -> UserConfigFile:
    """The file that overlays the defaults: `path`, else $STAR_PIPELINE_CONFIG (which must exist), else the
    XDG path when it exists. The defaults file named as the user's file means the defaults alone."""
    if path:
        chosen = UserConfigFile(Path(path).expanduser(), "the caller")
    elif os.environ.get(CONFIG_ENV_VAR):
        chosen = UserConfigFile(Path(os.environ[CONFIG_ENV_VAR]).expanduser(), CONFIG_ENV_VAR)
    else:
        xdg_path = user_config_path()
        if not xdg_path.exists():
            return UserConfigFile(None, f"{xdg_path} does not exist")
        chosen = UserConfigFile(xdg_path, "the XDG path")
    if chosen.path.exists() and chosen.path.resolve() == DEFAULT_CONFIG_PATH:
        return UserConfigFile(None, f"{chosen.chosen_by} names the defaults file")
    return chosen


@dataclass(frozen=True)
class ConfigLayers:
    """Every key's value (dotted: `warehouse.path`) and the file it was read from: the user's file for the keys
    it sets, the defaults file for the others (also for defaults built into the code, such as an agent's
    roots). Relative paths are relative to that file's folder, and errors name it."""

    values: dict[str, object]
    files: dict[str, Path]
    user: UserConfigFile

    def file(self, key: str) -> Path:
        return self.files[key]

    def base(self, key: str) -> Path:
        return self.files[key].resolve().parent

    def from_user_file(self, key: str) -> bool:
        return self.user.path is not None and self.files[key] == self.user.path


def _read_yaml_mapping(config_path: Path, what: str) -> dict:
    import yaml  # imported here so the hook command never pays for it

    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{config_path}: configuration file not found ({what}). Create it (only the keys you change: the "
            f"defaults are in {DEFAULT_CONFIG_PATH}, `star-pipeline config` shows them) or point {CONFIG_ENV_VAR} "
            f"at an existing file."
        ) from None
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read the configuration file ({exc.strerror}).") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config_path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: the top level must be a mapping of sections {sorted(_SCHEMA)}.")
    return raw


def read_layers(path: Path | str | None = None) -> ConfigLayers:
    """The defaults overlaid by the user's file (see `find_user_config`), each checked for unknown keys and
    wrong types; nothing interpreted yet (paths, sizes: `settings_from`)."""
    user = find_user_config(path)
    schema = {**_SCHEMA, "sources": _source_keys()}
    given_by_defaults = _validate(DEFAULT_CONFIG_PATH, _read_yaml_mapping(DEFAULT_CONFIG_PATH, "the defaults"),
                                  schema, prefix="")
    given_by_user = {}
    if user.path is not None:
        given_by_user = _validate(user.path, _read_yaml_mapping(user.path, f"named by {user.chosen_by}"),
                                  schema, prefix="")
    values: dict[str, object] = {}
    files: dict[str, Path] = {}
    for key, (_, default) in _flat(schema).items():
        if key in given_by_user:
            values[key], files[key] = given_by_user[key], user.path
        elif key in given_by_defaults or default is not REQUIRED:
            values[key], files[key] = given_by_defaults.get(key, default), DEFAULT_CONFIG_PATH
        else:
            raise ConfigError(f"{user.path or DEFAULT_CONFIG_PATH}: missing required key '{key}', which the defaults "
                              f"({DEFAULT_CONFIG_PATH}) should set: set it, or reinstall star_pipeline.")
    return ConfigLayers(values, files, user)


def load_settings(path: Path | str | None = None) -> Settings:
    """Read and validate the configuration: the defaults overlaid by `path`, else by $STAR_PIPELINE_CONFIG,
    else by the XDG path's file when it exists."""
    return settings_from(read_layers(path))


def settings_from(layers: ConfigLayers) -> Settings:
    """The settings the layers give: paths expanded and resolved from the folder of the file that set them, sizes
    and names checked (each error names that file)."""
    values = layers.values

    def one_path(key: str) -> Path:
        expanded = _expand(values[key], layers.file(key), key)
        return _absolute(expanded, layers.base(key))

    for key in ("warehouse.lock_timeout_seconds", "raw.partial_line_quiet_seconds"):
        if values[key] < 0:
            raise ConfigError(f"{layers.file(key)}: '{key}' must be 0 or more seconds, got {values[key]!r}.")
    key = "classified.classifiers_dir"
    classifiers_dir = one_path(key) if values[key] else DEFAULT_CLASSIFIERS_DIR
    if not classifiers_dir.is_dir():
        raise ConfigError(
            f"{layers.file(key)}: '{key}' is {classifiers_dir}, which is not a folder. Point it at the folder of "
            f"classifier YAML files (`star-pipeline classifiers init` makes one from the defaults in "
            f"{DEFAULT_CLASSIFIERS_DIR}), or remove the key."
        )
    lake_catalog, lake_data_path = lake_settings(layers, one_path)
    return Settings(
        machine_id=machine_id(values["machine.id"], layers.file("machine.id")),
        machine_role=machine_role(values["machine.role"], layers.file("machine.role")),
        config_path=(layers.user.path or DEFAULT_CONFIG_PATH).resolve(),
        warehouse_path=one_path("warehouse.path"),
        lock_timeout_seconds=float(values["warehouse.lock_timeout_seconds"]),
        memory_limit=resolve_memory_limit(values["warehouse.memory_limit"], layers.file("warehouse.memory_limit")),
        roots=source_roots(layers, one_path),
        partial_line_quiet_seconds=float(values["raw.partial_line_quiet_seconds"]),
        classifiers_dir=classifiers_dir,
        embedding_model=values["search.embedding_model"],
        lake_catalog=lake_catalog,
        lake_data_path=lake_data_path,
        published_path=published_folder(layers, one_path, lake_data_path),
        budgets=parse_budgets(values[BUDGETS_KEY], layers.file(BUDGETS_KEY)),
        project_roots=(None if values["sources.project_roots"] is None
                       else expand_roots(values["sources.project_roots"], layers.base("sources.project_roots"))),
        project_scan_depth=scan_depth(values["sources.project_scan_depth"], layers.file("sources.project_scan_depth")),
    )


def scan_depth(value: int, config_path: Path) -> int:
    if not 0 <= value <= 12:
        raise ConfigError(f"{config_path}: 'sources.project_scan_depth' must be 0 to 12 (folders below the home folder or "
                          f"each of sources.project_roots to look for project folders in), got {value!r}.")
    return value


# budgets: limits a user sets once (docs/reference/configuration.md), each a mapping such as
#   {name: daily, period: day, limit_usd: 20, action: warn, warn_at: 0.8}
# watched by `star-pipeline budgets` (reports/budgets.py), the guard hook, the statusline, the dashboard, MCP and the
# budgets_within_limits check. The names of the keys are the interface: keep them.
BUDGETS_KEY = "budgets"
BUDGET_PERIODS = ("day", "week", "month", "block", "session")
BUDGET_ACTIONS = ("warn", "block")
BUDGET_KEYS = ("name", "period", "limit_usd", "limit_tokens", "action", "warn_at", "project", "source", "machine",
               "model")
DEFAULT_WARN_AT = 0.8
_BUDGET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$")


@dataclass(frozen=True)
class Budget:
    """One entry of `budgets`: a limit in USD or tokens per period, for the calls its filters select."""

    name: str
    period: str  # BUDGET_PERIODS: day, week, month (in the report time zone), block (the current 5 hours), session
    action: str  # warn: say so; block: the guard refuses prompts and tool calls once it is over
    limit_usd: float | None = None
    limit_tokens: int | None = None
    warn_at: float = DEFAULT_WARN_AT  # the fraction of the limit past which it warns
    project: str | None = None  # an absolute project path (as the config's `~/src/x` expands)
    source: str | None = None
    machine: str | None = None
    model: str | None = None

    @property
    def limit(self) -> float:
        return self.limit_usd if self.limit_usd is not None else self.limit_tokens

    def filters(self) -> dict:
        return {"project": self.project, "source": self.source, "machine": self.machine, "model": self.model}


def parse_budgets(entries: list, config_path: Path) -> tuple[Budget, ...]:
    """The `budgets` list as Budget entries; a bad entry is a ConfigError naming the file and the entry."""
    from star_pipeline.sources import SOURCES

    budgets: list[Budget] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{config_path}: budgets entry {number}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a mapping such as {{name: daily, period: day, limit_usd: 20, "
                              f"action: warn}}, got {entry!r}.")
        name = entry.get("name")
        if isinstance(name, str) and name:
            where += f" ({name})"
        unknown = sorted(set(map(str, entry)) - set(BUDGET_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r}. Known keys: {', '.join(BUDGET_KEYS)}.")
        if not isinstance(name, str) or not _BUDGET_NAME.match(name):
            raise ConfigError(f"{where}: 'name' must be a name of letters, digits, '.', '_', '-' or spaces (at most "
                              f"64), got {name!r}.")
        if any(b.name == name for b in budgets):
            raise ConfigError(f"{where}: another entry is already named {name!r}; each budget needs its own name.")
        period = entry.get("period")
        if period not in BUDGET_PERIODS:
            raise ConfigError(f"{where}: 'period' must be one of {', '.join(BUDGET_PERIODS)}, got {period!r}.")
        action = entry.get("action", "warn")
        if action not in BUDGET_ACTIONS:
            raise ConfigError(f"{where}: 'action' must be warn or block, got {action!r}.")
        limit_usd, limit_tokens = entry.get("limit_usd"), entry.get("limit_tokens")
        if (limit_usd is None) == (limit_tokens is None):
            raise ConfigError(f"{where}: give exactly one of 'limit_usd' (dollars) and 'limit_tokens'.")
        for key, value, kinds in (("limit_usd", limit_usd, (int, float)), ("limit_tokens", limit_tokens, (int,))):
            if value is not None and (isinstance(value, bool) or not isinstance(value, kinds) or value <= 0):
                raise ConfigError(f"{where}: '{key}' must be a number above 0"
                                  f"{' (whole tokens)' if key == 'limit_tokens' else ''}, got {value!r}.")
        warn_at = entry.get("warn_at", DEFAULT_WARN_AT)
        if isinstance(warn_at, bool) or not isinstance(warn_at, (int, float)) or not 0 < warn_at <= 1:
            raise ConfigError(f"{where}: 'warn_at' must be a fraction of the limit above 0 and at most 1 (0.8 warns "
                              f"at 80%), got {warn_at!r}.")
        for key in ("project", "source", "machine", "model"):
            if entry.get(key) is not None and (not isinstance(entry[key], str) or not entry[key].strip()):
                raise ConfigError(f"{where}: '{key}' must be a non-empty string, got {entry[key]!r}.")
        source = entry.get("source")
        names = [s.name for s in SOURCES]
        if source is not None and source not in names:
            raise ConfigError(f"{where}: 'source' must be one of {', '.join(names)}, got {source!r}.")
        project = entry.get("project")
        if project is not None:
            project = str(_absolute(_expand(project, config_path, f"budgets entry {number} project"),
                                    config_path.resolve().parent))
        budgets.append(Budget(
            name=name, period=period, action=action,
            limit_usd=float(limit_usd) if limit_usd is not None else None, limit_tokens=limit_tokens,
            warn_at=float(warn_at), project=project, source=source, machine=entry.get("machine"),
            model=entry.get("model"),
        ))
    return tuple(budgets)


WAREHOUSE_KINDS = ("duckdb", "ducklake")


def lake_settings(layers: ConfigLayers, one_path) -> tuple[str, str]:
    """(catalog, data_path) of `warehouse.kind: ducklake`, or ("", "") for the single DuckDB file.

    The catalog is `postgres:<libpq connection string>` (a team), `sqlite:<file>`, or a DuckDB catalog file
    (one machine); a file path is resolved like every other path here. The data path is a folder (resolved,
    ending in "/") or an `s3://` URL, kept as written.
    """
    values = layers.values
    kind, catalog, data_path = values["warehouse.kind"], values["warehouse.catalog"], values["warehouse.data_path"]
    kind_file, catalog_file = layers.file("warehouse.kind"), layers.file("warehouse.catalog")
    if kind not in WAREHOUSE_KINDS:
        raise ConfigError(f"{kind_file}: 'warehouse.kind' must be one of {', '.join(WAREHOUSE_KINDS)}, got {kind!r}.")
    if kind == "duckdb":
        for key, value in (("warehouse.catalog", catalog), ("warehouse.data_path", data_path)):
            if value:
                raise ConfigError(f"{layers.file(key)}: '{key}' is only for 'warehouse.kind: ducklake'; set the kind, "
                                  "or remove the key.")
        return "", ""
    for key, value, example in (("warehouse.catalog", catalog, "postgres:dbname=star_pipeline host=db.example"),
                                ("warehouse.data_path", data_path, "/srv/team-lake/")):
        if not value:
            raise ConfigError(f"{kind_file}: 'warehouse.kind: ducklake' needs '{key}' (for example {example!r}).")
    from star_pipeline.storage.warehouse import POSTGRES_PREFIX, SQLITE_PREFIX, catalog_password_problem

    problem = catalog_password_problem(catalog)
    if problem:
        raise ConfigError(f"{catalog_file}: 'warehouse.catalog' {problem}")
    if catalog.startswith(SQLITE_PREFIX):
        sqlite_file = _expand(catalog.removeprefix(SQLITE_PREFIX), catalog_file, "warehouse.catalog")
        catalog = SQLITE_PREFIX + str(_absolute(sqlite_file, layers.base("warehouse.catalog")))
    elif not catalog.startswith(POSTGRES_PREFIX):
        catalog = str(one_path("warehouse.catalog"))
    if not data_path.startswith("s3://"):
        data_path = str(one_path("warehouse.data_path")).rstrip("/") + "/"
    return catalog, data_path


PUBLISHED_ANCHOR_NAME = "warehouse.duckdb"
PUBLISHED_SUFFIX = "-published"


def published_folder(layers: ConfigLayers, one_path, lake_data_path: str) -> Path | None:
    """`warehouse.published_path` resolved, or its default: for a lake whose data folder is local, the folder
    beside it named `<data folder>-published` (never inside it: the lake's cleanup deletes any file there it does
    not track); None (copies beside warehouse.path) for the single file and for an `s3://` data path."""
    key = "warehouse.published_path"
    if not lake_data_path:
        if layers.values[key]:
            raise ConfigError(f"{layers.file(key)}: '{key}' is only for 'warehouse.kind: ducklake' (the single file's "
                              "copies are beside warehouse.path); set the kind, or remove the key.")
        return None
    if layers.values[key]:
        folder = one_path(key)
    elif lake_data_path.startswith("s3://"):
        return None
    else:
        data = Path(lake_data_path.rstrip("/"))
        folder = data.with_name(data.name + PUBLISHED_SUFFIX)
    inside = lake_data_path if not lake_data_path.startswith("s3://") else None
    if inside and (folder == Path(inside) or Path(inside) in folder.parents):
        raise ConfigError(f"{layers.file(key)}: '{key}' is {folder}, inside warehouse.data_path ({inside}): the lake's "
                          "cleanup deletes every file there it does not track. Choose a folder outside it (the "
                          f"default is beside it: {Path(inside.rstrip('/')).name}{PUBLISHED_SUFFIX}).")
    return folder


MACHINE_ROLES = ("writer", "raw-only")


def machine_role(value: str, config_path: Path) -> str:
    if value not in MACHINE_ROLES:
        raise ConfigError(f"{config_path}: 'machine.role' must be one of {', '.join(MACHINE_ROLES)}, got {value!r}. "
                          "writer rebuilds every layer; raw-only (a team member's machine on a DuckLake) captures "
                          "its own lines and leaves the rest to the writer.")
    return value


def machine_id(value: str | None, config_path: Path) -> str:
    """`machine.id` checked (letters, digits, `.`, `_`, `-`), or this host's name when unset."""
    if value is None:
        return default_machine_id()
    if not MACHINE_ID_PATTERN.fullmatch(value):
        raise ConfigError(
            f"{config_path}: 'machine.id' must be a non-empty name of letters, digits, '.', '_' or '-' "
            f"(it names this machine in the warehouse), got {value!r}. Remove the key to use the host name."
        )
    return value


def source_roots(layers: ConfigLayers, one_path) -> dict[str, tuple[Path, ...]]:
    from star_pipeline.sources import SOURCES

    roots = {}
    for source in SOURCES:
        key = f"sources.{source.roots_key}"
        roots[source.name] = (one_path(key),) if source.single_root else expand_roots(layers.values[key], layers.base(key))
    return roots


def size_in_bytes(text: str) -> int | None:
    """Bytes of a size such as "512MB", "1.5GiB" or "2gb" (decimal or binary units); None if not a size."""
    match = _SIZE_PATTERN.match(text)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        return None
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def machine_memory_bytes() -> int | None:
    """Physical memory, or the cgroup's limit when the process runs in a smaller container; None if unknown."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = None
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and (total is None or int(text) < total):
            total = int(text)
    return total


def auto_memory_limit(machine_bytes: int | None = None) -> str:
    """A quarter of the machine's memory, within [1 GiB, 4 GiB], in MiB as DuckDB takes it."""
    machine_bytes = machine_memory_bytes() if machine_bytes is None else machine_bytes
    quarter = (machine_bytes or 0) // 4
    return f"{min(max(quarter, MIN_AUTO_MEMORY_BYTES), MAX_AUTO_MEMORY_BYTES) >> 20}MiB"


def resolve_memory_limit(value: str, config_path: Path) -> str:
    """The DuckDB memory limit `warehouse.memory_limit` asks for ("auto" resolved for this machine)."""
    if value.strip().lower() == AUTO_MEMORY_LIMIT:
        return auto_memory_limit()
    size = size_in_bytes(value)
    if size is None:
        raise ConfigError(
            f"{config_path}: 'warehouse.memory_limit' must be a size such as 2GB or 512MiB, or auto "
            f"(a quarter of this machine's memory, 1-4 GiB); got {value!r}."
        )
    if size < 64 << 20:
        raise ConfigError(f"{config_path}: 'warehouse.memory_limit' is {value!r}; DuckDB needs at least 64MB to work.")
    return value.strip()


def _flat(schema: dict, prefix: str = "") -> dict:
    """`_SCHEMA` with dotted keys: {"warehouse.path": (str, REQUIRED), ...}."""
    flat = {}
    for key, spec in schema.items():
        flat.update(_flat(spec, f"{prefix}{key}.") if isinstance(spec, dict) else {f"{prefix}{key}": spec})
    return flat


def _validate(config_path: Path, raw: dict, schema: dict, prefix: str) -> dict:
    """The keys `raw` sets (dotted; a null is unset), each of the schema's type; an unknown key or a wrong type
    is an error naming `config_path` and the key."""
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
        expected, _ = spec
        if key not in raw or raw[key] is None:
            continue
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, expected):
            names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
            raise ConfigError(f"{config_path}: '{dotted}' must be {names}, got {type(value).__name__} ({value!r}).")
        if expected is list and dotted != BUDGETS_KEY:
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


def expand_roots(entries: list[str], base: Path) -> tuple[Path, ...]:
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


def variables_set_in(text: str) -> list[str]:
    """The environment variables `text` expands that are set and not empty, in order."""
    names = [a or b for a, b in _VAR_PATTERN.findall(text)]
    return [name for name in dict.fromkeys(names) if os.environ.get(name)]


def _absolute(value: str, base: Path) -> Path:
    path = Path(value)
    return path if path.is_absolute() else (base / path)


# `star-pipeline config`: the effective configuration, and where each value came from.
# The configuration is the defaults overlaid by the user's file, and a value may expand an environment variable
# (`$CLAUDE_CONFIG_DIR/projects`); a user who wonders which warehouse a command reads, or why a folder is scanned,
# reads the answer here instead of merging files in their head. The output is YAML: paths resolved, one comment per
# value saying default, file (the user's) and environment (the variables it expanded); a part of it copied into the
# user's file sets those keys.


def yaml_scalar(value) -> str:
    """`value` as a YAML flow scalar, quoted only when it must be: as `config` prints it and `classifiers init`
    writes it into the user's file (agent_side/settings_files.py)."""
    import yaml

    return yaml.safe_dump([value], default_flow_style=True, width=1 << 30, allow_unicode=True).strip()[1:-1]


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
    if key == "warehouse.published_path":
        return str(settings.published_path) if settings.published_path is not None else None
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
    if key == "warehouse.published_path" and value is None and settings.lake_data_path:
        return (": beside the data folder" if settings.published_path is not None else
                ": none for an s3:// data path: the copies are beside warehouse.path (set it to share them)")
    if key == "machine.id" and value is None:
        return ": the host name"
    if key == "classified.classifiers_dir" and settings.classifiers_dir == DEFAULT_CLASSIFIERS_DIR:
        return ": the package's own (`star-pipeline classifiers init` makes a copy to edit)"
    if key == "sources.project_roots" and value is None:
        return (f": the home folder, {settings.project_scan_depth} folders deep, and the folders of recorded sessions "
                "(storage/project_folders.py)")
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
        if key == BUDGETS_KEY:
            lines.extend(_budget_lines(layers, settings))
            section = None
            continue
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


def _budget_lines(layers: ConfigLayers, settings: Settings) -> list[str]:
    """`budgets:`, one line per entry as the commands use it (a project path expanded, warn_at filled in)."""
    origin = _origin(layers, BUDGETS_KEY)
    if not settings.budgets:
        return [_line("budgets: []", origin)]
    lines = ["budgets:"]
    for budget in settings.budgets:
        fields = {k: v for k, v in vars(budget).items() if v is not None}
        lines.append(_line(f"  - {yaml_scalar(fields)}", origin))
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
