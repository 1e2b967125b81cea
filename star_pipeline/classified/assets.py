"""Classified assets: one per classifier, all partitioned by revisions of the classifiers folder.

A partition is a revision (`specs.revision_key`: the version `<classifier>-<hash>` of
each file); a run of one or several revisions classifies with each distinct version
of its classifier once. A version's YAML is the file if it still has that hash, else
the copy stored in `meta_classifier_configs` when the version was first materialized
(a version whose text was lost is skipped with a warning, and fails a run that asked
for nothing else). Each version replaces exactly its own rows (`classifier_version`). Incremental classifiers (messages,
secrets) classify only items this version has not seen and keep its earlier
rows, which equals a full re-run because each item's result depends on that
item alone. Tool practices classify again the calls named in files with new
messages (a call's row can change), written by key. Run config
`full_refresh: true` re-classifies everything.
"""

import dataclasses
from pathlib import Path

from dagster import AssetExecutionContext, Config, ConfigurableResource, MetadataValue, Output, asset

from star_pipeline.classified.rules import (
    ClassifierConfigError,
    ClassifierFile,
    VERSION_PATTERN,
    compile_rules,
    parse_classifier,
)
from star_pipeline.classified.specs import CLASSIFIER_REVISIONS, CLASSIFIERS, ClassifierSpec, versions_of
from star_pipeline.normalized.assets import sql_version as normalized_sql_version
from star_pipeline.normalized.rebuild_scopes import MESSAGES, call_ids_named_in
from star_pipeline.storage.watermarks import changed_files, files_in, record_watermarks
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.sql_files import render_sql, sql_file_version
from star_pipeline.storage.table_docs import sql_table_doc, table_metadata
from star_pipeline.storage.table_writes import PartitionWrites, SqlQuery
from star_pipeline.storage.warehouse import paths_in, quote_literal, table_exists

SQL_DIR = Path(__file__).parent


class ClassifiersResource(ConfigurableResource):
    """The folder holding one YAML file per classifier."""

    folder: str


class ClassifyConfig(Config):
    full_refresh: bool = False  # re-classify every item instead of only the new ones


def read_sql(name: str, **placeholders: str) -> str:
    return render_sql(SQL_DIR / f"{name}.sql", placeholders)


class VersionTextLost(ClassifierConfigError):
    """A registered version whose file changed before it was ever materialized: its rules are nowhere."""


def load_version(spec: ClassifierSpec, version: str, folder: str, conn) -> ClassifierFile:
    """The classifier file of `version`: on disk if unchanged, else as stored when first materialized."""
    match = VERSION_PATTERN.match(version)
    if not match or match.group("name") != spec.name:
        raise ClassifierConfigError(
            f"partition {version!r} is not a version of classifier {spec.name} (expected '{spec.name}-<8 hex>')."
        )
    path = Path(folder) / f"{spec.name}.yaml"
    current = parse_classifier(spec.name, path.read_bytes(), str(path)) if path.is_file() else None
    if current is not None and current.version == version:
        return current
    row = conn.execute("SELECT config_text FROM meta_classifier_configs WHERE classifier_version = ?", [version]).fetchone()
    if row:
        return parse_classifier(spec.name, row[0].encode("utf-8"), f"{version} (stored in meta_classifier_configs)")
    raise VersionTextLost(
        f"classifier version {version}: {Path(folder) / (spec.name + '.yaml')} no longer has this content "
        f"(it is now {current.version if current else 'missing'}), and this version was never materialized, so its "
        "text was not kept. Restore that content to re-run it, or delete the partition."
    )


