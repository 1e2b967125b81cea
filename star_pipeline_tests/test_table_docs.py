"""Every table an asset writes is described column by column in Dagster (storage/table_docs.py: a
`-- Columns:` block in its SQL file, or a TableDoc beside the Python that builds it), its preview shows
the columns that tell rows apart, and what Dagster keeps of a build never holds transcript text."""

from __future__ import annotations

import io
import json
import re

import duckdb
import pytest

from star_pipeline.aggregate.search_postings import WORD_COUNTS_DOC
from star_pipeline.agent_side.hook import run_hook
from star_pipeline.storage.io_manager import PREVIEW_CELL_CHARS
from star_pipeline.storage.sql_files import sql_file_version
from star_pipeline.storage.table_docs import (
    NEVER_PREVIEWED,
    PREVIEW_COLUMNS_KEY,
    PREVIEW_MAX_COLUMNS,
    TableDocError,
    sql_table_doc,
)
from star_pipeline_tests.builders import (
    CODEX_SESSION,
    CWD,
    SESSION,
    assistant,
    codex_file,
    cx,
    session_file,
    session_meta,
    token_count,
    tool_result,
    tool_use,
    turn_context,
    usage,
    user,
    write_jsonl,
)
from star_pipeline_tests.conftest import build_defs, build_once, materialize_all

GITHUB_TOKEN = "ghp_Q7wE9rT1yU3iO5pA7sD9fG1hJ3kL5zX7cV9b"
AWS_KEY = "AKIAZXCVBNMASDFGHJKL"
# The fixture's transcript texts, each starting with a word no path, id or label contains.
TRANSCRIPT_TEXT = {
    "prompt": "Quokkaprompt: please tidy the marmalade module",
    "reply": "Wombatreply: the marmalade module is tidy now",
    "thinking": "Platypusthought about marmalade",
    "command": f"numbatcommand --fast && curl -H 'Authorization: token {GITHUB_TOKEN}' https://x",
    "result": f"Dingoresult: 3 passed; AWS_ACCESS_KEY_ID={AWS_KEY}",
    "subagent prompt": "Bilbyprompt: find the marmalade callers",
    "unparsable line": "Echidnaline {not json",
    "codex prompt": "Cassowaryprompt: fix the codex build",
    "hook tool input": "Kookaburrainput --force",
    "hook error": "Galaherror: permission denied",
    "hook prompt": "Lyrebirdprompt in a hook",
}
# What must never reach Dagster: each text's first word (a clipped cell still starts with it) and the secrets.
NEVER_IN_DAGSTER = {**{what: text.split()[0].rstrip(":") for what, text in TRANSCRIPT_TEXT.items()},
                    "GitHub token": GITHUB_TOKEN[:12], "AWS key": AWS_KEY[:12]}
REPOSITORY_URL = f"https://oauth2:{GITHUB_TOKEN}@github.com/u/proj.git"


