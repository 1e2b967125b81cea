"""Capture of JSON documents an agent rewrites whole (Amp threads, Gemini sessions, settings files).

A document is stored as pieces, byte-exact, in the source's raw lines table:

- its elements: every element of the arrays the source names (`Source.split`, JSON pointers
  such as "/messages", or "" for a document that is itself an array), each its own piece, at position 1, 2, ... in document order
  (`line_number`), at its byte offset in the version that stored it;
- its skeleton: the document with each element replaced by one NUL byte (no JSON text holds
  a raw NUL), at position 0 and at negative offsets (the skeleton is not a slice of the file).

A new version of the document stores only the pieces whose bytes differ from the latest stored
piece at the same position: appending a message to a 2 MB thread stores that message and a new
skeleton of a few hundred bytes, not 2 MB. Version v is its latest skeleton (at or before v)
with each NUL filled by the latest element (at or before v) of its position, and the raw check
rebuilds the current version that way and compares it with the file. A document that is not
valid JSON yet (caught mid-write) waits, as a half-written line does, until it is quiet; then it
is stored whole, as a skeleton without elements. The manifest row of a version counts the pieces
stored for it (`line_count`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

SKELETON = 0
ELEMENT_MARK = b"\x00"


@dataclass(frozen=True)
class Document:
    skeleton: bytes
    elements: list[tuple[int, bytes]]  # (byte offset in the file, bytes)


def split_document(data: bytes, pointers: tuple[str, ...]) -> Document | None:
    """The skeleton and elements of `data`, or None when it is not one complete JSON value.

    The bytes are read as latin-1, so that character offsets are byte offsets; the structure of
    JSON is ASCII, and only object keys are looked at (json's C decoder skips every value).
    """
    text = data.decode("latin-1")
    decoder = json.JSONDecoder()
    wanted = set(pointers)
    spans: list[tuple[int, int]] = []

    def blank(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i

    def value(i: int, path: str) -> int:
        i = blank(i)
        if path in wanted and text.startswith("[", i):
            i = blank(i + 1)
            if text.startswith("]", i):
                return i + 1
            while True:
                _, end = decoder.raw_decode(text, i)
                spans.append((i, end))
                i = blank(end)
                if text.startswith(",", i):
                    i = blank(i + 1)
                elif text.startswith("]", i):
                    return i + 1
                else:
                    raise ValueError("not an array")
        if text.startswith("{", i) and any(p.startswith(path + "/") for p in wanted):
            i = blank(i + 1)
            if text.startswith("}", i):
                return i + 1
            while True:
                key, i = decoder.raw_decode(text, i)
                i = blank(i)
                if not text.startswith(":", i):
                    raise ValueError("not an object")
                i = blank(value(i + 1, f"{path}/{key}"))
                if text.startswith(",", i):
                    i = blank(i + 1)
                elif text.startswith("}", i):
                    return i + 1
                else:
                    raise ValueError("not an object")
        return decoder.raw_decode(text, i)[1]

    try:
        end = value(0, "")
        if blank(end) != len(text):
            return None
    except (ValueError, IndexError):
        return None
    skeleton, elements, last = [], [], 0
    for start, stop in spans:
        skeleton += [data[last:start], ELEMENT_MARK]
        elements.append((start, data[start:stop]))
        last = stop
    skeleton.append(data[last:])
    return Document(b"".join(skeleton), elements)


def unsplit_document(data: bytes) -> Document:
    """`data` kept whole (not JSON even when quiet): a skeleton of its own, each NUL byte in it an element
    of its own so that it fills back exactly."""
    return Document(data, [(i, ELEMENT_MARK) for i, byte in enumerate(data) if byte == 0])


def fill_skeleton(skeleton: bytes, elements: list[bytes]) -> bytes:
    """The document a skeleton and its elements (in order) are the pieces of."""
    pieces = skeleton.split(ELEMENT_MARK)
    if len(pieces) != len(elements) + 1:
        raise ValueError(f"the skeleton has {len(pieces) - 1} places for {len(elements)} elements")
    out = [pieces[0]]
    for element, piece in zip(elements, pieces[1:]):
        out += [element, piece]
    return b"".join(out)


def piece_signature(parts: list[bytes]) -> tuple[str, ...]:
    """What a stored piece is compared by: the sha256 of each of its parts, in order."""
    return tuple(hashlib.sha256(part).hexdigest() for part in parts)


def stored_document(conn, lines_sql: str, path: str, version: int) -> bytes:
    """Version `version` of the document at `path`, rebuilt from the pieces stored in `lines_sql` (a
    quoted table name): its latest skeleton and latest element per position, at or before that version.
    Raises ValueError when the pieces do not fit together."""
    rows = conn.execute(
        f"""
        WITH pieces AS (SELECT line_number, file_version, byte_offset, line_bytes FROM {lines_sql}
                        WHERE path = ? AND file_version <= ?),
        latest AS (SELECT line_number, max(file_version) AS file_version FROM pieces GROUP BY line_number)
        SELECT line_number, line_bytes FROM pieces JOIN latest USING (line_number, file_version)
        ORDER BY line_number, byte_offset
        """,
        [path, version],
    ).fetchall()
    pieces: dict[int, bytes] = {}
    for position, part in rows:
        pieces[position] = pieces.get(position, b"") + bytes(part)
    skeleton = pieces.get(SKELETON, b"")
    return fill_skeleton(skeleton, [pieces.get(i, b"") for i in range(1, skeleton.count(ELEMENT_MARK) + 1)])
