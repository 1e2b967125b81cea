"""`star-pipeline sql "SELECT ..."`: the user's own SQL over the published copies, read-only.

What it sees, each attached read-only under a name of its own:
- `star`: the star schema's facts and dimensions, masked (reports/star_copy.py), the default catalog;
- `search`: the search copy (aggregate/search_copy.py): the masked texts (`documents`) and the history tables
  (sessions, tool_calls, api_calls, file_activity, subagents, session_links);
- `reports`: the report copy (storage/published_copies.py), its tables in the schema `aggregate`.
Unqualified names are looked up in that order, so `SELECT * FROM sessions` reads search's.

Never the warehouse itself: it holds raw lines and unmasked texts, and a query could name them. Nothing the
query does reaches a file: the copies are attached read-only, then file access (COPY TO, read_csv, ATTACH,
extensions) is switched off and the configuration locked, so the query cannot switch it on again. A temporary
table lives in memory and goes with the process. Bad SQL: DuckDB's message and exit code 2.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import json
import math
import os
import sys
import uuid
from pathlib import Path

import duckdb

from star_pipeline.reports.reader import READER_CONFIG
from star_pipeline.reports.report import format_table
from star_pipeline.reports.star_copy import star_copy_for_reading
from star_pipeline.storage.published_copies import published_copy_path, search_copy_path
from star_pipeline.storage.warehouse import quote_literal

TABLE_CELL_CHARACTERS = 100  # a table cell longer than this is cut (…): --json and --csv give the whole value
_BATCH_ROWS = 10_000  # rows fetched at a time for --json and --csv, which are written as they come

# Switched off after the copies are attached, then locked: the query can neither read nor write a file.
LOCKED_DOWN = ("SET enable_external_access = false", "SET autoinstall_known_extensions = false",
               "SET autoload_known_extensions = false", "SET allow_community_extensions = false",
               "SET lock_configuration = true")


class SqlError(ValueError):
    """The query failed: DuckDB's message."""


def open_published(warehouse_path: Path | str, lake=None,
                   published: Path | str | None = None) -> tuple[duckdb.DuckDBPyConnection, str]:
    """A connection to the star copy (made or remade first when needed, this machine's own), the search copy and
    the report copy (named after `published`, the published anchor: the writer's on a lake), locked down
    (LOCKED_DOWN), and a sentence saying what it reads."""
    published = published or warehouse_path
    star, note = star_copy_for_reading(warehouse_path, lake)
    conn = duckdb.connect(":memory:", config=READER_CONFIG)
    try:
        conn.execute(f"ATTACH {quote_literal(str(star))} AS star (READ_ONLY)")
        search_path = ["star.main"]
        for name, path, schema in (("search", search_copy_path(published), "main"),
                                   ("reports", published_copy_path(published), "aggregate")):
            if path.exists():
                conn.execute(f"ATTACH {quote_literal(str(path))} AS {name} (READ_ONLY)")
                search_path.append(f"{name}.{schema}")
            else:
                note += f"; {path} is not published yet (no `{name}` tables)"
        conn.execute("USE star")
        conn.execute(f"SET search_path = {quote_literal(','.join(search_path))}")
        conn.execute("SET TimeZone = 'UTC'")
        for statement in LOCKED_DOWN:
            conn.execute(statement)
    except BaseException:
        conn.close()
        raise
    return conn, note


def run_sql(query: str, warehouse_path: Path | str, output: str = "table", lake=None, out=None, err=None,
            published: Path | str | None = None) -> int:
    """Run `query`, print its result as a table, JSON (a list of objects) or CSV; SqlError when DuckDB refuses it."""
    out, err = out or sys.stdout, err or sys.stderr
    conn, note = open_published(warehouse_path, lake, published)
    try:
        print(f"star-pipeline sql: {note}", file=err)
        try:
            result = conn.execute(query)
            columns = [d[0] for d in result.description] if result.description else []
            if not columns:
                return 0
            if output == "json":
                _write_json(result, columns, out)
            elif output == "csv":
                _write_csv(result, columns, out)
            else:
                out.write(_table(columns, result.fetchall()))
        except duckdb.Error as exc:
            raise SqlError(str(exc)) from None
        except BrokenPipeError:  # `sql ... | head`: the reader has what it wanted
            if out is sys.stdout:  # nothing more reaches the closed pipe, not even at exit
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        conn.close()
    return 0


def _batches(result):
    while rows := result.fetchmany(_BATCH_ROWS):
        yield rows


def jsonable(value):
    """A value as JSON has it: dates and times as ISO 8601 strings, intervals as seconds, decimals as numbers, NaN
    and infinities as null, bytes as hex, structs and maps as objects, lists as lists."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return jsonable(float(value))
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        if set(value) == {"key", "value"} and isinstance(value["key"], list):  # a DuckDB MAP
            return {str(k): jsonable(v) for k, v in zip(value["key"], value["value"])}
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def _write_json(result, columns: list[str], out) -> None:
    """A list of objects, one a line, written as the rows come (a large result is never held whole)."""
    first = True
    out.write("[")
    for rows in _batches(result):
        for row in rows:
            line = json.dumps(dict(zip(columns, map(jsonable, row))), ensure_ascii=False)
            out.write(("\n" if first else ",\n") + line)
            first = False
    out.write("\n]\n" if not first else "]\n")


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    value = jsonable(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def _write_csv(result, columns: list[str], out) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for rows in _batches(result):
        writer.writerows([_csv_value(v) for v in row] for row in rows)


def _table(columns: list[str], rows: list[tuple]) -> str:
    """The report's table layout: numbers right-aligned, everything else left; long cells cut."""
    numeric = {i for i in range(len(columns))
               if any(v is not None for v in (r[i] for r in rows))
               and all(v is None or (isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool))
                       for v in (r[i] for r in rows))}
    cells = [[_cell(v) for v in row] for row in rows]
    title = f"{len(rows):,} row{'s' if len(rows) != 1 else ''}"
    return format_table(columns, cells, title=title, left=set(range(len(columns))) - numeric, totals=False)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"  # 0.30000000000000004 as 0.3; --json and --csv give every digit
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = _csv_value(value).replace("\r", "").replace("\t", " ")
    lines = text.split("\n")
    text = lines[0] + (" …" if len(lines) > 1 else "")
    return text if len(text) <= TABLE_CELL_CHARACTERS else text[: TABLE_CELL_CHARACTERS - 1] + "…"