def write_transcripts(box) -> None:
    text = TRANSCRIPT_TEXT
    write_jsonl(session_file(box, SESSION), [
        user(SESSION, 0, text["prompt"]),
        assistant(SESSION, 5, "msg_docs_1", "req_docs_1", usage(10, 20, cr=100), content=[
            {"type": "thinking", "thinking": text["thinking"]},
            {"type": "text", "text": text["reply"]},
            tool_use("toolu_docs_bash", "Bash", command=text["command"], description="run tests"),
        ]),
        user(SESSION, 7, [tool_result("toolu_docs_bash", text["result"])]),
        assistant(SESSION, 9, "msg_docs_2", "req_docs_2", usage(5, 30, cr=120), content=[
            tool_use("toolu_docs_task", "Task", description="callers", prompt=text["subagent prompt"],
                     subagent_type="Explore"),
        ]),
        user(SESSION, 20, [tool_result("toolu_docs_task", "two callers")]),
        text["unparsable line"].encode(),
    ])
    meta = session_meta(CODEX_SESSION)
    meta["payload"]["git"]["repository_url"] = REPOSITORY_URL
    write_jsonl(codex_file(box, CODEX_SESSION), [
        meta, turn_context(1, "gpt-5-codex"),
        cx(2, "event_msg", {"type": "user_message", "message": text["codex prompt"], "images": []}),
        token_count(3, (1000, 200, 50, 10)),
    ])
    for payload in (
        {"session_id": SESSION, "hook_event_name": "UserPromptSubmit", "prompt": text["hook prompt"], "cwd": CWD},
        {"session_id": SESSION, "hook_event_name": "PostToolUseFailure", "tool_name": "Bash", "cwd": CWD,
         "tool_use_id": "toolu_docs_hook", "tool_input": {"command": text["hook tool input"]},
         "error": text["hook error"], "is_interrupt": False},
    ):
        assert run_hook(str(box.spool_dir), stdin=io.BytesIO(json.dumps(payload).encode())) == 0


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The fixture built once, and every event of that build."""
    events = []

    def write_and_keep_events(box):
        write_transcripts(box)
        events.extend(materialize_all(box).all_events)

    box = build_once(tmp_path_factory, "documented", write_and_keep_events)
    assert events
    return box, events


def warehouse_columns(box) -> dict[tuple[str, str], list[str]]:
    conn = duckdb.connect(str(box.warehouse), read_only=True)
    try:
        rows = conn.execute("SELECT table_schema, table_name, column_name FROM information_schema.columns "
                            "ORDER BY table_schema, table_name, ordinal_position").fetchall()
    finally:
        conn.close()
    tables: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in rows:
        tables.setdefault((schema, table), []).append(column)
    return tables


def materializations(events) -> dict[str, dict]:
    """Asset key -> the metadata of its last materialization in the build."""
    found = {}
    for event in events:
        if event.is_step_materialization:
            materialization = event.step_materialization_data.materialization
            found[materialization.asset_key.to_user_string()] = materialization.metadata
    return found


def test_every_column_of_every_table_an_asset_writes_is_described(built):
    box, _ = built
    tables = warehouse_columns(box)
    graph = build_defs(box).resolve_asset_graph()
    problems = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node, name = graph.get(key), key.to_user_string()
        if not (node.description or "").strip():
            problems.append(f"{name}: no description")
        schema = node.metadata.get("dagster/column_schema")
        actual = tables.get(tuple(key.path))
        if schema is None:
            if actual is not None:
                problems.append(f"{name}: writes table {'.'.join(key.path)} but describes none of its columns")
            continue
        described = {column.name: column.description for column in schema.columns}
        if actual is None:
            problems.append(f"{name}: describes columns of {'.'.join(key.path)}, which the build did not write")
            continue
        problems += [f"{name}: column {c} has no description" for c in actual if c not in described]
        problems += [f"{name}: the description of {c} names no column of the table" for c in described if c not in actual]
        problems += [f"{name}: column {c}'s description is empty" for c, text in described.items() if not (text or "").strip()]
    assert not problems, "\n".join(problems)


def test_the_search_word_counts_table_is_described_too(built):
    """search_postings writes it beside its own table: its doc is WORD_COUNTS_DOC."""
    box, _ = built
    assert list(WORD_COUNTS_DOC.columns) == warehouse_columns(box)[("aggregate", "search_word_counts")]


def test_every_preview_lists_a_few_existing_columns_and_no_text_column(built):
    box, events = built
    graph = build_defs(box).resolve_asset_graph()
    previewed = {name for name, metadata in materializations(events).items() if "preview" in metadata}
    assert "classified/derived_message_kinds" in previewed and "raw/claude_code_lines" in previewed
    problems = []
    for key in graph.get_all_asset_keys():
        node, name = graph.get(key), key.to_user_string()
        columns = node.metadata.get(PREVIEW_COLUMNS_KEY)
        if name in previewed and not columns:
            problems.append(f"{name}: the I/O manager previews it, but its doc names no preview columns")
        if not columns:
            continue
        described = {column.name for column in node.metadata["dagster/column_schema"].columns}
        problems += [f"{name}: preview column {c} is not a described column" for c in columns if c not in described]
        problems += [f"{name}: preview column {c} holds transcript text" for c in columns if c in NEVER_PREVIEWED]
        if len(columns) > PREVIEW_MAX_COLUMNS:
            problems.append(f"{name}: {len(columns)} preview columns, at most {PREVIEW_MAX_COLUMNS} fit")
    assert not problems, "\n".join(problems)


def preview_table(markdown: str) -> tuple[list[str], list[list[str]]]:
    lines = markdown.splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [[cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip("|"))] for line in lines[2:]]
    return header, rows


def test_the_message_kinds_preview_shows_each_message_kind(built):
    _, events = built
    header, rows = preview_table(materializations(events)["classified/derived_message_kinds"]["preview"].value)
    assert header[0] == "kind"
    assert "human_prompt" in {row[0] for row in rows}
    assert len(header) <= PREVIEW_MAX_COLUMNS


def test_a_long_path_in_a_preview_keeps_its_end_the_file_name(built):
    box, events = built
    assert len(str(session_file(box, SESSION))) > PREVIEW_CELL_CHARS
    header, rows = preview_table(materializations(events)["raw/claude_code_lines"]["preview"].value)
    assert {row[header.index("path")] for row in rows} == {f"…/{SESSION}.jsonl"}


def test_no_transcript_text_or_secret_reaches_dagsters_run_history(built):
    box, events = built
    stored = duckdb.connect(str(box.warehouse), read_only=True)
    try:  # the fixture's text is in the warehouse, where it belongs
        assert stored.execute("SELECT count(*) FROM normalized.normalized_messages WHERE message_text LIKE "
                              "'%Quokkaprompt%'").fetchone()[0] == 1
        assert stored.execute("SELECT count(*) FROM classified.derived_secret_findings").fetchone()[0] >= 2
        assert stored.execute("SELECT count(*) FROM normalized.normalized_parse_errors WHERE excerpt LIKE "
                              "'%Echidnaline%'").fetchone()[0] == 1
        assert stored.execute("SELECT count(*) FROM aggregate.session_projects WHERE repository_url = ?",
                              [REPOSITORY_URL]).fetchone()[0] == 1
    finally:
        stored.close()
    kept = [repr(event.event_specific_data) + (event.message or "") for event in events]
    assert any("dagster/column_schema" in text for text in kept)  # the scan sees the metadata
    leaks = sorted(what for what, marker in NEVER_IN_DAGSTER.items() if any(marker in text for text in kept))
    assert not leaks, f"Dagster's run history holds transcript text: {leaks}"


def test_a_doc_block_gives_each_column_its_description_and_the_preview_its_columns(tmp_path):
    model = tmp_path / "daily.sql"
    model.write_text(
        "-- daily: one row per day.\n"
        "--\n"
        "-- Columns:\n"
        "--   usage_date: the UTC day\n"
        "--   input_tokens, output_tokens: tokens of the day's calls,\n"
        "--     cache reads excluded\n"
        "--   cost_usd: USD\n"
        "-- Preview: usage_date, cost_usd\n"
        "SELECT 1 AS usage_date -- usage_date: not a doc line, the code has begun\n"
    )
    doc = sql_table_doc(model)
    assert doc.columns == {
        "usage_date": "the UTC day",
        "input_tokens": "tokens of the day's calls, cache reads excluded",
        "output_tokens": "tokens of the day's calls, cache reads excluded",
        "cost_usd": "USD",
    }
    assert doc.preview == ("usage_date", "cost_usd")


@pytest.mark.parametrize("block, says", [
    ("-- Columns:\n--   usage_date: the day\n-- usage date without colon\n", "daily.sql:3: '-- usage date without colon' is not"),
    ("-- Columns:\n--   usage_date: the day\n--   usage_date: again\n", "daily.sql:3: column usage_date is described twice"),
    ("-- daily: one row per day.\n", "daily.sql: its leading comments have no '-- Columns:' block"),
])
def test_a_malformed_doc_block_is_refused_naming_the_file_and_line(tmp_path, block, says):
    model = tmp_path / "daily.sql"
    model.write_text(block + "SELECT 1\n")
    with pytest.raises(TableDocError) as refused:
        sql_table_doc(model)
    assert says in str(refused.value)


def test_editing_a_description_changes_no_table_version_and_editing_code_does(tmp_path, monkeypatch):
    """Versions hash the SQL without its comments: a doc edit does not rebuild a table, a code edit does."""
    from star_pipeline.normalized import source_sql

    contract = source_sql.SQL_DIR / "normalized_messages.sql"
    copy = tmp_path / "normalized_messages.sql"
    monkeypatch.setattr(source_sql, "SQL_DIR", tmp_path)
    text = contract.read_text()
    copy.write_text(text)
    shipped = source_sql.table_version("normalized_messages")
    copy.write_text(text.replace("--   event_ts: when the agent wrote the record",
                                 "--   event_ts: when the agent wrote the record (UTC)"))
    assert source_sql.table_version("normalized_messages") == shipped
    copy.write_text(text.replace("CAST(NULL AS VARCHAR) AS subtype", "CAST(NULL AS VARCHAR) AS sub_type"))
    assert source_sql.table_version("normalized_messages") != shipped


def test_a_double_dash_inside_a_string_is_code(tmp_path):
    model = tmp_path / "t.sql"
    model.write_text("SELECT '--a' AS x -- a comment\n")
    first = sql_file_version(model)
    model.write_text("SELECT '--b' AS x -- a comment\n")
    assert sql_file_version(model) != first
