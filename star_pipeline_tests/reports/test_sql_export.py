"""`star-pipeline sql` and `export`: the star schema, the search copy and the report copy, read-only and masked;
tables, JSON and CSV; DuckDB's message on bad SQL; no write reaches a file; owner-only exports; no secret
planted in a transcript in any result or exported file; never the writer lock."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from star_pipeline.cli import main
from star_pipeline.storage.published_copies import star_copy_path
from star_pipeline_tests.builders import (
    CODEX_SESSION, assistant, codex_file, cx, session_file, session_meta, token_count, tool_result, tool_use,
    turn_context, usage, user, write_jsonl,
)
from star_pipeline_tests.classified.test_classifiers import (
    AWS_KEY, EVERY_KIND, GITHUB_TOKEN, SECRET_STRINGS, SECRETS_SESSION, write_secret_sessions,
)
from star_pipeline_tests.conftest import build_once, held_by_another_process, query, use_sandbox

KEY_FILE_SESSION = "7b8c9d0e-0000-4000-8000-00000000e001"
KEY_FILE = f"/home/u/proj/keys/{AWS_KEY}.json"
TOKEN_URL = f"https://x-access-token:{GITHUB_TOKEN}@github.com/u/proj.git"
FACTS_AND_DIMENSIONS = ("fact_token_usage", "fact_tool_call", "fact_session_event", "dim_date", "dim_time",
                        "dim_project", "dim_model", "dim_tool", "dim_agent_type", "dim_machine")
# every secret the transcripts hold, whole (a private key's body too), as the search tests list them
SECRETS = [*(s for s in EVERY_KIND.values() if len(s) > 12), *SECRET_STRINGS, GITHUB_TOKEN]


def write_history(box) -> None:
    """The secret classifier's sessions (a prompt, a shell command and its output full of keys), a Read of a file
    whose name is a key, and a Codex session whose repository URL carries a token."""
    write_secret_sessions(box)
    write_jsonl(session_file(box, KEY_FILE_SESSION), [
        user(KEY_FILE_SESSION, 0, "Read the key file"),
        assistant(KEY_FILE_SESSION, 1, "msg_e1", "req_e1", usage(3, 20), content=[
            tool_use("toolu_read_key", "Read", file_path=KEY_FILE),
            tool_use("toolu_read_app", "Read", file_path="/home/u/proj/src/app.py")]),
        user(KEY_FILE_SESSION, 2, [tool_result("toolu_read_key", "{}"), tool_result("toolu_read_app", "pass")]),
    ])
    meta = session_meta(CODEX_SESSION)
    meta["payload"]["git"]["repository_url"] = TOKEN_URL
    write_jsonl(codex_file(box, CODEX_SESSION), [
        meta, turn_context(1, "gpt-5"),
        cx(2, "response_item", {"type": "message", "role": "user",
                                "content": [{"type": "input_text", "text": "lint it"}]}),
        token_count(3, (1000, 200, 50, 10)),
    ])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_once(tmp_path_factory, "sql", write_history)


@pytest.fixture
def box(built, monkeypatch):
    return use_sandbox(built, monkeypatch)


def sql(capsys, *args) -> tuple[int, str, str]:
    code = main(["sql", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_sql_prints_a_table_json_and_csv(box, capsys):
    expected = query(box, "SELECT tool_name, count(*) FROM aggregate.fact_tool_call GROUP BY ALL ORDER BY tool_name")
    assert len(expected) >= 2
    statement = "SELECT tool_name, count(*) AS calls FROM fact_tool_call GROUP BY ALL ORDER BY tool_name"

    code, out, err = sql(capsys, statement, "--json")
    assert code == 0 and "star-pipeline sql: read" in err
    assert json.loads(out) == [{"tool_name": name, "calls": calls} for name, calls in expected]

    code, out, _ = sql(capsys, statement, "--csv")
    assert code == 0 and list(csv.reader(io.StringIO(out))) == [["tool_name", "calls"],
                                                                  *([name, str(calls)] for name, calls in expected)]

    code, out, _ = sql(capsys, statement)
    lines = out.splitlines()
    assert code == 0 and lines[0] == f"{len(expected)} rows" and lines[2].split() == ["tool_name", "calls"]
    width = len(lines[1])
    for (name, calls), line in zip(expected, lines[4:]):
        assert line.startswith(name + " ") and line.endswith(f" {calls}") and len(line) == width  # numbers right


def test_sql_json_dates_and_times_are_iso_strings(box, capsys):
    first_day = query(box, "SELECT min(calendar_date) FROM aggregate.dim_date")[0][0]
    code, out, _ = sql(capsys, "SELECT calendar_date, event_ts FROM dim_date JOIN fact_token_usage USING (date_key) "
                       "ORDER BY event_ts LIMIT 1", "--json")
    row = json.loads(out)[0]
    assert code == 0 and row["calendar_date"] == first_day.isoformat()
    assert row["event_ts"].startswith(first_day.isoformat() + "T") and row["event_ts"].endswith("+00:00")


def test_sql_reads_the_search_and_report_copies_too(box, capsys):
    code, out, _ = sql(capsys, "SELECT (SELECT count(*) FROM search.documents) AS documents, "
                       "(SELECT count(*) FROM sessions) AS sessions, "
                       "(SELECT count(*) FROM reports.aggregate.derived_session_usage) AS usage_sessions", "--json")
    counts = json.loads(out)[0]
    assert code == 0 and counts["documents"] > 0
    assert counts["usage_sessions"] == query(box, "SELECT count(*) FROM aggregate.derived_session_usage")[0][0]
    assert counts["sessions"] == query(box, "SELECT count(*) FROM aggregate.session_projects")[0][0]


def test_bad_sql_exits_2_with_duckdbs_message(box, capsys):
    code, out, err = sql(capsys, "SELEC 1")
    assert code == 2 and out == "" and "Parser Error" in err and "SELEC" in err
    code, _, err = sql(capsys, "SELECT * FROM no_such_table")
    assert code == 2 and "Catalog Error" in err and "no_such_table" in err


def test_no_statement_writes_a_file_or_reaches_the_warehouse(box, capsys, tmp_path):
    target = tmp_path / "out.csv"
    refused = {
        "CREATE TABLE facts_copy AS SELECT * FROM fact_tool_call": "read-only",
        "CREATE TABLE search.x AS SELECT 1": "read-only",
        "INSERT INTO dim_time VALUES (1, 1, 1, 'x', 'y')": "read-only",
        f"COPY (SELECT * FROM fact_tool_call) TO '{target}'": "disabled by configuration",
        f"ATTACH '{box.warehouse}' AS w (READ_ONLY)": "disabled by configuration",
        f"SELECT * FROM read_csv('{box.config_path}')": "disabled by configuration",
        "SET enable_external_access = true": "locked",
        "SELECT * FROM raw.raw_lines": "Catalog Error",
    }
    assert sql(capsys, "SELECT 1")[0] == 0  # the star copy made
    before = star_copy_path(box.warehouse).read_bytes()
    for statement, why in refused.items():
        code, _, err = sql(capsys, statement)
        assert code == 2 and why in err, (statement, err)
    assert not target.exists()
    assert star_copy_path(box.warehouse).read_bytes() == before


def exposed_tables(capsys) -> list[str]:
    _, out, _ = sql(capsys, "SELECT database_name || '.' || schema_name || '.' || table_name AS t FROM duckdb_tables() "
                    "WHERE database_name IN ('star', 'search', 'reports') ORDER BY 1", "--json")
    return [row["t"] for row in json.loads(out)]


def test_no_secret_in_any_table_sql_reads(box, capsys):
    # the warehouse holds them where the star schema would show them
    assert query(box, "SELECT count(*) FROM aggregate.fact_tool_call WHERE target_path = ?", [KEY_FILE]) == [(1,)]
    assert query(box, "SELECT count(*) FROM aggregate.dim_project WHERE repository_url = ?", [TOKEN_URL]) == [(1,)]
    tables = exposed_tables(capsys)
    assert {f"star.main.{t}" for t in FACTS_AND_DIMENSIONS} <= set(tables)
    assert {"search.main.documents", "search.main.tool_calls", "reports.aggregate.fact_token_usage"} <= set(tables)
    for table in tables:
        code, out, _ = sql(capsys, f"SELECT * FROM {table}", "--csv")
        assert code == 0
        for secret in SECRETS:
            assert secret not in out, (table, secret)
    _, out, _ = sql(capsys, "SELECT session_id, target_path FROM fact_tool_call WHERE tool_name IN ('Read', 'Bash') "
                    "ORDER BY call_id", "--json")
    targets = {(r["session_id"], r["target_path"]) for r in json.loads(out)}
    assert targets == {(KEY_FILE_SESSION, "[secret]"), (KEY_FILE_SESSION, "/home/u/proj/src/app.py"),
                       (SECRETS_SESSION, "[secret]"), ("5e6f7a8b-9c0d-4e1f-8a2b-4c5d6e7f8a9b", "[secret]")}
    _, out, _ = sql(capsys, "SELECT DISTINCT repository_url FROM dim_project WHERE repository_url IS NOT NULL", "--json")
    assert json.loads(out) == [{"repository_url": "https://[secret]@github.com/u/proj.git"}]


def test_export_writes_owner_only_files_duckdb_reads(box, capsys, tmp_path):
    """Owner-only whatever the caller's umask (the command line sets 077; a notebook calling run_export may not)."""
    from star_pipeline.reports.export import run_export

    folder = tmp_path / "exports" / "star"
    umask = os.umask(0o022)
    try:
        assert run_export(folder, box.warehouse) == 0
    finally:
        os.umask(umask)
    printed = capsys.readouterr().out
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{t}.parquet" for t in FACTS_AND_DIMENSIONS)
    conn = duckdb.connect()
    for table in FACTS_AND_DIMENSIONS:
        file = folder / f"{table}.parquet"
        assert oct(file.stat().st_mode & 0o777) == "0o600"
        rows = query(box, f"SELECT count(*) FROM aggregate.{table}")[0][0]
        assert conn.execute("SELECT count(*) FROM read_parquet(?)", [str(file)]).fetchone()[0] == rows
        assert f"{file}  {rows:,} rows" in printed
        text = conn.execute("SELECT string_agg(CAST(columns(*) AS VARCHAR), '|') FROM read_parquet(?)",
                            [str(file)]).fetchall()
        for secret in SECRETS:
            assert secret not in str(text), (table, secret)
    assert conn.execute("SELECT count(*) FROM read_parquet(?) WHERE target_path = '[secret]'",
                        [str(folder / "fact_tool_call.parquet")]).fetchone()[0] == 3

    as_csv = tmp_path / "csv"
    assert main(["export", str(as_csv), "--format", "csv"]) == 0
    for table in FACTS_AND_DIMENSIONS:
        file = as_csv / f"{table}.csv"
        assert oct(file.stat().st_mode & 0o777) == "0o600"
        text = file.read_text()
        assert all(secret not in text for secret in SECRETS), table
        assert conn.execute("SELECT count(*) FROM read_csv(?)", [str(file)]).fetchone()[0] == \
            query(box, f"SELECT count(*) FROM aggregate.{table}")[0][0]


