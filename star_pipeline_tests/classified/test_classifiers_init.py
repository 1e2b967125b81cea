"""`star-pipeline classifiers init [DIR]`: the defaults copied into a folder of the user's, owner-only, and the
user's configuration pointed at it without losing what the user wrote there."""

import os
import stat
from pathlib import Path

import pytest

from star_pipeline.classified.init_folder import init_classifiers
from star_pipeline.cli import main
from star_pipeline.config import DEFAULT_CLASSIFIERS_DIR, load_settings
from star_pipeline.agent_side.settings_files import yaml_with_key

DEFAULT_FILES = sorted(path.name for path in DEFAULT_CLASSIFIERS_DIR.glob("*.yaml"))


@pytest.fixture
def xdg(tmp_path, monkeypatch) -> Path:
    """XDG_CONFIG_HOME in the test's folder; returns star_pipeline's folder there."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("STAR_PIPELINE_CONFIG", raising=False)
    return tmp_path / "xdg" / "star_pipeline"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_copies_the_defaults_owner_only_and_creates_the_config(xdg, capsys):
    old_umask = os.umask(0o022)  # a permissive umask: the files must be the owner's only all the same
    try:
        assert init_classifiers() == 0
    finally:
        os.umask(old_umask)
    folder, config = xdg / "classifiers", xdg / "config.yaml"
    assert sorted(path.name for path in folder.iterdir()) == DEFAULT_FILES
    for name in DEFAULT_FILES:
        assert (folder / name).read_bytes() == (DEFAULT_CLASSIFIERS_DIR / name).read_bytes()
        assert mode(folder / name) == 0o600
    assert mode(folder) == mode(xdg) == 0o700
    assert mode(config) == 0o600
    assert load_settings().classifiers_dir == folder
    printed = capsys.readouterr().out
    assert f"copied {', '.join(DEFAULT_FILES)} from {DEFAULT_CLASSIFIERS_DIR} to {folder}" in printed
    assert f"created {config} (owner-only) with classified.classifiers_dir: {folder}" in printed
    assert f"next: edit a classifier (for example {folder / DEFAULT_FILES[0]})" in printed


def test_init_keeps_the_users_classifier_files_and_the_rest_of_the_config(xdg, capsys):
    folder, config = xdg / "classifiers", xdg / "config.yaml"
    folder.mkdir(parents=True)
    edited = "rules: []\ndefault: mine\n"
    (folder / "message_kinds.yaml").write_text(edited)
    before = "# my settings\nwarehouse:\n  memory_limit: 2GB   # a small machine\nclassified:\n  classifiers_dir: old\n"
    config.write_text(before)
    (xdg / "old").mkdir()

    assert init_classifiers() == 0
    assert (folder / "message_kinds.yaml").read_text() == edited
    assert (folder / "session_kinds.yaml").read_bytes() == (DEFAULT_CLASSIFIERS_DIR / "session_kinds.yaml").read_bytes()
    assert config.read_text() == before.replace("classifiers_dir: old", f"classifiers_dir: {folder}")
    [backup] = xdg.glob("config.yaml.star-pipeline-backup-*")
    assert backup.read_text() == before
    settings = load_settings()
    assert (settings.classifiers_dir, settings.memory_limit) == (folder, "2GB")
    printed = capsys.readouterr().out
    assert f"kept message_kinds.yaml in {folder}: already there, not overwritten" in printed
    assert f"set classified.classifiers_dir: {folder} in {config} (it was old)" in printed

    assert init_classifiers() == 0  # again: nothing to copy, nothing to change
    printed = capsys.readouterr().out
    assert "copied" not in printed and f"{config}: classified.classifiers_dir already points at {folder}" in printed
    assert len(list(xdg.glob("config.yaml.star-pipeline-backup-*"))) == 1


def test_init_into_a_named_folder_edits_the_file_star_pipeline_config_names(xdg, tmp_path, monkeypatch):
    team = tmp_path / "team.yaml"
    team.write_text("machine:\n  id: anna\n")
    monkeypatch.setenv("STAR_PIPELINE_CONFIG", str(team))
    monkeypatch.chdir(tmp_path)
    assert main(["classifiers", "init", "mine"]) == 0  # relative to the working folder
    assert load_settings().classifiers_dir == tmp_path / "mine"
    assert load_settings().machine_id == "anna"
    assert not xdg.exists()  # the XDG file is not the one in use: untouched


@pytest.mark.parametrize("problem,config_text,message", [
    ("missing", None, "configuration file not found (named by STAR_PIPELINE_CONFIG)"),
    ("not yaml", "warehouse: {memory_limit: [\n", "not valid YAML, so not changed"),
    ("section not a mapping", "classified: [a, b]\n", "'classified' must be a mapping"),
])
def test_init_refuses_a_config_it_cannot_change_and_changes_nothing(xdg, tmp_path, monkeypatch, capsys, problem,
                                                                     config_text, message):
    config = tmp_path / "mine.yaml"
    if config_text is not None:
        config.write_text(config_text)
    monkeypatch.setenv("STAR_PIPELINE_CONFIG", str(config))
    assert main(["classifiers", "init", str(tmp_path / "folder")]) == 2
    assert f"{config}: {message}" in capsys.readouterr().err
    assert not (tmp_path / "folder").exists()
    assert config_text is None or config.read_text() == config_text


def test_a_flow_style_config_is_written_anew_with_every_key_and_says_its_comments_are_gone(xdg, capsys):
    config = xdg / "config.yaml"
    xdg.mkdir(parents=True)
    config.write_text("# mine\n{warehouse: {memory_limit: 2GB}, machine: {id: anna}}\n")
    assert init_classifiers() == 0
    settings = load_settings()
    assert (settings.classifiers_dir, settings.memory_limit, settings.machine_id) == (xdg / "classifiers", "2GB", "anna")
    assert "written anew with every key but without its comments; the backup above keeps them" in capsys.readouterr().out


@pytest.mark.parametrize("before,after", [
    ("", "classified:\n  classifiers_dir: /c\n"),
    ("# only a comment\n", "# only a comment\nclassified:\n  classifiers_dir: /c\n"),
    ("warehouse:\n  path: w  # mine\n", "warehouse:\n  path: w  # mine\nclassified:\n  classifiers_dir: /c\n"),
    ("classified:\n  # why\n  classifiers_dir: x # was\n", "classified:\n  # why\n  classifiers_dir: /c # was\n"),
    ("classified:   # later\nmachine:\n  id: a\n", "classified:   # later\n  classifiers_dir: /c\nmachine:\n  id: a\n"),
    ("classified:\n  other: 1\n", "classified:\n  classifiers_dir: /c\n  other: 1\n"),
])
def test_one_key_is_set_in_the_yaml_text_keeping_its_comments(before, after):
    assert yaml_with_key(before, "classified", "classifiers_dir", "/c") == (after, True)


def test_init_refuses_the_packages_own_folder_and_a_file(xdg, tmp_path, capsys):
    assert main(["classifiers", "init", str(DEFAULT_CLASSIFIERS_DIR)]) == 2
    assert f"{DEFAULT_CLASSIFIERS_DIR} is the package's own classifiers folder" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("x")
    assert main(["classifiers", "init", str(tmp_path / "a_file")]) == 2
    assert f"{tmp_path / 'a_file'} is a file, not a folder" in capsys.readouterr().err
    assert not xdg.exists()  # no configuration made either
