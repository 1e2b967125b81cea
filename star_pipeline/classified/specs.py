"""The classifiers, described by data: what each classifies, how, how a run picks its items,
its partitions, and the fields its rules may test.

A new classifier is its YAML file (in the classifiers folder), its items SQL
(`<table>.sql` beside this file, with a `{scope}` placeholder on its items) and one
entry here; the assets and checks follow from these fields.

- `method`: "rules" (ordered rules, one row per item: rules.py) or "patterns"
  (regular expressions, one row per match, e.g. secrets).
- `refresh`: how a run after the first picks its items:
  "all" (every item, every run: a session's kind changes as links arrive);
  "new_items" (only messages this version has not seen, earlier rows kept: each
  row depends on its own message alone); "changed_calls" (the tool calls named
  in files with new messages, written by key: storage/watermarks.py).
"""

from dataclasses import dataclass

from dagster import AssetKey, DynamicPartitionsDefinition

from star_pipeline.classified.rules import VERSION_PATTERN

CLASSIFIER_REVISIONS = DynamicPartitionsDefinition(name="classifier_revisions")
"""The partitions of every classified asset: one per revision of the classifiers folder, named by the
version of each classifier file in it (`revision_key`). One partitions definition for the four assets is
what lets one run classify with every registered revision and rebuild the aggregates (sequence.py): Dagster
runs assets of different partitions definitions in separate runs only."""
REVISION_SEPARATOR = "+"
# The run tags by which Dagster runs a range of partitions in one run (what a backfill with one run sets)
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

METHODS = ("rules", "patterns")
REFRESHES = ("all", "new_items", "changed_calls")


@dataclass(frozen=True)
class ClassifierSpec:
    name: str  # the YAML file's stem, and the classifier_version prefix
    table: str  # classified.<table>
    label: str  # the rule key holding the output value, and the output column
    item_keys: tuple[str, ...]  # the normalized item's key columns
    fields: tuple[str, ...]  # columns the rules may test
    deps: tuple[str, ...]  # normalized tables read
    items: str  # the normalized table whose rows are the items
    item_alias: str  # the items' alias in `<table>.sql`, which `{scope}` filters
    method: str
    refresh: str
    description: str
    row_key: tuple[str, ...] = ()  # a row's key besides classifier_version (default: the item keys)

    def __post_init__(self) -> None:
        if self.method not in METHODS or self.refresh not in REFRESHES:
            raise ValueError(f"classifier {self.name}: method must be one of {METHODS}, refresh one of {REFRESHES}")

    @property
    def key_columns(self) -> tuple[str, ...]:
        return ("classifier_version", *(self.row_key or self.item_keys))

    @property
    def key(self) -> AssetKey:
        return AssetKey(["classified", self.table])

    def version_in(self, revision: str) -> str | None:
        """This classifier's version in a revision (None: its file was absent from that revision)."""
        return revision_versions(revision).get(self.name)


MESSAGE_KEY = ("source", "path", "file_version", "byte_offset")