def test_export_refuses_a_folder_that_is_not_empty_without_force(box, capsys, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep me")
    assert main(["export", str(folder), "--format", "csv"]) == 2
    assert "not empty" in capsys.readouterr().err and not (folder / "dim_date.csv").exists()
    assert main(["export", str(folder), "--format", "csv", "--force"]) == 0
    assert (folder / "mine.txt").read_text() == "keep me" and (folder / "dim_date.csv").exists()
    file = tmp_path / "a-file"
    file.write_text("")
    assert main(["export", str(file)]) == 2 and "not a folder" in capsys.readouterr().err


def test_sql_and_export_before_any_build_say_what_to_do(sandbox, capsys, tmp_path):
    assert main(["sql", "SELECT 1"]) == 2
    assert "no warehouse yet" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "star-pipeline build" in err and not (tmp_path / "out").exists()


def test_the_star_copy_is_made_again_only_when_the_warehouse_changed(box, capsys):
    sql(capsys, "SELECT 1")  # made (or found current)
    _, _, err = sql(capsys, "SELECT 1")
    assert "as of" in err and "made now" not in err
    made = star_copy_path(box.warehouse).stat().st_mtime_ns
    os.utime(box.warehouse)  # as a writer's checkpoint would
    _, _, err = sql(capsys, "SELECT 1")
    assert "made now" in err and star_copy_path(box.warehouse).stat().st_mtime_ns != made
    assert oct(star_copy_path(box.warehouse).stat().st_mode & 0o777) == "0o600"


def test_sql_while_a_writer_holds_the_warehouse_reads_the_last_star_copy(box, capsys, tmp_path):
    """Never the writer lock, and no dagster: a process holding the warehouse does not stop a query."""
    sql(capsys, "SELECT 1")
    os.utime(box.warehouse)  # changed since: the copy would be made again, but the holder keeps the file
    with held_by_another_process(box.warehouse, tmp_path) as holder:
        code = ("import sys; from star_pipeline.cli import main; "
                "code = main(['sql', 'SELECT count(*) AS n FROM fact_token_usage', '--json']); "
                "print('dagster' in sys.modules, file=sys.stderr); sys.exit(code)")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"n": query(box, "SELECT count(*) FROM aggregate.fact_token_usage")[0][0]}]
    assert f"held by process {holder.pid}" in proc.stderr and "read the star copy made at" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "False"



def test_sql_piped_into_a_reader_that_stops_ends_quietly(box):
    """`star-pipeline sql ... | head -1`: no traceback, exit 0."""
    proc = subprocess.Popen([sys.executable, "-m", "star_pipeline.cli", "sql", "SELECT * FROM range(300000)", "--csv"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ)
    assert proc.stdout.readline() == b"range\n"
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    err = proc.stderr.read().decode()
    assert "Traceback" not in err and "star-pipeline sql: read" in err


def test_a_copy_left_half_made_by_a_killed_process_is_removed(box, capsys):
    """Only a gone process's: one still running may be making its copy now."""
    target = star_copy_path(box.warehouse)
    gone, running = (target.with_name(f"{target.name}.{pid}.tmp") for pid in (999_999_999, os.getppid()))
    for leftover in (gone, Path(f"{gone}.wal"), running):
        leftover.write_bytes(b"half a copy")
    os.utime(box.warehouse)  # changed: the next query makes the copy again
    assert sql(capsys, "SELECT 1")[0] == 0
    assert not gone.exists() and not Path(f"{gone}.wal").exists() and running.exists()
    running.unlink()
