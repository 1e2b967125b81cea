"""docs/reference/schema.md and docs/reference/cli.md, generated from the code they describe.

- schema.md: every table each layer's assets write, with the asset's description and each column's
  description as Dagster's UI shows them (the `dagster/column_schema` metadata that
  storage/table_docs.py builds from the SQL files' `-- Columns:` blocks and the Python-built tables'
  TableDocs), and the column's type where the code declares it.
- cli.md: every subcommand and option of `star-pipeline`, from its argparse parser (cli.py).

    python -m star_pipeline.reference_docs            # rewrite both under docs/reference/
    python -m star_pipeline.reference_docs --check    # exit 1, naming the stale file, when either differs

star_pipeline_tests/test_reference_docs.py fails when a committed file differs from what this makes.
It sits at the top of the package (like cli.py and definitions.py) because it reads every layer.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REFERENCE_DIR = Path("docs") / "reference"
REGENERATE = "python -m star_pipeline.reference_docs"
LAYERS = ("raw", "normalized", "classified", "aggregate")
_CONTRACT_COLUMN = re.compile(r"CAST\(NULL AS ([A-Z][A-Z0-9_\[\]]*)\) AS ([a-z_][a-z0-9_]*)")
_DDL_TYPE = re.compile(r"^([A-Z][A-Z0-9_\[\]]*)")
_USAGE_WIDTH = 100  # usage lines are wrapped at this width whatever the terminal


def _cell(text: str) -> str:
    """Text for one markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


# ---------------------------------------------------------------- schema.md


def _assets_by_layer() -> dict[str, list]:
    from star_pipeline.aggregate.assets import aggregate_assets
    from star_pipeline.classified.assets import classified_assets
    from star_pipeline.normalized.assets import normalized_assets
    from star_pipeline.raw.assets import raw_capture_assets

    groups = {"raw": raw_capture_assets, "normalized": normalized_assets, "classified": classified_assets,
              "aggregate": aggregate_assets}
    return {layer: [spec for definition in groups[layer] for spec in definition.specs] for layer in LAYERS}


def _declared_types() -> dict[tuple[str, str], dict[str, str]]:
    """(layer, table) -> column -> type, where the code declares it: the raw tables' DDL
    (raw/tables.py) and the normalized contracts (`CAST(NULL AS <type>) AS <column>` in the
    `contract` of normalized/<table>.sql). Every other table's types are what its query yields."""
    from star_pipeline.normalized.assets import SQL_DIR
    from star_pipeline.raw.tables import FILES_COLUMN_SPECS, LINES_COLUMN_SPECS
    from star_pipeline.sources import SOURCES

    types: dict[tuple[str, str], dict[str, str]] = {}
    for source in SOURCES:
        for suffix, specs in (("lines", LINES_COLUMN_SPECS), ("files", FILES_COLUMN_SPECS)):
            types[("raw", f"{source.name}_{suffix}")] = {name: _DDL_TYPE.match(ddl).group(1) for name, ddl, _ in specs}
    for path in sorted(SQL_DIR.glob("normalized_*.sql")):
        text = path.read_text()
        if "contract AS (" in text:
            types[("normalized", path.stem)] = {name: kind for kind, name in _CONTRACT_COLUMN.findall(text)}
    return types


def _extra_tables() -> list[tuple[str, str, str, object]]:
    """Tables an asset writes beside its own (layer, table, what it is, TableDoc)."""
    from star_pipeline.aggregate.search_postings import WORD_COUNTS_DOC

    return [("aggregate", "search_word_counts",
             "Written by aggregate/search_postings beside its own table: the number of index words of every "
             "distinct search text (the BM25 document length), also for a text without a word.", WORD_COUNTS_DOC)]


META_SCHEMA_VERSION = ("Every migration applied to the warehouse: its number, file name and sha256, and when "
                       "(storage/migrations.py creates it, and refuses an applied migration that was edited or removed).")


