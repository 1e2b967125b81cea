"""Reading a table's SQL file and filling in its `{name}` placeholders.

Placeholders are replaced as plain text (the SQL is full of JSON braces, so no
str.format); only computed SQL fragments and hashes go in, never user input,
which is always bound as a parameter. With `strict`, a placeholder the file
does not have is an error, so a renamed placeholder cannot silently drop a filter.
"""

from __future__ import annotations

from pathlib import Path


def render_sql(path: Path, placeholders: dict[str, str] | None = None, *, strict: bool = True) -> str:
    sql = path.read_text()
    for name, value in (placeholders or {}).items():
        marker = "{" + name + "}"
        if strict and marker not in sql:
            raise KeyError(f"{path.name} has no placeholder {marker}")
        sql = sql.replace(marker, value)
    return sql
