"""What a warehouse table's columns mean, and which of them its preview shows: one place per table.

A table made by an SQL file documents itself in the file's leading comments:

    -- Columns:
    --   usage_date: the UTC day of the calls
    --   input_tokens, output_tokens: tokens of the calls (a description shared by both columns),
    --     continued on lines indented deeper than the names
    -- Preview: usage_date, model, api_calls, cost_usd

(`sql_table_doc`). A table built by Python has a `TableDoc` beside the code that builds it, and
columns that shared code adds to many tables (SCD2's, `pipeline_version`) are described once, there.
`table_metadata` turns a doc into the asset's definition metadata: Dagster's `dagster/column_schema`
(names and descriptions; the types come with each materialization, from DuckDB) and the preview's
columns, which the I/O manager reads (storage/io_manager.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

PREVIEW_COLUMNS_KEY = "preview_columns"
PREVIEW_MAX_COLUMNS = 8
NEVER_PREVIEWED = frozenset({
    "line_bytes", "message_text", "tool_input", "tool_result", "tool_blocks", "command", "excerpt", "text",
    "error", "git_repository_url", "repository_url",
})
"""Columns that hold what an agent or its user wrote, or may hold a credential (a repository URL with a
token in it): never in a preview, whatever a table's doc lists. Dagster keeps previews in its run
history, outside the warehouse."""

_ENTRY = re.compile(r"^--( +)([a-z_][a-z0-9_]*(?:, *[a-z_][a-z0-9_]*)*): +(\S.*)$")
_CONTINUATION = re.compile(r"^--( +)(\S.*)$")
_PREVIEW = re.compile(r"^-- Preview: *(.*)$")
_COLUMNS = re.compile(r"^-- Columns( \(.*\))?:$")  # a note in brackets may say which table


class TableDocError(ValueError):
    """A doc block that does not follow the format: names the file and line."""


@dataclass(frozen=True)
class TableDoc:
    """Column name -> description, in the table's order where known, and the preview's columns in order."""

    columns: dict[str, str] = field(default_factory=dict)
    preview: tuple[str, ...] = ()

    def __or__(self, other: TableDoc) -> TableDoc:
        """Both docs' columns (this one's first); `other`'s preview when it has one."""
        return TableDoc({**self.columns, **other.columns}, other.preview or self.preview)


def leading_comments(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the comment lines before a file's first line of code."""
    lines = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.rstrip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        lines.append((number, stripped))
    return lines


def sql_table_doc(path: Path) -> TableDoc:
    """The `-- Columns:` block and `-- Preview:` line of an SQL file's leading comments (module docstring)."""
    columns: dict[str, str] = {}
    preview: tuple[str, ...] = ()
    in_columns = False
    indent: int | None = None
    current: list[str] = []
    for number, line in leading_comments(path):
        where = f"{path}:{number}"
        found = _PREVIEW.match(line)
        if found:
            preview = tuple(name.strip() for name in found.group(1).split(",") if name.strip())
            in_columns = False
            continue
        if _COLUMNS.match(line):
            in_columns = True
            continue
        if not in_columns:
            continue
        if line == "--":
            in_columns = False
            continue
        entry, more = _ENTRY.match(line), _CONTINUATION.match(line)
        if entry and (indent is None or len(entry.group(1)) == indent):
            indent = len(entry.group(1))
            current = [name.strip() for name in entry.group(2).split(",")]
            for name in current:
                if name in columns:
                    raise TableDocError(f"{where}: column {name} is described twice.")
                columns[name] = entry.group(3)
        elif more and current and indent is not None and len(more.group(1)) > indent:
            for name in current:
                columns[name] += " " + more.group(2)
        else:
            raise TableDocError(
                f"{where}: {line!r} is not a column line. Under '-- Columns:' write '--   name: what it is' "
                "(or 'name_a, name_b: ...'), continue a description on lines indented deeper, and end the "
                "block with a line '--' or '-- Preview: ...'."
            )
    if not columns:
        raise TableDocError(f"{path}: its leading comments have no '-- Columns:' block describing the table's columns.")
    return TableDoc(columns, preview)


def table_metadata(doc: TableDoc) -> dict:
    """An asset's definition metadata for its table: column names and descriptions, and the preview's columns.

    Types are left empty here (the UI shows none): each materialization reports them from the table
    written, and Dagster's UI shows those types beside these descriptions. A table the I/O manager
    does not write (its asset writes it itself) has no preview, so no preview columns.
    """
    from dagster import TableColumn, TableSchema

    metadata: dict = {
        "dagster/column_schema": TableSchema(
            columns=[TableColumn(name=name, type="", description=text) for name, text in doc.columns.items()]
        ),
    }
    if doc.preview:
        metadata[PREVIEW_COLUMNS_KEY] = list(doc.preview)
    return metadata
