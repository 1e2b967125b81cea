"""Reading raw lines whole: the SQL that puts a long line's parts back together.

The capture stores a line longer than `capture.PART_BYTES` as several rows
(`part_number` 1..`part_count`, in byte order; see capture.py). Whatever parses
lines reads them through `whole_lines`, which gives one row per line with its
complete bytes: whole lines as stored, long lines reassembled. Reassembly is an
aggregate that holds the lines it builds in memory, so a caller that may read
many long lines at once cuts its work by rowid ranges (`long_line_batches`).
"""

from __future__ import annotations

from star_pipeline.storage.warehouse import quote_ident

LONG_LINES_BATCH_BYTES = 64 << 20
"""At most this many bytes of long lines are reassembled by one statement (see `long_line_batches`)."""


def lines_table(source: str) -> str:
    return f"raw.{quote_ident(source + '_lines')}"


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


def long_line_batches(conn, source: str, where: str, budget_bytes: int = LONG_LINES_BATCH_BYTES) -> list[str]:
    """Rowid ranges (SQL predicates on `r`) that together cover every row `where` selects, each
    holding at most `budget_bytes` of long lines (or one long line, when it alone is larger).

    One range ("TRUE") when the long lines fit one budget: the usual case. Ranges start at a
    line's first part, so no line is cut in two.
    """
    starts = conn.execute(
        f"""
        SELECT min(r.rowid) AS first_row, sum(r.byte_length) AS line_bytes
        FROM {lines_table(source)} r WHERE r.part_count > 1 AND ({where})
        GROUP BY r.path, r.file_version, r.line_number ORDER BY first_row
        """
    ).fetchall()
    if sum(size for _, size in starts) <= budget_bytes:
        return ["TRUE"]
    bounds, running = [], 0
    for first_row, size in starts:
        if running and running + size > budget_bytes:
            bounds.append(int(first_row))
            running = 0
        running += size
    edges = [None, *bounds, None]
    ranges = []
    for low, high in zip(edges, edges[1:]):
        conditions = ([f"r.rowid >= {low}"] if low is not None else []) + ([f"r.rowid < {high}"] if high is not None else [])
        ranges.append(" AND ".join(conditions))
    return ranges
