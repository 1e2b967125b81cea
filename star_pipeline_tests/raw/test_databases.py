"""Capture of SQLite databases (raw/databases.py), on OpenCode's: rows still in the write-ahead log are
read while the agent keeps its connection and goes on writing; a changed row stores that row again and
a deleted one a tombstone, never the database again; the check rebuilds the content digest from the
stored rows and notices one that was altered; a file that is not a database is reported and the others
proceed."""

from __future__ import annotations

import glob
import json
import os
import tempfile

import duckdb

from star_pipeline.raw.databases import TOMBSTONE, database_digest
from star_pipeline_tests.builders import opencode_assistant, opencode_db, opencode_folder
from star_pipeline_tests.conftest import build_defs, query, run_checks_alone

TABLES = ("project", "session", "message", "part", "todo", "session_message")


def materialize_opencode(sandbox, *, raise_on_error: bool = True):
    """Only OpenCode's capture assets and raw check."""
    from dagster import AssetCheckKey, AssetKey, DagsterInstance

    job = build_defs(sandbox).resolve_implicit_global_asset_job_def()
    subset = job.get_subset(
        asset_selection={AssetKey(["raw", "opencode_lines"]), AssetKey(["raw", "opencode_files"])},
        asset_check_selection={AssetCheckKey(AssetKey(["raw", "opencode_lines"]), "opencode_lines_match_files")},
    )
    return subset.execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=raise_on_error)


def check_of(result):
    return {e.check_name: e for e in result.get_asset_check_evaluations()}["opencode_lines_match_files"]


def stored(sandbox, version: int) -> list[dict]:
    rows = query(sandbox, "SELECT line_bytes FROM raw.opencode_lines WHERE file_version = ? ORDER BY line_number", [version])
    return [json.loads(bytes(b)) for (b,) in rows]


def add_message(db, message_id: str, tokens: tuple | None) -> None:
    db.execute("INSERT INTO message VALUES (?, 'ses_1', 1, 1, ?)",
               [message_id, json.dumps(opencode_assistant(1, "glm-4.7-free", tokens))])


def test_rows_in_the_log_are_read_and_the_agent_goes_on_writing(sandbox):
    path = opencode_folder(sandbox) / "opencode.db"
    db = opencode_db(path)
    db.execute("INSERT INTO session (id, directory, title) VALUES ('ses_1', '/p', 'Greeting')")
    add_message(db, "msg_1", (10, 5, 1, 100, 0))
    db.execute("INSERT INTO credential VALUES ('c1', 'sk-live-secret')")
    db.execute("INSERT INTO event VALUES ('e1', 'ses_1', 1, 'message.updated.1', '{}')")
    assert os.path.getsize(str(path) + "-wal") > 0  # the rows are in the log, not yet in the file
    leftovers = set(glob.glob(os.path.join(tempfile.gettempdir(), "star_pipeline-sqlite-*")))

    first = materialize_opencode(sandbox)
    db.execute("INSERT INTO session (id, directory, title) VALUES ('ses_2', '/p', 'Next')")  # not locked out

    assert check_of(first).passed
    assert sorted((r["table"], r["key"]["id"]) for r in stored(sandbox, 1)) == [("message", "msg_1"), ("session", "ses_1")]
    message = next(r for r in stored(sandbox, 1) if r["table"] == "message")
    assert json.loads(message["row"]["data"])["tokens"]["cache"]["read"] == 100
    assert "sk-live-secret" not in str(query(sandbox, "SELECT list(decode(line_bytes)) FROM raw.opencode_lines"))
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "star_pipeline-sqlite-*"))) == leftovers  # copy removed
    db.close()


def test_a_changed_row_stores_that_row_and_a_deleted_one_a_tombstone(sandbox):
    path = opencode_folder(sandbox) / "opencode.db"
    db = opencode_db(path)
    db.execute("INSERT INTO session (id, directory, title) VALUES ('ses_1', '/p', 'Greeting')")
    for n in range(20):
        add_message(db, f"msg_{n:02d}", (10, 5, 0, 0, 0))
    assert check_of(materialize_opencode(sandbox)).passed
    db.execute("UPDATE message SET data = ? WHERE id = 'msg_03'",
               [json.dumps(opencode_assistant(1, "glm-4.7-free", (10, 50, 0, 0, 0)))])
    db.execute("DELETE FROM message WHERE id = 'msg_07'")
    second = materialize_opencode(sandbox)
    assert check_of(second).passed
    third = materialize_opencode(sandbox)  # nothing changed: nothing stored

    assert query(sandbox, "SELECT file_version, count(*) FROM raw.opencode_lines GROUP BY 1 ORDER BY 1") == [(1, 21), (2, 2)]
    changed = stored(sandbox, 2)
    assert {"deleted": True} in changed and json.dumps({"deleted": True}, separators=(",", ":")).encode() == TOMBSTONE
    assert [json.loads(r["row"]["data"])["tokens"]["output"] for r in changed if "row" in r] == [50]
    assert check_of(third).passed
    assert query(sandbox, "SELECT count(*) FROM raw.opencode_lines WHERE line_bytes::VARCHAR LIKE '%msg_07%'") == [(1,)]
    db.close()


def test_the_check_notices_an_altered_row_and_a_file_that_is_no_database_stops_nothing(sandbox):
    folder = opencode_folder(sandbox)
    db = opencode_db(folder / "opencode.db")
    db.execute("INSERT INTO session (id, directory, title) VALUES ('ses_1', '/p', 'Greeting')")
    add_message(db, "msg_1", (10, 5, 0, 0, 0))
    (folder / "opencode-beta.db").write_bytes(b"this is not an SQLite file")
    result = materialize_opencode(sandbox)

    assert check_of(result).passed
    errors = dict(query(sandbox, "SELECT regexp_extract(path, '[^/]+$'), capture_error FROM raw.opencode_files"))
    assert errors["opencode.db"] is None and "SQLite" in errors["opencode-beta.db"]
    assert database_digest(str(folder / "opencode.db"), TABLES) == query(
        sandbox, "SELECT consumed_sha256 FROM raw.opencode_files WHERE path LIKE '%/opencode.db'")[0][0]

    conn = duckdb.connect(str(sandbox.warehouse))
    conn.execute("UPDATE raw.opencode_lines SET line_bytes = encode(replace(decode(line_bytes), 'Greeting', 'Greetinx')), "
                 "sha256 = sha256(replace(decode(line_bytes), 'Greeting', 'Greetinx'))")
    conn.close()
    alone = run_checks_alone(sandbox, (["raw", "opencode_lines"], "opencode_lines_match_files"))
    assert not check_of(alone).passed
    db.close()
