"""Configuration: defaults overlaid by the user's file (found at the XDG path or by STAR_PIPELINE_CONFIG),
expansion, `star-pipeline config`, and errors that name the file and key."""

import dataclasses
import re
from pathlib import Path

import pytest

from star_pipeline.config import (
    DEFAULT_CLASSIFIERS_DIR, DEFAULT_CONFIG_PATH, ConfigError, auto_memory_limit, load_settings,
)
from star_pipeline_tests.conftest import REPO_ROOT


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


MINIMAL = "warehouse:\n  path: w.duckdb\nsources:\n  hook_spool_dir: spool\n"


def test_default_config_loads_with_documented_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("CODEX_HOME", raising=False)
    settings = load_settings(DEFAULT_CONFIG_PATH)
    assert settings.warehouse_path == tmp_path / ".local/share/star_pipeline/warehouse.duckdb"
    assert settings.roots["claude_code"] == (tmp_path / ".claude/projects", tmp_path / ".config/claude/projects")
    assert settings.roots["codex"] == (tmp_path / ".codex/sessions", tmp_path / ".codex/archived_sessions")
    assert settings.partial_line_quiet_seconds == 600


def test_a_source_the_config_leaves_out_reads_its_agents_default_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("CODEX_HOME", raising=False)
    defaults = load_settings(write(tmp_path, MINIMAL))
    assert defaults.roots["codex"] == (tmp_path / ".codex/sessions", tmp_path / ".codex/archived_sessions")
    replaced = load_settings(write(tmp_path, MINIMAL + "  codex_roots: []\n"))
    assert replaced.roots["codex"] == ()


def test_env_var_names_the_file_that_overlays_the_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("STAR_PIPELINE_CONFIG", str(write(tmp_path, MINIMAL)))
    settings = load_settings()
    assert settings.warehouse_path == tmp_path / "w.duckdb"  # relative to the config file
    assert settings.hook_spool_dir == tmp_path / "spool"
    assert settings.config_path == tmp_path / "c.yaml"


def readme_yaml_blocks() -> list[str]:
    """The YAML examples of the README and the docs (the team snippet: docs/guide/team.md; the memory limit:
    docs/reference/configuration.md)."""
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]
    return [block for page in pages for block in re.findall(r"^```yaml\n(.*?)^```", page.read_text(), flags=re.S | re.M)]


def xdg_config(monkeypatch, tmp_path, text: str | None) -> Path:
    """`text` as the user's file at $XDG_CONFIG_HOME/star_pipeline/config.yaml (None: no file there)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    path = tmp_path / "xdg" / "star_pipeline" / "config.yaml"
    if text is not None:
        path.parent.mkdir(parents=True)
        path.write_text(text)
    return path


def test_the_readmes_team_config_loads_over_the_defaults(monkeypatch, tmp_path):
    """The docs' team snippet sets only kind, catalog, data_path and the machine: warehouse.path and the
    hook spool (which the pipeline needs) come from the defaults."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    [team] = [block for block in readme_yaml_blocks() if "kind: ducklake" in block]
    assert "path:" not in team.replace("data_path:", "")  # the snippet as the issue had it: no warehouse.path
    xdg_config(monkeypatch, tmp_path, team)
    settings = load_settings()
    assert settings.lake_catalog == "postgres:dbname=star_pipeline host=db.example user=alice"
    assert settings.lake_data_path == "/srv/team-lake/"
    # the writer's copies, which every member reads: beside the data folder, the same on every machine
    assert settings.published_anchor == Path("/srv/team-lake-published/warehouse.duckdb")
    assert (settings.machine_id, settings.machine_role) == ("alice-laptop", "raw-only")
    assert settings.warehouse_path == tmp_path / "home/.local/share/star_pipeline/warehouse.duckdb"
    assert settings.hook_spool_dir == tmp_path / "home/.local/share/star_pipeline/spool"
    assert settings.classifiers_dir == DEFAULT_CLASSIFIERS_DIR  # the defaults' relative path, from their folder


LAKE = "  kind: ducklake\n  catalog: 'postgres:dbname=x'\n"


@pytest.mark.parametrize("yaml, published", [
    ("", None),  # the single file: its copies beside warehouse.path
    (LAKE + "  data_path: /srv/team-lake/\n", "/srv/team-lake-published"),
    (LAKE + "  data_path: /srv/team-lake\n  published_path: /srv/copies\n", "/srv/copies"),
    (LAKE + "  data_path: s3://bucket/lake/\n", None),  # nothing local to sit beside: this machine's own
    (LAKE + "  data_path: s3://bucket/lake/\n  published_path: /mnt/team/copies\n", "/mnt/team/copies"),
])
def test_the_published_copies_are_beside_the_lakes_data_folder_unless_set(sandbox, yaml, published):
    sandbox.config_path.write_text(sandbox.config_path.read_text().replace("warehouse:\n", "warehouse:\n" + yaml, 1))
    settings = load_settings(sandbox.config_path)
    assert settings.published_path == (Path(published) if published else None)
    assert settings.published_anchor == (Path(published) / "warehouse.duckdb" if published else settings.warehouse_path)


