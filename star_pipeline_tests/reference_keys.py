"""Kimball keys in Python: `dimension_key` and `hash_diff`, the seed design's exact semantics, as the
reference the warehouse's DuckDB macros are tested against (the warehouse computes every key in SQL).

- dimension_key(*natural_keys): MD5 hex of the parts joined with '|', None as '-1'.
- hash_diff(**attributes): MD5 hex of 'k=v' pairs sorted by key, None values
  skipped, joined with '|'.

The same functions exist as DuckDB macros (created by migrations/001_meta.sql):
`dimension_key([a, b, ...])` and `hash_diff(MAP {'k': v, ...})`, and give the
same strings for the same text values. Values are compared as text: pass
strings, integers or booleans (booleans become 'true'/'false' as DuckDB casts
them); cast anything else to text yourself, the same way on both sides.
"""

from __future__ import annotations

import hashlib

NULL_KEY_PART = "-1"


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def dimension_key(*natural_keys: object) -> str:
    joined = "|".join(NULL_KEY_PART if part is None else _text(part) for part in natural_keys)
    return hashlib.md5(joined.encode("utf-8")).hexdigest()


def hash_diff(**attributes: object) -> str:
    pairs = [f"{key}={_text(value)}" for key, value in sorted(attributes.items()) if value is not None]
    return hashlib.md5("|".join(pairs).encode("utf-8")).hexdigest()
