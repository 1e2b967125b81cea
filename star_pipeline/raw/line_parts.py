"""Reading raw lines whole, a bounded amount at a time.

The capture stores a line longer than `PART_BYTES` as several rows (`split_parts`)
(`part_number` 1..`part_count`, in byte order; see capture.py). Whatever parses
lines reads them through `whole_lines`, which gives one row per line with its
complete bytes: whole lines as stored, long lines reassembled. Parsing lines in
SQL holds many times their bytes in memory, so a caller that may read a lot of
them cuts its work into rowid ranges of a bounded size (`line_batches`), one
statement each.

Both read ONE machine's lines per path (`read_machine`): in a team warehouse a
transcript path captured on several machines is one session file (agents name
files by session id, so the same path on two machines is a synced copy), and
reading every copy would count its tokens twice. Raw keeps every machine's lines.
"""

from __future__ import annotations

from star_pipeline.raw.documents import piece_signature
from star_pipeline.storage.warehouse import quote_ident

PART_BYTES = 64000
"""The longest row a line is stored in (bytes); longer lines become several rows (see the module docstring).
Under DuckDB's ~128 KB pinning threshold with room to spare; 450 MB of 150 KB lines in parts committed
within 256 MB (BENCHMARKS.md)."""

MIN_BATCH_BYTES = 8 << 20
BATCH_MEMORY_SHARE = 64
"""A statement that parses lines reads at most 1/64 of DuckDB's memory limit of them (`line_batches`):
DuckDB works through 2,048 rows at a time whatever their size, and parsing a JSON line in SQL takes
some 30 times its bytes at once (decoded, validated, transformed, its fields extracted): 32 MiB of
150 KB lines ran out of a 1 GiB limit, 8 MiB did not (BENCHMARKS.md)."""


def lines_table(source: str) -> str:
    return f"raw.{quote_ident(source + '_lines')}"


def files_table(source: str) -> str:
    return f"raw.{quote_ident(source + '_files')}"


def read_machines(source: str) -> str:
    """SQL relation (path, machine_id): per path of `raw.<source>_files`, the machine whose lines the layers
    above read: the lexically smallest machine id that has the path (deterministic, and the same on every
    machine). Before migration 011's rows are claimed, machine_id is NULL, and NULL is read."""
    return f"(SELECT path, min(machine_id) AS machine_id FROM {files_table(source)} GROUP BY path)"


def read_machine(source: str, alias: str = "r") -> str:
    """SQL predicate on a row `alias` of `raw.<source>_lines` or `_files`: of the machine `read_machines` names
    for its path."""
    return (f"{alias}.machine_id IS NOT DISTINCT FROM "
            f"(SELECT min(g.machine_id) FROM {files_table(source)} g WHERE g.path = {alias}.path)")


def whole_lines(source: str, where: str = "TRUE", parts_where: str | None = None) -> str:
    """An SQL relation of the lines of `raw.<source>_lines` that `where` selects, one row per line:
    path, file_version, line_number, byte_offset, byte_length, line_bytes, ends_with_newline.

    `where` is SQL on the raw rows `r`; it must hold for all parts of a line alike (test
    path, file_version, line_number or a rowid range, not byte_offset). `parts_where`, when
    given, replaces it for the parts of long lines. Parts of a valid UTF-8 line are cut
    between characters, so they decode one by one and join as text; the rare long line that
    is not UTF-8 is joined as bytes.
    """
    table = lines_table(source)
    parts_where = where if parts_where is None else parts_where
    where, parts_where = f"{read_machine(source)} AND ({where})", f"{read_machine(source)} AND ({parts_where})"
    return f"""(
        SELECT r.path, r.file_version, r.line_number, r.byte_offset, r.byte_length, r.line_bytes, r.ends_with_newline
        FROM {table} r WHERE r.part_count = 1 AND ({where})
        UNION ALL
        SELECT path, file_version, line_number, min(byte_offset) AS byte_offset,
            CAST(sum(byte_length) AS BIGINT) AS byte_length,
            CASE WHEN count(*) = count(try(decode(line_bytes)))
                 THEN encode(string_agg(try(decode(line_bytes)), '' ORDER BY part_number))
                 ELSE list_reduce(list(line_bytes ORDER BY part_number), lambda a, b: a || b) END AS line_bytes,
            bool_or(ends_with_newline) AS ends_with_newline
        FROM {table} r WHERE r.part_count > 1 AND ({parts_where})
        GROUP BY path, file_version, line_number
    )"""


def batch_bytes(memory_limit_bytes: int | None) -> int:
    """How many bytes of lines one parsing statement may read under DuckDB's memory limit."""
    return max(MIN_BATCH_BYTES, (memory_limit_bytes or 0) // BATCH_MEMORY_SHARE)


def line_batches(conn, source: str, where: str, budget_bytes: int) -> list[str]:
    """Rowid ranges (SQL predicates on `r`) that together cover every row `where` selects, each
    holding about `budget_bytes` of lines (more when one line alone is larger).

    No range when `where` selects no row; one range ("TRUE") when everything fits one budget: an incremental
    run's usual case. Ranges start at a line's first part, so no line is cut in two (its parts are consecutive
    rows).
    """
    where = f"{read_machine(source)} AND ({where})"
    rows, total = conn.execute(
        f"SELECT count(*), coalesce(sum(r.byte_length), 0) FROM {lines_table(source)} r WHERE {where}").fetchone()
    if rows == 0:  # nothing to read: no statement at all (on a DuckLake each costs a tenth of a second)
        return []
    if total <= budget_bytes:
        return ["TRUE"]
    starts = [row[0] for row in conn.execute(
        f"""
        WITH running AS (
            SELECT r.rowid AS id, r.part_number, sum(r.byte_length) OVER (ORDER BY r.rowid) AS bytes_so_far
            FROM {lines_table(source)} r WHERE {where}
        )
        SELECT min(id) FROM running WHERE part_number = 1
        GROUP BY bytes_so_far // CAST(? AS BIGINT) ORDER BY 1
        """,
        [budget_bytes],
    ).fetchall()]
    edges = [None, *starts[1:], None]
    ranges = []
    for low, high in zip(edges, edges[1:]):
        conditions = ([f"r.rowid >= {int(low)}"] if low is not None else []) + ([f"r.rowid < {int(high)}"] if high is not None else [])
        ranges.append(" AND ".join(conditions) or "TRUE")
    return ranges


def split_parts(line: bytes) -> list[bytes]:
    """`line` in parts of at most PART_BYTES, cut between UTF-8 characters where it can be."""
    parts, start = [], 0
    while len(line) - start > PART_BYTES:
        cut = start + PART_BYTES
        # back off over UTF-8 continuation bytes (10xxxxxx), at most 3, so a character is never split
        for back in range(4):
            if line[cut - back] & 0xC0 != 0x80:
                cut -= back
                break
        parts.append(line[start:cut])
        start = cut
    parts.append(line[start:])
    return parts


def stored_signature(piece: bytes) -> tuple[str, ...]:
    """A piece's signature as stored: the sha256 of each row it becomes (raw/documents.py)."""
    return piece_signature(split_parts(piece) if len(piece) > PART_BYTES else [piece])
