"""Classified assets: one per classifier, partitioned by its versions.

A run of partition `<classifier>-<hash>` loads that version's YAML (the file if
it still has that hash, else the copy stored in `meta_classifier_configs` when
the version was first materialized), classifies the normalized items and
replaces exactly that version's rows. Incremental classifiers (messages,
secrets) classify only items this version has not seen and keep its earlier
rows, which equals a full re-run because each item's result depends on that
item alone. Tool practices classify again the calls named in files with new
messages (a call's row can change), written by key. Run config
`full_refresh: true` re-classifies everything.
"""

import dataclasses
from pathlib import Path

from dagster import AssetExecutionContext, Config, ConfigurableResource, Output, asset

from star_pipeline.classified.rules import (
    ClassifierConfigError,
    ClassifierFile,
    VERSION_PATTERN,
    compile_rules,
    parse_classifier,
)
from star_pipeline.classified.specs import CLASSIFIERS, SECRET_FINDINGS, TOOL_PRACTICES, ClassifierSpec
from star_pipeline.normalized.assets import sql_version as normalized_sql_version
from star_pipeline.normalized.per_file_rebuild import call_ids_named_in, changed_files, files_in, record_watermarks
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.sql_files import render_sql, sql_file_version
from star_pipeline.storage.table_writes import SqlQuery
from star_pipeline.storage.warehouse import paths_in, table_exists

SQL_DIR = Path(__file__).parent


class ClassifiersResource(ConfigurableResource):
    """The folder holding one YAML file per classifier."""

    folder: str


class ClassifyConfig(Config):
    full_refresh: bool = False  # re-classify every item instead of only the new ones


def read_sql(name: str, **placeholders: str) -> str:
    return render_sql(SQL_DIR / f"{name}.sql", placeholders)


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
    raise ClassifierConfigError(
        f"classifier version {version}: {Path(folder) / (spec.name + '.yaml')} no longer has this content "
        f"(it is now {current.version if current else 'missing'}), and this version was never materialized, so its "
        "text was not kept. Restore that content to re-run it, or delete the partition."
    )


def remember_version(conn, classifier: ClassifierFile) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO meta_classifier_configs VALUES (?, ?, ?, now())",
        [classifier.version, classifier.name, classifier.text],
    )


