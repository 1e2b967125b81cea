"""Classified-layer invariants (blocking).

- one row per (item, version) (secrets: per item, field, kind and occurrence);
- every normalized item has a row in every materialized version (rule classifiers);
- re-running a version from scratch gives exactly the stored rows (for the
  classifiers of new messages: within the check budget in the run that wrote the
  version, every message when run alone, see storage/check_scope.py; for those of
  changed calls, in the run that wrote the version, the calls named in the files
  the latest ingest normalized).

A check in a run of revisions covers the versions that run wrote; run on its
own, every version in the table.
"""

from dagster import AssetCheckExecutionContext, AssetCheckResult, MetadataValue, asset_check

from star_pipeline.classified.assets import ClassifiersResource, build_query, load_version
from star_pipeline.classified.specs import CLASSIFIERS, RANGE_START_TAG, ClassifierSpec
from star_pipeline.normalized.assets import MESSAGE_MANIFESTS
from star_pipeline.normalized.rebuild_scopes import call_ids_named_in
from star_pipeline.storage import check_scope
from star_pipeline.storage.check_scope import CHECK_FILES, choose_check_files, describe_scope
from star_pipeline.storage.load_log import wrote_in_run
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.warehouse import table_exists

def versions_in_scope(context: AssetCheckExecutionContext, conn, spec: ClassifierSpec) -> list[str]:
    """In a run of one or several revisions: the versions of this classifier the run wrote (or, if it wrote
    none, those its one revision names); run on its own: every version in the table."""
    tags = context.run.tags
    if tags.get("dagster/partition") or tags.get(RANGE_START_TAG):
        written = [r[0] for r in conn.execute(
            "SELECT DISTINCT partition_key FROM meta_load_log WHERE run_id = ? AND asset_key = ? AND status = 'success' "
            "ORDER BY 1", [context.run.run_id, spec.key.to_user_string()]).fetchall()]
        one = spec.version_in(tags.get("dagster/partition") or "")
        return written or ([one] if one else [])
    if not table_exists(conn, "classified", spec.table):
        return []
    return [r[0] for r in conn.execute(f"SELECT DISTINCT classifier_version FROM classified.{spec.table} ORDER BY 1").fetchall()]


# The files with messages the latest ingest normalized (in the run that wrote a version: what changed);
# every file when that ingest normalized none, or when the check runs on its own.
MESSAGE_FILES = """
    WITH files AS (
        SELECT source, path, bool_or(normalize_run_id = ?) AS preferred FROM normalized.normalized_messages GROUP BY ALL
    )
    SELECT * FROM files WHERE preferred OR ? OR NOT EXISTS (SELECT 1 FROM files WHERE preferred)
"""