def _meta_tables() -> list[tuple[str, str, list[tuple[str, str, str]]]]:
    """(table, what it is, [(column, type, note)]) of every meta table, from the migrations applied to an empty
    in-memory database: the types as DuckDB has them, the description from the comment above each CREATE TABLE,
    a column's note from the comment after it."""
    import duckdb

    from star_pipeline.storage.migrations import apply_migrations, discover

    sql = "\n".join(migration.sql for migration in discover())
    conn = duckdb.connect(":memory:")
    try:
        apply_migrations(conn)
        rows = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND starts_with(table_name, 'meta_') ORDER BY table_name, ordinal_position"
        ).fetchall()
    finally:
        conn.close()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        tables.setdefault(table, []).append((column, kind))
    out = []
    for table, columns in tables.items():
        found = re.search(rf"((?:^--[^\n]*\n)+)CREATE TABLE (?:IF NOT EXISTS )?{table}\b([^;]*)", sql, flags=re.M)
        what = " ".join(line[2:].strip() for line in found.group(1).splitlines()) if found else META_SCHEMA_VERSION
        notes = dict(re.findall(r"^\s*([a-z_]+) [^\n]*?-- *(.+)$", found.group(2), flags=re.M)) if found else {}
        out.append((table, what, [(column, kind, notes.get(column, "")) for column, kind in columns]))
    return out


def _columns_table(columns: list[tuple[str, str]], types: dict[str, str]) -> list[str]:
    lines = ["| column | type | what it is |", "|---|---|---|"]
    lines += [f"| `{name}` | {types.get(name, '')} | {_cell(text)} |" for name, text in columns]
    return lines


def schema_markdown() -> str:
    """The whole of docs/reference/schema.md."""
    from star_pipeline.sources import SOURCES

    specs = _assets_by_layer()
    types = _declared_types()
    extras = _extra_tables()
    out = [
        "# The warehouse's tables",
        "",
        f"<!-- Generated by `{REGENERATE}` from the code: do not edit by hand. -->",
        "",
        "Every table each layer writes, in its schema (`raw`, `normalized`, `classified`, `aggregate`), with",
        "the description and column descriptions Dagster's UI shows for its asset. They come from one place",
        "per table: an SQL file's leading `-- Columns:` block, or the `TableDoc` beside the Python that",
        "builds the table (see [Describe a table's columns](../development.md#describe-a-tables-columns)).",
        "A type is given where the code declares it (the raw tables' DDL, the normalized contracts); the",
        "other tables' types are what their queries yield, which Dagster's UI shows with each",
        "materialization. Last, the [meta tables](#meta) the pipeline keeps about itself. After changing a",
        "description, run",
        "",
        f"    {REGENERATE}",
        "",
        "(`star_pipeline_tests/test_reference_docs.py` fails until this file matches the code).",
        "",
    ]
    for layer in LAYERS:
        tables = [s for s in specs[layer] if s.metadata.get("dagster/column_schema") is not None]
        others = [s for s in specs[layer] if s.metadata.get("dagster/column_schema") is None]
        out += [f"## {layer}", ""]
        if layer == "raw":
            out += _raw_section(tables, types, SOURCES)
        else:
            entries = [(s.key.path[-1], s.description or "", [(c.name, c.description) for c in
                                                               s.metadata["dagster/column_schema"].columns])
                       for s in tables]
            entries += [(table, what, list(doc.columns.items())) for where, table, what, doc in extras
                        if where == layer]
            for table, description, columns in sorted(entries):
                out += [f"### {layer}.{table}", "", _cell(description), ""]
                out += _columns_table(columns, types.get((layer, table), {})) + [""]
        if others:
            out += [f"Assets of this layer that write no table of it:", ""]
            out += [f"- `{s.key.to_user_string()}`: {_cell(s.description or '')}"
                    for s in sorted(others, key=lambda s: s.key.to_user_string())]
            out += [""]
    out += ["## meta", "",
            "Tables of no layer, in the default schema, made by the migrations (`NNN_name.sql`, applied in order on",
            "the first connection): what the pipeline keeps about itself. Their types are DuckDB's, their",
            "descriptions the migrations' comments as written then (an applied migration is never edited).", ""]
    for table, what, columns in _meta_tables():
        out += [f"### {table}", "", _cell(what), "", "| column | type | what it is |", "|---|---|---|"]
        out += [f"| `{name}` | {kind} | {_cell(note)} |" for name, kind, note in columns] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def _raw_section(tables, types, sources) -> list[str]:
    """Every source has the same two tables: their columns once, then each source's tables."""
    by_name = {s.key.path[-1]: s for s in tables}
    out = ["Every source (an agent, or the hook spool) has the same two tables, `raw.<source>_lines` and",
           "`raw.<source>_files`:", "", "| source | its tables hold |", "|---|---|"]
    for source in sources:
        out.append(f"| `{source.name}` | {_cell(source.description)} |")
    out.append("")
    for suffix in ("lines", "files"):
        first = by_name[f"{sources[0].name}_{suffix}"]
        common = first.description.split(":")[0]
        out += [f"### raw.<source>_{suffix}", "", _cell(common) + ".", ""]
        out += _columns_table([(c.name, c.description) for c in first.metadata["dagster/column_schema"].columns],
                              types.get(("raw", f"{sources[0].name}_{suffix}"), {})) + [""]
    return out


