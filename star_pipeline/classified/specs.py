"""The four classifiers: what each classifies, its partitions, and the fields its rules may test."""

from dataclasses import dataclass

from dagster import AssetKey, DynamicPartitionsDefinition


@dataclass(frozen=True)
class ClassifierSpec:
    name: str  # the YAML file's stem, and the classifier_version prefix
    table: str  # classified.<table>
    label: str  # the rule key holding the output value, and the output column
    item_keys: tuple[str, ...]  # the normalized item's key columns
    fields: tuple[str, ...]  # columns the rules may test
    deps: tuple[str, ...]  # normalized tables read
    incremental: bool  # classify only items this version has not seen (else all items each run)
    description: str

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
    incremental=False,  # a session's kind can change as links to it arrive
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
    incremental=True,
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
    incremental=False,
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
    incremental=True,
    description="One row per secret-looking string in message text, tool input or tool result: kind, where, and "
    "a salted fingerprint. The secret itself is never stored here, and is masked in what leaves the warehouse.",
)
CLASSIFIERS = (SESSION_KINDS, MESSAGE_KINDS, TOOL_PRACTICES, SECRET_FINDINGS)
