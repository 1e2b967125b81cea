"""Cline and its forks Roo Code and Kilo Code: VS Code extensions that share one task format;
../shared/FORMATS-agents2.md section 1.

Each keeps its tasks in the editor's extension storage, `<user dir>/globalStorage/<extension id>/tasks/<taskId>/`:
`ui_messages.json` (the task's messages, a JSON array rewritten whole: kept as pieces, each message apart, so a
grown task stores only its new messages) and `task_metadata.json` (the models the task used, the fallback for a
request that names none). `api_conversation_history.json` holds no usage and repeats the messages' text: not
captured. One SQL folder (this one) serves the three: the `{source}` placeholder of messages.sql and usage.sql is
the source's name.
"""

from pathlib import Path

from star_pipeline.sources.source import Source, sessions_scope

# The editors whose user dir may hold the extension's storage: VS Code, its Insiders build, VSCodium, Cursor, Windsurf.
EDITOR_USER_DIRS = ("Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf")
# Where an editor keeps its user dir: Linux, then macOS.
CONFIG_DIRS = ("~/.config", "~/Library/Application Support")


def editor_roots(extension_id: str) -> tuple[str, ...]:
    """The extension's storage folder in every editor's user dir, on Linux and macOS."""
    return tuple(f"{config}/{editor}/User/globalStorage/{extension_id}" for config in CONFIG_DIRS
                 for editor in EDITOR_USER_DIRS)


def cline_family_source(name: str, agent: str, extension_id: str) -> Source:
    """The `Source` of one extension of the Cline family (`name`: its source name, `agent`: how users call it)."""
    return Source(
        name=name,
        description=f"{agent} tasks (<editor user dir>/globalStorage/{extension_id}/tasks/<taskId>/ui_messages.json), "
                    "JSON documents rewritten whole.",
        folder=Path(__file__).parent,
        roots_key=f"{name}_roots",
        default_roots=editor_roots(extension_id),
        files=(("*/tasks/*/ui_messages.json", "documents"), ("*/tasks/*/task_metadata.json", "documents")),
        split=("",),  # ui_messages.json is one array: each message its own piece
        # a piece must be JSON: a message or task_metadata.json an object, ui_messages.json's frame (position 0,
        # its messages taken out) an array
        unparsed_where="CASE WHEN r.line_number = 0 AND r.path LIKE '%/ui_messages.json' "
                       "THEN try(json_type(replace(try(decode(r.line_bytes)), chr(0), 'null'))) IS DISTINCT FROM 'ARRAY' "
                       "ELSE document_json(r.line_bytes) IS NULL END",
        usage_scope=sessions_scope(name),  # a task's calls: the messages its latest ui_messages.json holds
        report_shape="claude",
    )


CLINE = cline_family_source("cline", "Cline", "saoudrizwan.claude-dev")
ROO = cline_family_source("roo", "Roo Code", "rooveterinaryinc.roo-cline")
KILO = cline_family_source("kilo", "Kilo Code", "kilocode.kilo-code")