@pytest.mark.parametrize("yaml, message", [
    ("  published_path: /srv/copies\n", "'warehouse.published_path' is only for 'warehouse.kind: ducklake'"),
    (LAKE + "  data_path: /srv/team-lake/\n  published_path: /srv/team-lake/copies\n",
     "inside warehouse.data_path (/srv/team-lake/): the lake's cleanup deletes every file there it does not track"),
])
def test_a_published_path_the_lake_would_clean_or_no_lake_needs_is_refused(sandbox, yaml, message):
    sandbox.config_path.write_text(sandbox.config_path.read_text().replace("warehouse:\n", "warehouse:\n" + yaml, 1))
    with pytest.raises(ConfigError) as caught:
        load_settings(sandbox.config_path)
    assert message in str(caught.value) and str(sandbox.config_path) in str(caught.value)


def test_the_readmes_memory_limit_config_loads_over_the_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    [memory] = [block for block in readme_yaml_blocks() if "memory_limit" in block]
    assert memory == "warehouse:\n  memory_limit: 2GB\n"
    xdg_config(monkeypatch, tmp_path, memory)
    settings = load_settings()
    assert settings.memory_limit == "2GB"
    assert settings.warehouse_path == tmp_path / "home/.local/share/star_pipeline/warehouse.duckdb"
    assert settings.lake is None and settings.partial_line_quiet_seconds == 600


