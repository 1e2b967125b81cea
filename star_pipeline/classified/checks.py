"""Classified-layer invariants (blocking).

- one row per (item, version) (secrets: per item, field, kind and occurrence);
- every normalized item has a row in every materialized version (rule classifiers);
- re-running a version from scratch gives exactly the stored rows.

A check in a partition's run covers that version; run on its own, every
version in the table.
"""

from dagster import AssetCheckExecutionContext, AssetCheckResult, MetadataValue, asset_check

from star_pipeline.classified.assets import ClassifiersResource, build_query, load_version
from star_pipeline.classified.specs import CLASSIFIERS, SECRET_FINDINGS, ClassifierSpec
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.warehouse import table_exists

ITEM_TABLES = {
    "session_kinds": "normalized.normalized_sessions",
    "message_kinds": "normalized.normalized_messages",
    "tool_practices": "normalized.normalized_tool_calls",
}


def versions_in_scope(context: AssetCheckExecutionContext, conn, spec: ClassifierSpec) -> list[str]:
    partition = context.run.tags.get("dagster/partition")
    if partition:
        return [partition]
    if not table_exists(conn, "classified", spec.table):
        return []
    return [r[0] for r in conn.execute(f"SELECT DISTINCT classifier_version FROM classified.{spec.table} ORDER BY 1").fetchall()]


def row_key(spec: ClassifierSpec) -> list[str]:
    if spec is SECRET_FINDINGS:
        return ["classifier_version", *spec.item_keys, "field", "kind", "occurrence"]
    return ["classifier_version", *spec.item_keys]


def build_classified_checks(spec: ClassifierSpec):
    checks = []

    @asset_check(asset=spec.key, name=f"{spec.table}_one_row_per_item_per_version", blocking=True, pool=WAREHOUSE_POOL)
    def one_row_per_item(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
        cols = ", ".join(row_key(spec))
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

    if spec.name in ITEM_TABLES:

        @asset_check(asset=spec.key, name=f"{spec.table}_every_item_classified", blocking=True, pool=WAREHOUSE_POOL)
        def every_item_classified(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
            keys = ", ".join(spec.item_keys)
            missing = {}
            with warehouse.connect() as conn:
                for version in versions_in_scope(context, conn, spec):
                    missing[version] = conn.execute(
                        f"SELECT count(*) FROM (SELECT {keys} FROM {ITEM_TABLES[spec.name]} EXCEPT "
                        f"SELECT {keys} FROM classified.{spec.table} WHERE classifier_version = ?)",
                        [version],
                    ).fetchone()[0]
            return AssetCheckResult(passed=not any(missing.values()), metadata={"unclassified_items": MetadataValue.json(missing)})

        checks.append(every_item_classified)

    @asset_check(asset=spec.key, name=f"{spec.table}_rerun_identical", blocking=True, pool=WAREHOUSE_POOL)
    def rerun_identical(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource, classifiers: ClassifiersResource
    ) -> AssetCheckResult:
        differences = {}
        with warehouse.connect() as conn:
            for version in versions_in_scope(context, conn, spec):
                classifier = load_version(spec, version, classifiers.folder, conn)
                query = build_query(spec, classifier, version, incremental=False)
                conn.execute(f"CREATE OR REPLACE TEMP TABLE _rerun AS {query.sql}", query.params)
                columns = ", ".join(c[0] for c in conn.execute(f"DESCRIBE classified.{spec.table}").fetchall())
                stored = f"SELECT {columns} FROM classified.{spec.table} WHERE classifier_version = ?"
                rerun = f"SELECT {columns} FROM _rerun"
                differences[version] = conn.execute(
                    f"SELECT (SELECT count(*) FROM ({rerun} EXCEPT ALL {stored})) + "
                    f"(SELECT count(*) FROM ({stored} EXCEPT ALL {rerun}))",
                    [version, version],
                ).fetchone()[0]
        return AssetCheckResult(passed=not any(differences.values()), metadata={"rows_differing": MetadataValue.json(differences)})

    checks.append(rerun_identical)
    return checks


classified_checks = [check for spec in CLASSIFIERS for check in build_classified_checks(spec)]