def latest_normalize_run(conn) -> str | None:
    row = conn.execute(
        "SELECT run_id FROM meta_load_log WHERE asset_key = 'normalized/normalized_messages' AND status = 'success' "
        "ORDER BY completed_at DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def build_classified_checks(spec: ClassifierSpec):
    checks = []

    @asset_check(asset=spec.key, name=f"{spec.table}_one_row_per_item_per_version", blocking=True, pool=WAREHOUSE_POOL)
    def one_row_per_item(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
        cols = ", ".join(spec.key_columns)
        with warehouse.connect() as conn:
            versions = versions_in_scope(context, conn, spec)
            duplicates = conn.execute(
                f"SELECT {cols}, count(*) FROM classified.{spec.table} WHERE list_contains(?, classifier_version) "
                "GROUP BY ALL HAVING count(*) > 1 LIMIT 5",
                [versions],
            ).fetchall() if versions else []
        return AssetCheckResult(
            passed=not duplicates,
            metadata={"versions": MetadataValue.json(versions), "duplicates": MetadataValue.json([list(map(str, d)) for d in duplicates])},
        )

    checks.append(one_row_per_item)

    if spec.method == "rules":  # one row per item (a pattern classifier has rows only where something matched)

        @asset_check(asset=spec.key, name=f"{spec.table}_every_item_classified", blocking=True, pool=WAREHOUSE_POOL)
        def every_item_classified(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
            keys = ", ".join(spec.item_keys)
            missing = {}
            with warehouse.connect() as conn:
                for version in versions_in_scope(context, conn, spec):
                    missing[version] = conn.execute(
                        f"SELECT count(*) FROM (SELECT {keys} FROM {spec.items} EXCEPT "
                        f"SELECT {keys} FROM classified.{spec.table} WHERE classifier_version = ?)",
                        [version],
                    ).fetchone()[0]
            return AssetCheckResult(passed=not any(missing.values()), metadata={"unclassified_items": MetadataValue.json(missing)})

        checks.append(every_item_classified)

    @asset_check(asset=spec.key, name=f"{spec.table}_rerun_identical", blocking=True, pool=WAREHOUSE_POOL)
    def rerun_identical(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource, classifiers: ClassifiersResource
    ) -> AssetCheckResult:
        differences, scopes = {}, {}
        with warehouse.connect() as conn:
            for version in versions_in_scope(context, conn, spec):
                classifier = load_version(spec, version, classifiers.folder, conn)
                scope, stored_filter = "TRUE", "TRUE"
                in_run = wrote_in_run(conn, context.run.run_id, spec.key.to_user_string(), version)
                if spec.refresh == "changed_calls" and in_run:
                    # the calls named in the files the latest ingest normalized (what an incremental run classified)
                    chosen, _ = choose_check_files(
                        conn, MESSAGE_FILES, [latest_normalize_run(conn), False], seed=context.run.run_id, budget_bytes=None,
                        manifests=MESSAGE_MANIFESTS,
                    )
                    scopes[version] = f"the tool calls named in the {chosen} files the latest ingest normalized"
                    named = call_ids_named_in(f"(x.source, x.path) IN (SELECT source, path FROM {CHECK_FILES})")
                    scope, stored_filter = f"{spec.item_alias}.call_id IN ({named})", f"call_id IN ({named})"
                if spec.refresh == "new_items":
                    # every message's text is read again: keep within the check budget in the run that wrote the version
                    chosen, total = choose_check_files(
                        conn, MESSAGE_FILES, [latest_normalize_run(conn), not in_run], seed=context.run.run_id,
                        budget_bytes=check_scope.CHECK_BUDGET_BYTES if in_run else None, manifests=MESSAGE_MANIFESTS,
                    )
                    scopes[version] = describe_scope("message files", chosen, total)
                    scope = f"({spec.item_alias}.source, {spec.item_alias}.path) IN (SELECT source, path FROM {CHECK_FILES})"
                    stored_filter = f"(source, path) IN (SELECT source, path FROM {CHECK_FILES})"
                query = build_query(spec, classifier, version, scope)
                conn.execute(f"CREATE OR REPLACE TEMP TABLE _rerun AS {query.sql}", query.params)
                columns = ", ".join(c[0] for c in conn.execute(f"DESCRIBE classified.{spec.table}").fetchall())
                keys = ", ".join(spec.key_columns)
                # Rows are paired by their key and compared by a hash of the whole row (one hash join, no
                # sort of both sides); a count difference catches a row stored twice.
                stored = (f"SELECT {keys}, hash({columns}) AS row_hash FROM classified.{spec.table} "
                          f"WHERE classifier_version = ? AND {stored_filter}")
                rerun = f"SELECT {keys}, hash({columns}) AS row_hash FROM _rerun"
                differences[version] = conn.execute(
                    f"WITH r AS ({rerun}), s AS ({stored}) "
                    f"SELECT (SELECT count(*) FROM r FULL OUTER JOIN s USING ({keys}) "
                    "WHERE r.row_hash IS DISTINCT FROM s.row_hash) "
                    "+ abs((SELECT count(*) FROM s) - (SELECT count(*) FROM r))",
                    [version],
                ).fetchone()[0]
        return AssetCheckResult(
            passed=not any(differences.values()),
            metadata={"rows_differing": MetadataValue.json(differences), "scope": MetadataValue.json(scopes)},
        )

    checks.append(rerun_identical)
    return checks


classified_checks = [check for spec in CLASSIFIERS for check in build_classified_checks(spec)]
