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

    @property
    def partitions(self) -> DynamicPartitionsDefinition:
        return DynamicPartitionsDefinition(name=f"{self.name}_version")


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
    fields=("source", "tool_name", "subagent_type", "skill_name", "command", "target_path"),
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
