"""Incremental normalized tables append only new lines, and are rebuilt in full when their SQL changes."""

import pytest

from star_pipeline_tests.conftest import materialize_all, query
from star_pipeline_tests.builders import write_session


def message_writes(sandbox):
    return query(
        sandbox,
        "SELECT write_mode, rows_written FROM meta_load_log WHERE asset_key = 'normalized/normalized_messages' "
        "ORDER BY started_at",
    )


def test_unchanged_sql_appends_changed_sql_rebuilds(sandbox, monkeypatch):
    write_session(sandbox)
    materialize_all(sandbox)
    materialize_all(sandbox)
    assert message_writes(sandbox) == [("replace", 3), ("append", 0)]

    import star_pipeline.normalized.assets as assets

    original = assets.sql_version
    monkeypatch.setattr(assets, "sql_version", lambda table: "edited" + original(table)[:6])
    materialize_all(sandbox)
    assert message_writes(sandbox)[-1] == ("replace", 3)
    assert query(sandbox, "SELECT version FROM meta_table_versions WHERE table_name = 'normalized.normalized_messages'")[0][0].startswith("edited")
    assert query(sandbox, "SELECT count(*) FROM normalized.normalized_messages") == [(3,)]


@pytest.mark.parametrize("folder_name", ["-home-u-o'brien", "-home-u-o'brien?\nSELECT 1; --"])
def test_an_append_normalizes_only_the_grown_file_and_quotes_or_line_breaks_in_its_path_are_harmless(sandbox, folder_name):
    """The grown files' paths go into the incremental SQL as quoted constants; the SQL files also
    name that placeholder in comments, where a line break must not end the comment early, and a
    question mark inside the constant is not a parameter."""
    import json

    write_session(sandbox)  # s1.jsonl in -home-u-p
    folder = sandbox.claude_root / folder_name
    folder.mkdir(parents=True)
    grown = folder / "s2.jsonl"
    line = {"type": "user", "sessionId": "s2", "uuid": "q0", "timestamp": "2026-03-02T10:00:00.000Z",
            "message": {"role": "user", "content": "hello"}}
    grown.write_text(json.dumps(line) + "\n")
    materialize_all(sandbox)
    with grown.open("a") as handle:
        handle.write(json.dumps({**line, "uuid": "q1"}) + "\n")
        handle.write("{not json\n")

    materialize_all(sandbox)

    assert message_writes(sandbox)[-1] == ("append", 1)
    assert query(sandbox, "SELECT uuid FROM normalized.normalized_messages WHERE session_id = 's2' ORDER BY uuid") == [("q0",), ("q1",)]
    assert query(sandbox, "SELECT count(*) FROM normalized.normalized_parse_errors WHERE path LIKE '%o''brien%'") == [(1,)]
    assert query(sandbox, "SELECT count(*) FROM normalized.normalized_messages") == [(5,)]
    # the message classifiers' incremental runs name the grown file the same way
    assert query(sandbox, "SELECT count(*) FROM classified.derived_message_kinds WHERE path = ?", [str(grown)]) == [(2,)]
