"""What star_pipeline knows about one agent's files: the `Source` every layer reads.

A source is a folder under `star_pipeline/sources/` holding its `Source` (in
`__init__.py`) and its SQL: the parser of its raw lines into the normalized
contract (`messages.sql`), its API-call rules (`usage.sql`), and so on. The
registry (`star_pipeline/sources/__init__.py`) lists them; the raw tables, the
manifest checks, the sensors, the config keys, the normalized unions, the checks
and `report --source` are all built from it. Nothing here imports dagster: the
report and hook commands read the registry too.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# How an incremental run scopes a source's API calls: given the paths of this source's files with new
# messages (None: rebuild everything), the placeholders of its usage.sql and the rows to delete besides
# those whose key comes back (None: only those).
UsageScope = Callable[[list[str] | None], tuple[dict[str, str], str | None]]


def sessions_scope(source_name: str, column: str = "m.session_id") -> UsageScope:
    """The usage scope of a source whose calls are counted per session: the sessions of the files with new
    messages (`column` names the session on the messages usage.sql reads); their stored rows go first,
    since a session's calls can move (another copy of the session becomes the one that counts)."""
    messages = "normalized.normalized_messages"

    def scope(paths: list[str] | None) -> tuple[dict[str, str], str | None]:
        from star_pipeline.storage.warehouse import paths_in, quote_literal

        if paths is None:
            return {"scope": "TRUE"}, None
        if not paths:
            return {"scope": "FALSE"}, None
        name = quote_literal(source_name)
        sessions = f"(SELECT x.session_id FROM {messages} x WHERE x.source = {name} AND {paths_in('x.path', paths)})"
        return {"scope": f"{column} IN {sessions}"}, f"source = {name} AND session_id IN {sessions}"

    return scope


CAPTURES = ("lines", "documents", "database")


def capture_of(files: tuple[tuple[str, str], ...], path: str) -> str | None:
    """The capture of the first (glob, capture) of `files` that matches `path` (see `Source.files`)."""
    name = path.rsplit("/", 1)[-1]
    for glob, capture in files:
        if fnmatch.fnmatchcase(path, "*/" + glob) if "/" in glob else fnmatch.fnmatchcase(name, glob):
            return capture
    return None


@dataclass(frozen=True)
class Source:
    name: str  # the `source` column value, the raw tables' prefix (`raw.<name>_lines`), the `--source` choice
    description: str
    folder: Path  # this source's folder: its SQL files live here
    roots_key: str  # its key under `sources:` in the config
    # Where the agent writes when the config does not say (as the agent and ccusage look): `~` and
    # `$VAR` expand, an entry whose variable is unset is dropped (config.py).
    default_roots: tuple[str, ...] = ()
    single_root: bool = False  # the key names one folder (the hook spool), not a list of roots: required
    # Its files and how each is captured: (glob, capture) pairs, the first that matches wins. A glob without
    # "/" matches the file's name, one with "/" the end of its path ("*/chats/*.json"). Captures:
    # "lines" (appended lines, raw/capture.py), "documents" (JSON rewritten whole, kept as pieces:
    # raw/documents.py; the elements of the arrays at the JSON pointers `split` apart, "" the document itself when
    # it is one array), "database" (SQLite,
    # kept as one piece per row of the `database_tables`: raw/databases.py).
    files: tuple[tuple[str, str], ...] = (("*.jsonl", "lines"),)
    split: tuple[str, ...] = ()
    database_tables: tuple[str, ...] = ()
    # An agent that writes into the project folder itself (Crush, Aider): its files' paths relative to a
    # project folder (globs allowed: "*.md"), looked for in every project folder the shared scan finds
    # (storage/project_folders.py), besides its roots. Each must also match `files`, which says its capture.
    project_files: tuple[str, ...] = ()
    # Folders an agent's own index lists (Crush's projects.json): given the source's roots, more folders to
    # walk for its `files` as if they were roots.
    listed_folders: Callable[[list[str]], list[str]] | None = None
    # The normalized contract. `messages.sql` parses `{lines}` (the raw lines to read, whole) into
    # normalized_messages columns; `usage.sql` turns its messages into normalized_usage rows; `hook_events.sql`
    # (the hook spool) into normalized_hook_events rows. A source without one has none of those rows.
    has_messages: bool = True
    usage_scope: UsageScope | None = None
    has_hook_events: bool = False
    # When a raw line is a parse error: SQL on raw line `r` (whole).
    unparsed_where: str = "transcript_json(r.line_bytes) IS NULL"
    # Reasons of its own for a parse error, tried before the generic ones: (SQL condition on `text`, reason).
    parse_error_reasons: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # `report --json --source <name>` speaks ccusage's JSON for this agent: "claude" or "codex".
    report_shape: str = "claude"
    # The command that resumes one of its sessions ("{id}": the session id), shown by search, MCP and briefs.
    resume_command: str | None = None
    # What a report with this agent's rows must say about them (how the agent records usage), printed beside it.
    report_note: str | None = None

    def resume(self, session_id: str) -> str | None:
        return self.resume_command.format(id=session_id) if self.resume_command else None

    def capture_of(self, path: str) -> str | None:
        """How the file at `path` is captured (None: not one of this source's files)."""
        return capture_of(self.files, path)

    @property
    def captures(self) -> set[str]:
        return {capture for _glob, capture in self.files}

    def sql_file(self, name: str) -> Path:
        return self.folder / f"{name}.sql"

    @property
    def lines_table(self) -> str:
        return f"raw.{self.name}_lines"

    @property
    def files_table(self) -> str:
        return f"raw.{self.name}_files"

    @property
    def line_table(self) -> str:
        """The normalized table whose rows, with the parse errors, account for every raw line of this source."""
        return "normalized_hook_events" if self.has_hook_events else "normalized_messages"
