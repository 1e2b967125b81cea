"""Configuration: defaults, env override, expansion, and errors that name the file and key."""

from pathlib import Path

import pytest

from star_pipeline.config import DEFAULT_CONFIG_PATH, ConfigError, auto_memory_limit, load_settings


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


def test_env_var_replaces_the_default_file(monkeypatch, tmp_path):
    monkeypatch.setenv("STAR_PIPELINE_CONFIG", str(write(tmp_path, MINIMAL)))
    settings = load_settings()
    assert settings.warehouse_path == tmp_path / "w.duckdb"  # relative to the config file
    assert settings.hook_spool_dir == tmp_path / "spool"


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
        ("sources:\n  hook_spool_dir: s\n", "missing required key 'warehouse.path'"),
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
    with pytest.raises(ConfigError, match="configuration file not found.*STAR_PIPELINE_CONFIG"):
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
