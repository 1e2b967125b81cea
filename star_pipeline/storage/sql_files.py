"""Reading a table's SQL file and filling in its `{name}` placeholders.

Placeholders are replaced as plain text (the SQL is full of JSON braces, so no
str.format); only computed SQL fragments and hashes go in, never user input,
which is always bound as a parameter or quoted with `warehouse.quote_literal`.
The files name their placeholders in `--` comments too; those are left as they
are, so a fragment holding a quoted file path with a line break in it cannot end
a comment early and turn the rest of the path into SQL. With `strict`, a
placeholder the file's code does not have is an error, so a renamed placeholder
cannot silently drop a filter.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path


def sql_file_version(path: Path) -> str:
    """The version of an SQL file's code: the first 12 hex of its sha256 (a table built by other SQL is rebuilt).

    Comments are left out: a table's column docs live in them (storage/table_docs.py), and
    editing a description must not rebuild a gigabyte table.
    """
    return hashlib.sha256(sql_code(path.read_text()).encode()).hexdigest()[:12]


def sql_code(sql: str) -> str:
    """The SQL without its `--` comments: what a version of it is computed from."""
    return "".join(text for text, is_comment in split_comments(sql) if not is_comment)


@functools.lru_cache(maxsize=512)
def split_comments(sql: str) -> tuple[tuple[str, bool], ...]:
    """The SQL text as (piece, is_comment) pieces: `--` comments apart from code and string literals.

    Cached by text: every step reads its SQL files again (a file edited meanwhile is new text), and this
    character loop took 0.6 s of a small build."""
    pieces: list[tuple[str, bool]] = []
    start = i = 0
    in_literal = False
    while i < len(sql):
        ch = sql[i]
        if in_literal:
            in_literal = ch != "'"  # a doubled quote closes and reopens: same result
        elif ch == "'":
            in_literal = True
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = len(sql) if end == -1 else end
            pieces += [(sql[start:i], False), (sql[i:end], True)]
            start = i = end
            continue
        i += 1
    pieces.append((sql[start:], False))
    return tuple(piece for piece in pieces if piece[0])


def render_sql(path: Path, placeholders: dict[str, str] | None = None, *, strict: bool = True) -> str:
    pieces = split_comments(path.read_text())
    for name, value in (placeholders or {}).items():
        marker = "{" + name + "}"
        if strict and not any(marker in text for text, is_comment in pieces if not is_comment):
            raise KeyError(f"{path.name} has no placeholder {marker}")
        pieces = [(text if is_comment else text.replace(marker, value), is_comment) for text, is_comment in pieces]
    return "".join(text for text, _ in pieces)
