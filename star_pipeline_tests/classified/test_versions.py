"""`star-pipeline classifiers list|delete`: a version's rows go, every other version stays."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from dagster import DagsterInstance

from star_pipeline_tests.conftest import REPO_ROOT, materialize_all, query
from star_pipeline_tests.builders import write_session

STAR_PIPELINE = str(Path(sys.executable).with_name("star-pipeline"))


def test_delete_one_version_keeps_the_others(sandbox, tmp_path):
    folder = tmp_path / "classifiers"
    shutil.copytree(REPO_ROOT / "config" / "classifiers", folder)
    sandbox.write_config(extra=f"classified:\n  classifiers_dir: {folder}\n")
    write_session(sandbox)
    instance = DagsterInstance.ephemeral()
    materialize_all(sandbox, instance=instance)
    first = query(sandbox, "SELECT DISTINCT classifier_version FROM classified.derived_message_kinds")[0][0]
    path = folder / "message_kinds.yaml"
    path.write_text(path.read_text().replace("kind: assistant_text", "kind: assistant_reply"))
    materialize_all(sandbox, instance=instance)
    versions = {v for (v,) in query(sandbox, "SELECT DISTINCT classifier_version FROM classified.derived_message_kinds")}
    assert len(versions) == 2 and first in versions

    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(sandbox.config_path)}
    env.pop("DAGSTER_HOME", None)
    listed = subprocess.run([STAR_PIPELINE, "classifiers", "list"], capture_output=True, text=True, env=env, check=True)
    assert first in listed.stdout and "current file" in listed.stdout
    deleted = subprocess.run([STAR_PIPELINE, "classifiers", "delete", first], capture_output=True, text=True, env=env)
    assert deleted.returncode == 0, deleted.stderr
    assert f"deleted 3 rows of {first}" in deleted.stdout
    remaining = {v for (v,) in query(sandbox, "SELECT DISTINCT classifier_version FROM classified.derived_message_kinds")}
    assert remaining == versions - {first}
    assert query(sandbox, "SELECT count(*) FROM meta_classifier_configs WHERE classifier_version = ?", [first]) == [(0,)]


def test_a_classifier_file_no_spec_describes_is_reported_not_ignored(sandbox, tmp_path):
    folder = tmp_path / "classifiers"
    shutil.copytree(REPO_ROOT / "config" / "classifiers", folder)
    (folder / "mesage_kinds.yaml").write_text((folder / "message_kinds.yaml").read_text())  # a misspelt copy
    sandbox.write_config(extra=f"classified:\n  classifiers_dir: {folder}\n")
    write_session(sandbox)
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(sandbox.config_path)}
    env.pop("DAGSTER_HOME", None)

    built = subprocess.run([STAR_PIPELINE, "build"], capture_output=True, text=True, env=env)
    listed = subprocess.run([STAR_PIPELINE, "classifiers", "list"], capture_output=True, text=True, env=env)

    assert built.returncode == 0, built.stdout + built.stderr
    for output in (built.stdout, listed.stdout):
        assert "mesage_kinds.yaml describe no classifier star_pipeline knows" in output
        assert "star_pipeline/classified/specs.py" in output


def test_classifiers_list_finds_the_dagster_home_make_dev_uses_without_being_told(sandbox, tmp_path):
    """`make dev` keeps its instance in ~/.local/share/star_pipeline/dagster_home; a partition registered there
    (by its sensor) shows in `classifiers list` run without DAGSTER_HOME."""
    home = tmp_path / "home"
    dagster_home = home / ".local" / "share" / "star_pipeline" / "dagster_home"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    instance = DagsterInstance.from_config(str(dagster_home))
    lost_revision = "session_kinds-00000000+message_kinds-0badc0de"
    instance.add_dynamic_partitions("classifier_revisions", [lost_revision])
    instance.dispose()
    write_session(sandbox)
    materialize_all(sandbox)
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(sandbox.config_path), "HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    listed = subprocess.run([STAR_PIPELINE, "classifiers", "list"], capture_output=True, text=True, env=env, check=True)
    assert "message_kinds-0badc0de  0 rows  in a registered revision" in listed.stdout
    assert f"registered revisions from {dagster_home}" in listed.stdout
    # deleting the version removes every revision naming it, so no run classifies with it again
    deleted = subprocess.run([STAR_PIPELINE, "classifiers", "delete", "message_kinds-0badc0de"], capture_output=True,
                             text=True, env=env, check=True)
    assert f"removed partition {lost_revision} from classifier_revisions" in deleted.stdout
    assert lost_revision not in DagsterInstance.from_config(str(dagster_home)).get_dynamic_partitions("classifier_revisions")