def item_match(spec: ClassifierSpec, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{k} = {right}.{k}" for k in spec.item_keys)


def rule_query(spec: ClassifierSpec, classifier: ClassifierFile, version: str, scope: str, scope_params: list,
               append: bool) -> SqlQuery:
    """The rows of one version of a rule classifier over the items `scope` selects (SQL on the items'
    alias; its `?`s bound by `scope_params`): appended to the version's earlier rows, or its whole partition."""
    label_sql, label_params = compile_rules(classifier, spec.label, list(spec.fields))
    rule_sql, rule_params = compile_rules(classifier, spec.label, list(spec.fields), output="rule")
    items = read_sql(spec.table, scope=scope)
    keys = ", ".join(spec.item_keys)
    sql = (
        f"WITH items AS ({items}) SELECT {keys}, CAST(? AS VARCHAR) AS classifier_version, "
        f"{label_sql} AS {spec.label}, {rule_sql} AS matched_rule FROM items"
    )
    params = [*scope_params, version, *label_params, *rule_params]
    if append:  # only the new items' rows, appended to the version's earlier rows
        return SqlQuery(sql, params, write_mode="append")
    return SqlQuery(sql, params, reads_target=False)


def pattern_query(spec: ClassifierSpec, classifier: ClassifierFile, version: str, scope: str, scope_params: list,
                  keep_earlier: bool) -> SqlQuery:
    """The matches of one version of a pattern classifier (one row per match: kind, where, salted fingerprint)
    in the items `scope` selects; with `keep_earlier`, the version's rows of other items are kept."""
    patterns = classifier.config.get("patterns")
    if not isinstance(patterns, list) or not patterns:
        raise ClassifierConfigError(f"{classifier.origin}: 'patterns' must be a non-empty list of {{kind, regex}}.")
    for index, pattern in enumerate(patterns, start=1):
        if not isinstance(pattern, dict) or set(pattern) != {"kind", "regex"}:
            raise ClassifierConfigError(f"{classifier.origin}: pattern {index} must have exactly 'kind' and 'regex'.")
    params: list = [*scope_params]
    fields = read_sql(spec.table, scope=scope)
    # One pass of all patterns at once picks the few fields that hold any match;
    # only those are searched pattern by pattern (RE2 scopes each group's flags).
    any_pattern = "|".join(f"(?:{pattern['regex']})" for pattern in patterns)
    params.append(any_pattern)
    matches = []
    for pattern in patterns:
        matches.append(
            "SELECT f.*, CAST(? AS VARCHAR) AS kind, unnest(regexp_extract_all(f.text, CAST(? AS VARCHAR))) AS secret "
            "FROM candidate_fields f"
        )
        params += [str(pattern["kind"]), str(pattern["regex"])]
    keys = ", ".join(spec.item_keys)
    sql = f"""
        WITH fields AS ({fields}),
        candidate_fields AS MATERIALIZED (SELECT * FROM fields WHERE regexp_matches(text, CAST(? AS VARCHAR))),
        matches AS ({' UNION ALL '.join(matches)})
        , numbered AS (
            SELECT *, row_number() OVER (PARTITION BY {keys}, field, kind, secret) AS k
            FROM matches
            WHERE secret <> ''
        ),
        located AS (
            -- the k-th match of the same string starts after the first k parts of the text split by it
            SELECT *, list_sum(list_transform(string_split(text, secret)[1:k], lambda part: length(part)))
                      + (k - 1) * length(secret) AS char_offset
            FROM numbered
        )
        SELECT {keys}, field, kind,
            CAST(row_number() OVER (PARTITION BY {keys}, field, kind
                                    ORDER BY char_offset, secret) AS INTEGER) AS occurrence,
            {quote_literal(spec.items.split(".")[-1])} AS item_table,
            CAST(char_offset AS BIGINT) AS char_offset,
            CAST(length(secret) AS BIGINT) AS secret_length,
            left(sha256((SELECT salt FROM meta_fingerprint_salt) || secret), 16) AS fingerprint,
            CAST(? AS VARCHAR) AS classifier_version
        FROM located
    """
    params.append(version)
    if keep_earlier:
        alias = spec.item_alias
        sql += f""" UNION ALL BY NAME
            SELECT * FROM classified.{spec.table} c WHERE c.classifier_version = ?
            AND NOT EXISTS (SELECT 1 FROM {spec.items} {alias} WHERE {scope} AND {item_match(spec, 'c', alias)})"""
        params += [version, *scope_params]
    return SqlQuery(sql, params, reads_target=keep_earlier)


def build_query(spec: ClassifierSpec, classifier: ClassifierFile, version: str, scope: str = "TRUE",
                scope_params: list | None = None, incremental: bool = False) -> SqlQuery:
    """One version's write over the items `scope` selects; `incremental` keeps the version's other rows."""
    if spec.method == "patterns":
        return pattern_query(spec, classifier, version, scope, scope_params or [], keep_earlier=incremental)
    return rule_query(spec, classifier, version, scope, scope_params or [], append=incremental)


def changed_calls_watermark(spec: ClassifierSpec, version: str) -> str:
    """The `meta_rebuild_watermarks` name of a version: new when the SQL its items come from changes."""
    items_sql = sql_file_version(SQL_DIR / f"{spec.table}.sql")
    return f"classified.{spec.table}:{version}:{items_sql}:{normalized_sql_version(spec.items.split('.')[-1])}"


def changed_calls_query(conn, spec: ClassifierSpec, classifier: ClassifierFile, version: str, full: bool) -> tuple[SqlQuery, bool]:
    """A version's write over the calls named in files whose messages changed since its last write, and
    whether it is incremental.

    A call's row depends on its normalized_tool_calls row, which a new line can change
    (a call's copy in a session that started earlier). So, as for the normalized tables
    (storage/watermarks.py), an incremental run classifies again the calls named in
    files whose messages changed since this version's last write, and writes them by key.
    """
    name = changed_calls_watermark(spec, version)
    changed = None if full or not has_classified_before(conn, spec, version) else changed_files(conn, name, MESSAGES)
    if changed is None:
        query = build_query(spec, classifier, version)
        return dataclasses.replace(query, after_write=record_watermarks(name, None, MESSAGES)), False
    calls = f"{spec.item_alias}.call_id IN ({call_ids_named_in(files_in(changed, 'x'))})"
    query = build_query(spec, classifier, version, calls)
    return dataclasses.replace(query, write_mode="upsert", key_columns=spec.key_columns,
                               after_write=record_watermarks(name, changed, MESSAGES)), True


def pending_files_sql(spec: ClassifierSpec) -> str:
    """The files holding messages a version (the `?`) has not classified yet: for rules, those whose
    message count differs from its rows'; for patterns (which leave no row where nothing matched),
    those with messages past how far it has scanned (`meta_classifier_progress`)."""
    if spec.method == "patterns":
        return f"""
        SELECT n.path FROM (SELECT source, path, file_version, max(byte_offset) AS last_offset
                            FROM {spec.items} GROUP BY ALL) n
        LEFT JOIN meta_classifier_progress p ON p.classifier_version = ? AND p.source = n.source
            AND p.path = n.path AND p.file_version = n.file_version
        WHERE p.scanned_through_offset IS NULL OR n.last_offset > p.scanned_through_offset"""
    return f"""
        SELECT n.path FROM (SELECT source, path, file_version, count(*) AS n FROM {spec.items} GROUP BY ALL) n
        LEFT JOIN (SELECT source, path, file_version, count(*) AS n FROM classified.{spec.table}
                   WHERE classifier_version = ? GROUP BY ALL) c USING (source, path, file_version)
        WHERE c.n IS DISTINCT FROM n.n"""


def new_items_scope(conn, spec: ClassifierSpec, version: str) -> tuple[str, list]:
    """SQL on the items (and its parameters): messages `version` has not classified yet.

    Files are counted first (over key columns) and passed as a constant list: the item-by-item
    anti-join that follows then reads only those files, not every message of the warehouse.
    """
    alias = spec.item_alias
    paths = sorted({row[0] for row in conn.execute(pending_files_sql(spec), [version]).fetchall()})
    if spec.method == "patterns":
        seen = (f"EXISTS (SELECT 1 FROM meta_classifier_progress p WHERE p.classifier_version = CAST(? AS VARCHAR) "
                f"AND p.source = {alias}.source AND p.path = {alias}.path AND p.file_version = {alias}.file_version "
                f"AND {alias}.byte_offset <= p.scanned_through_offset)")
    else:
        seen = (f"EXISTS (SELECT 1 FROM classified.{spec.table} c WHERE c.classifier_version = ? "
                f"AND {item_match(spec, 'c', alias)})")
    return f"{paths_in(alias + '.path', paths)} AND NOT {seen}", [version]


def has_classified_before(conn, spec: ClassifierSpec, version: str) -> bool:
    """Whether this version has rows to build on (patterns: has scanned before, matches or not)."""
    if not table_exists(conn, "classified", spec.table):
        return False
    if spec.method == "patterns":
        sql = "SELECT count(*) > 0 FROM meta_classifier_progress WHERE classifier_version = ?"
    else:
        sql = f"SELECT count(*) > 0 FROM classified.{spec.table} WHERE classifier_version = ?"
    return bool(conn.execute(sql, [version]).fetchone()[0])


def classify_query(conn, spec: ClassifierSpec, classifier: ClassifierFile, version: str, full: bool) -> tuple[SqlQuery, bool]:
    """A version's write as its `refresh` says, and whether it is incremental."""
    if spec.refresh == "changed_calls":
        return changed_calls_query(conn, spec, classifier, version, full)
    if spec.refresh == "new_items" and not full and has_classified_before(conn, spec, version):
        scope, params = new_items_scope(conn, spec, version)
        return build_query(spec, classifier, version, scope, params, incremental=True), True
    return build_query(spec, classifier, version), False


def version_write(conn, spec: ClassifierSpec, classifier: ClassifierFile, version: str, full: bool) -> tuple[SqlQuery, bool]:
    """One version's write (classify_query), with what must commit with it: a pattern classifier's scan
    progress (it leaves no row where nothing matched), and the version's text in meta_classifier_configs."""
    query, incremental = classify_query(conn, spec, classifier, version, full)  # validates the rules first
    # Written without INSERT OR IGNORE/REPLACE, which need a key constraint a DuckLake cannot have.
    bookkeeping = [("INSERT INTO meta_classifier_configs SELECT ?, ?, ?, now() WHERE NOT EXISTS "
                    "(SELECT 1 FROM meta_classifier_configs WHERE classifier_version = ?)",
                    [classifier.version, classifier.name, classifier.text, classifier.version])]
    if spec.method == "patterns":
        bookkeeping.append((
            "MERGE INTO meta_classifier_progress p USING (SELECT ? AS classifier_version, source, path, file_version, "
            f"max(byte_offset) AS scanned_through_offset FROM {spec.items} GROUP BY ALL) s "
            "ON p.classifier_version = s.classifier_version AND p.source = s.source AND p.path = s.path "
            "AND p.file_version = s.file_version "
            "WHEN MATCHED THEN UPDATE SET scanned_through_offset = s.scanned_through_offset "
            "WHEN NOT MATCHED THEN INSERT BY NAME", [version]))
    return dataclasses.replace(query, after_write=(*query.after_write, *bookkeeping)), incremental


def build_classifier_asset(spec: ClassifierSpec):
    @asset(
        key=spec.key,
        group_name="classified",
        partitions_def=CLASSIFIER_REVISIONS,
        deps=[["normalized", table] for table in spec.deps],
        pool=WAREHOUSE_POOL,
        # the columns are described in the items file, named after the table
        metadata={"write_mode": "replace_partition", "partition_column": "classifier_version",
                  **table_metadata(sql_table_doc(SQL_DIR / f"{spec.table}.sql"))},
        kinds={"duckdb"},
        description=spec.description + f" Rules: {spec.name}.yaml in the classifiers folder; a partition is a "
        "revision of that folder, and this table keeps one set of rows per version of the file.",
    )
    def classify(
        context: AssetExecutionContext,
        config: ClassifyConfig,
        warehouse: WarehouseResource,
        classifiers: ClassifiersResource,
    ):
        """Each distinct version of this classifier in the run's revisions, once: a run over every registered
        revision (after an ingest) tops up each version with the new items."""
        writes, lost = [], []
        for version in versions_of(spec, context.partition_keys):
            with warehouse.connect() as conn:
                try:
                    classifier = load_version(spec, version, classifiers.folder, conn)
                except VersionTextLost as exc:
                    lost.append(exc)
                    context.log.warning(f"{exc} Skipped; `star-pipeline classifiers delete {version}` removes it.")
                    continue
                query, incremental = version_write(conn, spec, classifier, version, config.full_refresh)
            context.log.info(f"{version}: {'classifying new items only' if incremental else 'classifying every item'}")
            writes.append((version, query))
        if lost and not writes:
            raise lost[0]
        return Output(PartitionWrites(tuple(writes)), metadata={"versions": MetadataValue.json([v for v, _ in writes])})

    return classify


classified_assets = [build_classifier_asset(spec) for spec in CLASSIFIERS]