def test_a_list_in_the_users_file_replaces_the_default_list_whole(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    xdg_config(monkeypatch, tmp_path, "sources:\n  claude_code_roots: [/backup/claude/projects]\n")
    settings = load_settings()
    assert settings.roots["claude_code"] == (Path("/backup/claude/projects"),)
    assert settings.roots["codex"] == (tmp_path / "home/.codex/sessions", tmp_path / "home/.codex/archived_sessions")


def test_a_key_the_users_file_sets_to_nothing_keeps_its_default(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    xdg_config(monkeypatch, tmp_path, "warehouse:\n  path:\n  memory_limit: 2GB\n")
    settings = load_settings()
    assert settings.warehouse_path == tmp_path / "home/.local/share/star_pipeline/warehouse.duckdb"
    assert settings.memory_limit == "2GB"


def test_the_users_file_is_found_at_the_xdg_path_else_under_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    xdg_file = xdg_config(monkeypatch, tmp_path, "warehouse:\n  memory_limit: 3GB\n")
    assert load_settings().config_path == xdg_file
    home_file = tmp_path / "home/.config/star_pipeline/config.yaml"
    home_file.parent.mkdir(parents=True)
    home_file.write_text("warehouse:\n  memory_limit: 5GB\n")
    for unset in ("", "relative/xdg"):  # the XDG spec: an empty or relative XDG_CONFIG_HOME is ignored
        monkeypatch.setenv("XDG_CONFIG_HOME", unset)
        assert load_settings().memory_limit == "5GB"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert load_settings().memory_limit == "5GB"


def test_no_users_file_means_the_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    xdg_config(monkeypatch, tmp_path, None)
    settings = load_settings()
    assert settings.config_path == DEFAULT_CONFIG_PATH
    assert settings.warehouse_path == tmp_path / "home/.local/share/star_pipeline/warehouse.duckdb"


def test_star_pipeline_config_overrides_the_xdg_file_and_must_exist(monkeypatch, tmp_path):
    xdg_config(monkeypatch, tmp_path, "warehouse:\n  memory_limit: 3GB\n")
    monkeypatch.setenv("STAR_PIPELINE_CONFIG", str(write(tmp_path, "warehouse:\n  memory_limit: 4GB\n")))
    assert load_settings().memory_limit == "4GB"
    monkeypatch.setenv("STAR_PIPELINE_CONFIG", str(tmp_path / "typo.yaml"))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert f"{tmp_path / 'typo.yaml'}: configuration file not found (named by STAR_PIPELINE_CONFIG)" in str(info.value)


def test_an_error_in_the_xdg_file_names_it(monkeypatch, tmp_path):
    path = xdg_config(monkeypatch, tmp_path, "warehouse:\n  memory_limt: 2GB\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: unknown key 'warehouse.memory_limt'")):
        load_settings()


def test_a_required_key_missing_from_both_files_names_them(monkeypatch, tmp_path):
    import star_pipeline.config as config

    broken_defaults = tmp_path / "defaults.yaml"
    broken_defaults.write_text(DEFAULT_CONFIG_PATH.read_text().replace("  path: ~/.local", "  # path: ~/.local"))
    monkeypatch.setattr(config, "DEFAULT_CONFIG_PATH", broken_defaults)
    user = write(tmp_path, "sources:\n  hook_spool_dir: s\n")
    with pytest.raises(ConfigError, match=re.escape(f"{user}: missing required key 'warehouse.path', which the "
                                                    f"defaults ({broken_defaults}) should set")):
        load_settings(user)


def test_claude_config_dir_comma_list_gives_one_root_each(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", "/a/one, /b/two")
    settings = load_settings(DEFAULT_CONFIG_PATH)
    assert Path("/a/one/projects") in settings.roots["claude_code"]
    assert Path("/b/two/projects") in settings.roots["claude_code"]


def test_variables_and_tilde_expand(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SP_DATA", "/data/sp")
    path = write(tmp_path, "warehouse:\n  path: $SP_DATA/w.duckdb\nsources:\n  hook_spool_dir: ~/spool\n")
    settings = load_settings(path)
    assert settings.warehouse_path == Path("/data/sp/w.duckdb")
    assert settings.hook_spool_dir == tmp_path / "spool"


@pytest.mark.parametrize(
    "text,fragment",
    [
        (MINIMAL + "raw:\n  partial_line_quiet_secs: 5\n", "unknown key 'raw.partial_line_quiet_secs'"),
        (MINIMAL + "raw:\n  partial_line_quiet_seconds: soon\n", "'raw.partial_line_quiet_seconds' must be int or float"),
        (MINIMAL + "extra: 1\n", "unknown key 'extra'"),
        ("warehouse:\n  path: w\nsources:\n  hook_spool_dir: s\n  codex_roots: /one/path\n", "'sources.codex_roots' must be list"),
        ("warehouse: [1, 2]\n", "'warehouse' must be a mapping"),
        ("warehouse:\n  path: $SP_UNSET_VARIABLE/w\nsources:\n  hook_spool_dir: s\n", "uses $SP_UNSET_VARIABLE"),
        ("warehouse: {path: [unclosed\n", "not valid YAML"),
        (MINIMAL.replace("w.duckdb", "w.duckdb\n  memory_limit: lots"), "'warehouse.memory_limit' must be a size"),
        (MINIMAL.replace("w.duckdb", "w.duckdb\n  memory_limit: 1KB"), "DuckDB needs at least 64MB"),
        (MINIMAL.replace("w.duckdb", "w.duckdb\n  lock_timeout_seconds: -1"), "'warehouse.lock_timeout_seconds' must be 0 or more"),
        (MINIMAL + "raw:\n  partial_line_quiet_seconds: -5\n", "'raw.partial_line_quiet_seconds' must be 0 or more"),
        (MINIMAL + "classified:\n  classifiers_dir: no_such_folder\n", "'classified.classifiers_dir' is"),
        (MINIMAL + "machine:\n  id: ''\n", "'machine.id' must be a non-empty name"),
        (MINIMAL + "machine:\n  id: anna laptop\n", "'machine.id' must be a non-empty name"),
        (MINIMAL + "machine:\n  id: ci/runner\n", "'machine.id' must be a non-empty name"),
        (MINIMAL + "machine:\n  id: 7\n", "'machine.id' must be str"),
        (MINIMAL + "machine:\n  name: x\n", "unknown key 'machine.name'"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, monkeypatch, text, fragment):
    monkeypatch.delenv("SP_UNSET_VARIABLE", raising=False)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(path) in str(info.value) and fragment in str(info.value)


def test_memory_limit_defaults_to_a_quarter_of_the_machine_within_1_and_4_gib(tmp_path):
    assert load_settings(write(tmp_path, MINIMAL)).memory_limit == auto_memory_limit()
    assert auto_memory_limit(2 << 30) == "1024MiB"  # a 2 GiB machine still gets 1 GiB
    assert auto_memory_limit(12 << 30) == "3072MiB"
    assert auto_memory_limit(64 << 30) == "4096MiB"
    given = load_settings(write(tmp_path, MINIMAL.replace("w.duckdb", "w.duckdb\n  memory_limit: 1.5GiB")))
    assert given.memory_limit == "1.5GiB"


def test_machine_id_defaults_to_the_host_name(tmp_path, monkeypatch):
    import socket

    monkeypatch.setattr(socket, "gethostname", lambda: "build-box.example")
    assert load_settings(write(tmp_path, MINIMAL)).machine_id == "build-box.example"
    assert load_settings(write(tmp_path, MINIMAL + "machine:\n  id: laptop_anna-2\n")).machine_id == "laptop_anna-2"
    monkeypatch.setattr(socket, "gethostname", lambda: "Anna's MacBook")  # not a valid id: made one
    assert load_settings(write(tmp_path, MINIMAL)).machine_id == "Anna-s-MacBook"


def test_missing_config_file_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found.*`star-pipeline config`.*STAR_PIPELINE_CONFIG"):
        load_settings(tmp_path / "nope.yaml")


def test_missing_source_folders_are_not_errors(sandbox):
    from star_pipeline_tests.conftest import materialize_all, query

    result = materialize_all(sandbox)
    assert result.success
    assert query(sandbox, "SELECT count(*) FROM raw.claude_code_lines") == [(0,)]


def test_an_unknown_machine_role_is_refused_naming_the_key(sandbox):
    from star_pipeline.config import ConfigError, load_settings

    sandbox.config_path.write_text(sandbox.config_path.read_text() + "machine:\n  role: reader\n")
    with pytest.raises(ConfigError, match="'machine.role' must be one of writer, raw-only, got 'reader'"):
        load_settings(sandbox.config_path)


def test_config_command_prints_each_value_with_where_it_came_from(monkeypatch, tmp_path, capsys):
    """`star-pipeline config`: default, file and environment per value; its output, as a user's file, gives the
    same settings (it is the effective configuration, in YAML)."""
    import yaml

    from star_pipeline.cli import main

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-b"))
    monkeypatch.setenv("SP_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("STAR_PIPELINE_SPOOL_DIR", str(tmp_path / "hook-spool"))
    user = xdg_config(monkeypatch, tmp_path, "warehouse:\n  memory_limit: 2GB\n  path: $SP_DATA/w.duckdb\n")
    assert main(["config"]) == 0
    printed = capsys.readouterr().out
    assert f"#   {user} (the XDG path)" in printed
    lines = {line.split("#")[0].strip(): line.split("#", 1)[1].strip() for line in printed.splitlines()
             if not line.startswith("#") and "#" in line}
    assert lines["memory_limit: 2GB"] == "file"
    assert lines[f"path: {tmp_path}/data/w.duckdb"] == "file, environment: $SP_DATA"
    assert lines["kind: duckdb"] == "default"
    assert lines[f"- {tmp_path}/home/.claude/projects"] == "default"
    assert lines[f"- {tmp_path}/claude-b/projects"] == "default, environment: $CLAUDE_CONFIG_DIR"
    assert lines[f"classifiers_dir: {DEFAULT_CLASSIFIERS_DIR}"].startswith("default: the package's own")
    assert lines[f"hook_spool_dir: {tmp_path}/home/.local/share/star_pipeline/spool"] == (
        f"default; STAR_PIPELINE_SPOOL_DIR is set: `star-pipeline hook` writes to {tmp_path}/hook-spool instead, "
        "and the pipeline reads this one")

    effective = load_settings()
    (tmp_path / "printed.yaml").write_text(printed)
    assert yaml.safe_load(printed)["warehouse"]["path"] == str(tmp_path / "data/w.duckdb")
    assert load_settings(tmp_path / "printed.yaml") == dataclasses.replace(effective, config_path=tmp_path / "printed.yaml")


def test_config_command_names_a_bad_file_and_fails(monkeypatch, tmp_path, capsys):
    from star_pipeline.cli import main

    path = xdg_config(monkeypatch, tmp_path, "warehouse:\n  memory_limit: lots\n")
    assert main(["config"]) == 2
    assert f"{path}: 'warehouse.memory_limit' must be a size" in capsys.readouterr().err


def test_project_folders_are_scanned_from_home_four_deep_unless_the_config_says_where(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    defaults = load_settings(write(tmp_path, "warehouse:\n  memory_limit: 2GB\n"))
    assert (defaults.project_roots, defaults.project_scan_depth) == (None, 4)
    given = load_settings(write(tmp_path, "sources:\n  project_roots: [~/code, work]\n  project_scan_depth: 2\n"))
    assert given.project_roots == (tmp_path / "home" / "code", tmp_path / "work")  # relative to the file's folder
    assert given.project_scan_depth == 2
    path = write(tmp_path, "sources:\n  project_scan_depth: 40\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: 'sources.project_scan_depth' must be 0 to 12")):
        load_settings(path)