def item_match(spec: ClassifierSpec, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{k} = {right}.{k}" for k in spec.item_keys)


def rule_query(
    spec: ClassifierSpec, classifier: ClassifierFile, version: str, incremental: bool, messages_filter: str = "TRUE",
    calls_filter: str = "TRUE",
) -> SqlQuery:
    """The rows of one version of a rule classifier (sessions, messages, tool calls).

    `messages_filter` (SQL on normalized_messages `m`) restricts the message classifier's items: the files
    the re-run check samples, or in an incremental run the files with unclassified messages (`pending_files_filter`).
    `calls_filter` (SQL on normalized_tool_calls `c`) restricts the tool practices' items likewise.
    """
    label_sql, label_params = compile_rules(classifier, spec.label, list(spec.fields))
    rule_sql, rule_params = compile_rules(classifier, spec.label, list(spec.fields), output="rule")
    params: list = []
    if spec.name == "message_kinds":
        new_items = messages_filter
        if incremental:
            new_items = (
                f"{messages_filter} AND NOT EXISTS (SELECT 1 FROM classified.{spec.table} c WHERE c.classifier_version = ? "
                f"AND {item_match(spec, 'c', 'm')})"
            )
            params.append(version)
        items = read_sql(spec.table, new_items=new_items)
    elif spec is TOOL_PRACTICES:
        items = read_sql(spec.table, call_scope=calls_filter)
    else:
        items = read_sql(spec.table)
    keys = ", ".join(spec.item_keys)
    sql = (
        f"WITH items AS ({items}) SELECT {keys}, CAST(? AS VARCHAR) AS classifier_version, "
        f"{label_sql} AS {spec.label}, {rule_sql} AS matched_rule FROM items"
    )
    params += [version, *label_params, *rule_params]
    if incremental:  # only the new items' rows, appended to the version's earlier rows
        return SqlQuery(sql, params, write_mode="append")
    return SqlQuery(sql, params, reads_target=False)


def secret_query(classifier: ClassifierFile, version: str, incremental: bool, messages_filter: str = "TRUE") -> SqlQuery:
    """The findings of one version of the secret classifier: new messages scanned, earlier findings kept.

    `messages_filter` (SQL on normalized_messages `m`) restricts the messages scanned, as for `rule_query`.
    """
    patterns = classifier.config.get("patterns")
    if not isinstance(patterns, list) or not patterns:
        raise ClassifierConfigError(f"{classifier.origin}: 'patterns' must be a non-empty list of {{kind, regex}}.")
    for index, pattern in enumerate(patterns, start=1):
        if not isinstance(pattern, dict) or set(pattern) != {"kind", "regex"}:
            raise ClassifierConfigError(f"{classifier.origin}: pattern {index} must have exactly 'kind' and 'regex'.")
    params: list = []
    new_items = messages_filter
    if incremental:
        new_items = (
            f"{messages_filter} AND NOT EXISTS (SELECT 1 FROM meta_classifier_progress p "
            "WHERE p.classifier_version = CAST(? AS VARCHAR) AND p.source = m.source "
            "AND p.path = m.path AND p.file_version = m.file_version AND m.byte_offset <= p.scanned_through_offset)"
        )
        params.append(version)
    fields = read_sql("derived_secret_findings", new_items=new_items)
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
    sql = f"""
        WITH fields AS ({fields}),
        candidate_fields AS MATERIALIZED (SELECT * FROM fields WHERE regexp_matches(text, CAST(? AS VARCHAR))),
        matches AS ({' UNION ALL '.join(matches)})
        , numbered AS (
            SELECT *, row_number() OVER (PARTITION BY source, path, file_version, byte_offset, field, kind, secret) AS k
            FROM matches
            WHERE secret <> ''
        ),
        located AS (
            -- the k-th match of the same string starts after the first k parts of the text split by it
            SELECT *, list_sum(list_transform(string_split(text, secret)[1:k], lambda part: length(part)))
                      + (k - 1) * length(secret) AS char_offset
            FROM numbered
        )
        SELECT source, path, file_version, byte_offset, field, kind,
            CAST(row_number() OVER (PARTITION BY source, path, file_version, byte_offset, field, kind
                                    ORDER BY char_offset, secret) AS INTEGER) AS occurrence,
            'normalized_messages' AS item_table,
            CAST(char_offset AS BIGINT) AS char_offset,
            CAST(length(secret) AS BIGINT) AS secret_length,
            left(sha256((SELECT salt FROM meta_fingerprint_salt) || secret), 16) AS fingerprint,
            CAST(? AS VARCHAR) AS classifier_version
        FROM located
    """
    params.append(version)
    if incremental:
        sql += f""" UNION ALL BY NAME
            SELECT * FROM classified.{SECRET_FINDINGS.table} c WHERE c.classifier_version = ?
            AND NOT EXISTS (SELECT 1 FROM normalized.normalized_messages m WHERE {new_items}
                            AND {item_match(SECRET_FINDINGS, 'c', 'm')})"""
        params += [version, version]
    return SqlQuery(sql, params, reads_target=incremental)


def build_query(
    spec: ClassifierSpec, classifier: ClassifierFile, version: str, incremental: bool, messages_filter: str = "TRUE",
    calls_filter: str = "TRUE",
) -> SqlQuery:
    if spec is SECRET_FINDINGS:
        return secret_query(classifier, version, incremental, messages_filter)
    return rule_query(spec, classifier, version, incremental, messages_filter, calls_filter)


def tool_practices_watermark(version: str) -> str:
    """The `meta_rebuild_watermarks` name of a tool practices version: new when the SQL its items come from changes."""
    items_sql = sql_file_version(SQL_DIR / f"{TOOL_PRACTICES.table}.sql")
    return f"classified.{TOOL_PRACTICES.table}:{version}:{items_sql}:{normalized_sql_version('normalized_tool_calls')}"


def tool_practices_query(conn, classifier: ClassifierFile, version: str, full: bool) -> tuple[SqlQuery, bool]:
    """A tool practices version's write, and whether it is incremental.

    A call's practice depends on its normalized_tool_calls row, which a new line can change
    (a call's copy in a session that started earlier). So, as for the normalized tables
    (normalized/per_file_rebuild.py), an incremental run classifies again the calls named in
    files whose messages changed since this version's last write, and writes them by key.
    """
    name = tool_practices_watermark(version)
    changed = None if full or not has_classified_before(conn, TOOL_PRACTICES, version) else changed_files(conn, name)
    if changed is None:
        query = rule_query(TOOL_PRACTICES, classifier, version, incremental=False)
        return dataclasses.replace(query, after_write=record_watermarks(name, None)), False
    calls = f"c.call_id IN ({call_ids_named_in(files_in(changed, 'x'))})"
    query = rule_query(TOOL_PRACTICES, classifier, version, incremental=False, calls_filter=calls)
    return dataclasses.replace(query, write_mode="upsert", key_columns=("classifier_version", *TOOL_PRACTICES.item_keys),
                               after_write=record_watermarks(name, changed)), True


# Per message classifier: the files (source, path, file_version) holding messages a version has not classified yet.
PENDING_FILES_SQL = {
    "message_kinds": """
        SELECT n.path FROM (SELECT source, path, file_version, count(*) AS n FROM normalized.normalized_messages GROUP BY ALL) n
        LEFT JOIN (SELECT source, path, file_version, count(*) AS n FROM classified.derived_message_kinds
                   WHERE classifier_version = ? GROUP BY ALL) c USING (source, path, file_version)
        WHERE c.n IS DISTINCT FROM n.n""",
    "secret_findings": """
        SELECT n.path FROM (SELECT source, path, file_version, max(byte_offset) AS last_offset
                            FROM normalized.normalized_messages GROUP BY ALL) n
        LEFT JOIN meta_classifier_progress p ON p.classifier_version = ? AND p.source = n.source
            AND p.path = n.path AND p.file_version = n.file_version
        WHERE p.scanned_through_offset IS NULL OR n.last_offset > p.scanned_through_offset""",
}


def pending_files_filter(conn, spec: ClassifierSpec, version: str) -> str:
    """SQL on normalized_messages `m`: in a file with messages `version` has not classified yet.

    Counted per file over key columns, then passed as a constant list: the item-by-item
    anti-join that follows then reads only those files, not every message of the warehouse.
    """
    paths = sorted({row[0] for row in conn.execute(PENDING_FILES_SQL[spec.name], [version]).fetchall()})
    return paths_in("m.path", paths)


def has_classified_before(conn, spec: ClassifierSpec, version: str) -> bool:
    """Whether this version has rows to build on (secrets: has scanned before, findings or not)."""
    if not table_exists(conn, "classified", spec.table):
        return False
    if spec is SECRET_FINDINGS:
        sql = "SELECT count(*) > 0 FROM meta_classifier_progress WHERE classifier_version = ?"
    else:
        sql = f"SELECT count(*) > 0 FROM classified.{spec.table} WHERE classifier_version = ?"
    return bool(conn.execute(sql, [version]).fetchone()[0])


def build_classifier_asset(spec: ClassifierSpec):
    @asset(
        key=spec.key,
        group_name="classified",
        partitions_def=spec.partitions,
        deps=[["normalized", table] for table in spec.deps],
        pool=WAREHOUSE_POOL,
        metadata={"write_mode": "replace_partition", "partition_column": "classifier_version"},
        kinds={"duckdb"},
        description=spec.description + f" Rules: {spec.name}.yaml in the classifiers folder.",
    )
    def classify(
        context: AssetExecutionContext,
        config: ClassifyConfig,
        warehouse: WarehouseResource,
        classifiers: ClassifiersResource,
    ):
        version = context.partition_key
        with warehouse.connect() as conn:
            classifier = load_version(spec, version, classifiers.folder, conn)
            if spec is TOOL_PRACTICES:
                query, incremental = tool_practices_query(conn, classifier, version, full=config.full_refresh)
            else:
                incremental = spec.incremental and not config.full_refresh and has_classified_before(conn, spec, version)
                pending = pending_files_filter(conn, spec, version) if incremental else "TRUE"
                query = build_query(spec, classifier, version, bool(incremental), pending)  # validates the rules first
            remember_version(conn, classifier)
        context.log.info(f"{version}: {'classifying new items only' if incremental else 'classifying every item'}")
        yield Output(query)
        if spec is SECRET_FINDINGS:
            # Record how far this version has scanned, after its rows are committed.
            with warehouse.connect() as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO meta_classifier_progress SELECT ?, source, path, file_version, max(byte_offset) "
                    "FROM normalized.normalized_messages GROUP BY ALL",
                    [version],
                )

    return classify


classified_assets = [build_classifier_asset(spec) for spec in CLASSIFIERS]
