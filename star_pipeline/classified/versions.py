"""`star-pipeline classifiers list|delete`: see and remove classifier versions.

Deleting a version removes its rows from its classified table, its stored
config text and scan progress (one transaction), then every revision that names
it (`classifier_revisions` partitions) from the Dagster instance in DAGSTER_HOME,
so the UI stops offering them and no run classifies with it again. Other
versions' rows are untouched.
"""

from __future__ import annotations

import sys

from star_pipeline.classified.rules import VERSION_PATTERN, classifier_file_versions
from star_pipeline.classified.specs import CLASSIFIER_REVISIONS, CLASSIFIERS, unregistered_files, unregistered_message, versions_of


def _instance():
    """The Dagster instance whose partitions the UI offers: $DAGSTER_HOME's, else `make dev`'s."""
    from dagster import DagsterInstance

    from star_pipeline.config import dagster_home

    home = dagster_home()
    return DagsterInstance.from_config(str(home)) if home else None


def list_versions(settings, out=None) -> int:
    from star_pipeline.storage.warehouse import connect, table_exists

    out = out or sys.stdout
    current = classifier_file_versions(settings.classifiers_dir)
    instance = _instance()
    with connect(settings.warehouse_path, **settings.connect_options()) as conn:
        for spec in CLASSIFIERS:
            rows = {}
            if table_exists(conn, "classified", spec.table):
                rows = dict(conn.execute(
                    f"SELECT classifier_version, count(*) FROM classified.{spec.table} GROUP BY 1").fetchall())
            revisions = instance.get_dynamic_partitions(CLASSIFIER_REVISIONS.name) if instance else []
            registered = set(versions_of(spec, revisions))
            print(f"{spec.name} (classified.{spec.table}):", file=out)
            for version in sorted(set(rows) | registered | ({current[spec.name]} if spec.name in current else set())):
                notes = []
                if version == current.get(spec.name):
                    notes.append("current file")
                if version in registered:
                    notes.append("in a registered revision")
                print(f"  {version}  {rows.get(version, 0)} rows  {', '.join(notes)}", file=out)
    unregistered = unregistered_files(current)
    if unregistered:
        print(unregistered_message(settings.classifiers_dir, unregistered), file=out)
    if instance is None:
        print("(DAGSTER_HOME is not set and `make dev` has not made its own: registered revisions not shown)", file=out)
    else:
        print(f"(registered revisions from {instance.root_directory})", file=out)
    return 0


def delete_version(settings, version: str, out=None) -> int:
    from star_pipeline.storage.warehouse import connect, table_exists

    out = out or sys.stdout
    match = VERSION_PATTERN.match(version)
    spec = next((s for s in CLASSIFIERS if match and s.name == match.group("name")), None)
    if spec is None:
        print(f"star-pipeline: {version!r} is not a classifier version (<classifier>-<8 hex>); see `star-pipeline classifiers list`.", file=sys.stderr)
        return 2
    with connect(settings.warehouse_path, **settings.connect_options()) as conn:
        conn.execute("BEGIN TRANSACTION")
        deleted = 0
        if table_exists(conn, "classified", spec.table):
            deleted = conn.execute(f"DELETE FROM classified.{spec.table} WHERE classifier_version = ?", [version]).fetchone()[0]
        conn.execute("DELETE FROM meta_classifier_configs WHERE classifier_version = ?", [version])
        conn.execute("DELETE FROM meta_classifier_progress WHERE classifier_version = ?", [version])
        conn.execute("COMMIT")
    print(f"deleted {deleted} rows of {version} from classified.{spec.table}", file=out)
    instance = _instance()
    for revision in instance.get_dynamic_partitions(CLASSIFIER_REVISIONS.name) if instance is not None else []:
        if spec.version_in(revision) == version:
            instance.delete_dynamic_partition(CLASSIFIER_REVISIONS.name, revision)
            print(f"removed partition {revision} from {CLASSIFIER_REVISIONS.name} in {instance.root_directory}", file=out)
    if version == classifier_file_versions(settings.classifiers_dir).get(spec.name):
        print(f"note: {version} is the current file's version; the sensor will register it again.", file=out)
    return 0