# ---------------------------------------------------------------- cli.md


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, help, parser) of each subcommand, in the order the parser lists them."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            found += [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return found


def _options(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    """(how it is written, what it does) of each documented argument, help and subcommands left out."""
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.help == argparse.SUPPRESS:
            continue
        if action.choices:
            value = "{" + ",".join(str(c) for c in action.choices) + "}"
        else:
            value = action.metavar or (action.dest if not action.option_strings else action.dest.upper())
        takes_value = action.nargs != 0
        if action.option_strings:
            written = ", ".join(action.option_strings)
            if takes_value:
                written += f" [{value}]" if action.nargs == "?" else f" {value}"
        else:
            written = f"[{value}]" if action.nargs == "?" else value
        text = action.help or ""
        if takes_value and action.default not in (None, False) and "default" not in text:
            text += f" (default {action.default})"
        rows.append((written, text))
    return rows


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=_USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _command_section(name: str, help_text: str, parser: argparse.ArgumentParser, depth: int) -> list[str]:
    out = [f"{'#' * depth} `{parser.prog}`", ""]
    if help_text:
        out += [_cell(help_text[0].upper() + help_text[1:]) + ".", ""]
    out += ["    " + line for line in _usage(parser).splitlines()] + [""]
    children = _subcommands(parser)
    shared: list[tuple[str, str]] = []
    if len(children) > 1:  # options every kind takes (report's), listed once here
        option_sets = [_options(child) for _, _, child in children]
        shared = [row for row in option_sets[0] if all(row in rows for rows in option_sets[1:])]
    own = [row for row in _options(parser)]
    if own or shared:
        out += ["| argument | what it does |", "|---|---|"]
        out += [f"| `{written}` | {_cell(text)} |" for written, text in own]
        if shared:
            out += [f"| `{written}` | {_cell(text)} (every `{name}` kind) |" for written, text in shared]
        out.append("")
    for child_name, child_help, child in children:
        section = _command_section(child_name, child_help, child, depth + 1)
        if shared:  # the shared options are listed above: each kind lists only its own
            section = [line for line in section
                       if not any(line.startswith(f"| `{written}` |") for written, _ in shared)]
            if section[-2:] == ["|---|---|", ""]:
                section = section[:-3] + [""]
        out += section
    return out


def cli_markdown() -> str:
    """The whole of docs/reference/cli.md."""
    from star_pipeline.cli import _parser

    parser = _parser()
    out = [
        "# The `star-pipeline` command line",
        "",
        f"<!-- Generated by `{REGENERATE}` from star_pipeline/cli.py: do not edit by hand. -->",
        "",
        _cell(parser.description or ""),
        "",
        "Every subcommand, its arguments and what each does, as `star-pipeline <command> --help` says it.",
        "The guides say more: [running it](../guide/running.md), [reports](../guide/reports.md),",
        "[search](../guide/search.md), [the MCP server](../guide/mcp.md),",
        "[the status line and the brief](../guide/statusline-and-brief.md), [the dashboard](../guide/dashboard.md),",
        "[classifiers](../guide/classifiers.md), [a team warehouse](../guide/team.md),",
        "[configuration](configuration.md).",
        "",
        "Commands:",
        "",
    ]
    out += [f"- [`{name}`](#star-pipeline-{name}): {_cell(text)}" for name, text, _ in _subcommands(parser)]
    out.append("")
    for name, text, sub in _subcommands(parser):
        out += _command_section(name, text, sub, 2)
    return "\n".join(out).rstrip("\n") + "\n"


# ---------------------------------------------------------------- the command


GENERATED = {"schema.md": schema_markdown, "cli.md": cli_markdown}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m star_pipeline.reference_docs", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a file is stale")
    parser.add_argument("dir", nargs="?", default=str(REFERENCE_DIR), help=f"the folder (default {REFERENCE_DIR})")
    args = parser.parse_args(argv)
    folder = Path(args.dir)
    stale = []
    for name, make in GENERATED.items():
        path, text = folder / name, make()
        if path.exists() and path.read_text() == text:
            continue
        if args.check:
            stale.append(str(path))
        else:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print(f"stale: {', '.join(stale)}; run `{REGENERATE}` from the checkout's top folder", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