SESSION_KINDS = ClassifierSpec(
    name="session_kinds",
    table="derived_session_kinds",
    label="kind",
    item_keys=("source", "session_key"),
    fields=("source", "file_kind", "entrypoint", "tool_version", "has_resume_link", "has_summary_link", "record_count"),
    deps=("normalized_sessions", "normalized_session_links"),
    items="normalized.normalized_sessions",
    item_alias="s",
    method="rules",
    refresh="all",  # a session's kind can change as links to it arrive
    description="One row per session and version: main, subagent, compaction, inline sidechain, resumed continuation, headless.",
)
MESSAGE_KINDS = ClassifierSpec(
    name="message_kinds",
    table="derived_message_kinds",
    label="kind",
    item_keys=MESSAGE_KEY,
    fields=("source", "record_type", "subtype", "role", "content_kind", "is_meta", "is_compact_summary",
            "is_sidechain", "file_kind", "text"),
    deps=("normalized_messages",),
    items="normalized.normalized_messages",
    item_alias="m",
    method="rules",
    refresh="new_items",
    description="One row per message and version: human prompt, tool result, slash command, skill or context "
    "injection, compaction summary, interruption, assistant text / tool use, event, unknown.",
)
TOOL_PRACTICES = ClassifierSpec(
    name="tool_practices",
    table="derived_tool_practices",
    label="family",
    item_keys=("source", "call_id"),
    fields=("source", "tool_name", "subagent_type", "skill_name", "command", "target_path", "status", "exit_code"),
    deps=("normalized_tool_calls",),
    items="normalized.normalized_tool_calls",
    item_alias="c",
    method="rules",
    refresh="changed_calls",  # a call's row changes when its copy in an earlier session arrives
    description="One row per tool call and version: its practice family (discovery, planning, code_review, "
    "commit_workflow, test_run, build, file_read, file_edit, search, web, delegation, other).",
)
SECRET_FINDINGS = ClassifierSpec(
    name="secret_findings",
    table="derived_secret_findings",
    label="kind",
    item_keys=MESSAGE_KEY,
    fields=(),
    deps=("normalized_messages",),
    items="normalized.normalized_messages",
    item_alias="m",
    method="patterns",
    refresh="new_items",
    row_key=(*MESSAGE_KEY, "field", "kind", "occurrence"),
    description="One row per secret-looking string in message text, tool input or tool result: kind, where, and "
    "a salted fingerprint. The secret itself is never stored here, and is masked in what leaves the warehouse.",
)
CLASSIFIERS = (SESSION_KINDS, MESSAGE_KINDS, TOOL_PRACTICES, SECRET_FINDINGS)


def unregistered_files(versions: dict[str, str]) -> list[str]:
    """Classifier files (stems, from `classifier_file_versions`) that no spec here describes: nothing
    classifies with them, so whoever wrote one is told (build output, sensor log, `classifiers list`)."""
    known = {spec.name for spec in CLASSIFIERS}
    return sorted(name for name in versions if name not in known)


def unregistered_message(folder, names: list[str]) -> str:
    files = ", ".join(f"{name}.yaml" for name in names)
    return (f"{folder}: {files} describe no classifier star_pipeline knows (known: "
            f"{', '.join(spec.name for spec in CLASSIFIERS)}); they are ignored. Rename the file, or add its "
            "classifier to star_pipeline/classified/specs.py.")


def revision_key(versions: dict[str, str]) -> str | None:
    """The revision of a classifiers folder from its files' versions (`classifier_file_versions`): the version
    of each classifier described here, in CLASSIFIERS' order, joined by '+', e.g.
    `session_kinds-3fa2c1d0+message_kinds-77aa0b12+tool_practices-0c9d8e7f+secret_findings-1b2c3d4e`.
    None when the folder holds none of them."""
    known = [versions[spec.name] for spec in CLASSIFIERS if spec.name in versions]
    return REVISION_SEPARATOR.join(known) or None


def revision_versions(revision: str) -> dict[str, str]:
    """classifier name -> version, of a revision key."""
    found = {}
    for version in revision.split(REVISION_SEPARATOR):
        match = VERSION_PATTERN.match(version)
        if match:
            found[match.group("name")] = version
    return found


def versions_of(spec: ClassifierSpec, revisions: list[str]) -> list[str]:
    """The distinct versions of one classifier in these revisions, in their order."""
    return list(dict.fromkeys(v for v in (spec.version_in(r) for r in revisions) if v))


def revisions_run(revisions: list[str]) -> dict:
    """How ONE run covers these registered revisions (in the order they were registered), as keyword
    arguments of a RunRequest or `execute_in_process`: the only one's partition key, or the range from
    the first to the last (every revision between them)."""
    if len(revisions) == 1:
        return {"partition_key": revisions[0]}
    return {"tags": {RANGE_START_TAG: revisions[0], RANGE_END_TAG: revisions[-1]}}
