"""warehouse.kind: ducklake (storage/warehouse/lake_engine.py): the same pipeline on a DuckLake gives the same
warehouse as on the single file; a PostgreSQL catalog is initialized once however many machines connect at once;
the catalog lock admits one holder and is released when its holder dies; the lake's files are the owner's only."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from star_pipeline.config import ConfigError, load_settings
from star_pipeline.storage.migrations import discover, without_key_constraints
from star_pipeline.storage.warehouse import INIT_LOCK, LakeLocation, WarehouseLockedError, catalog_lock, connect
from star_pipeline_tests.builders import assistant, tool_result, tool_use, usage, user, write_jsonl
from star_pipeline_tests.conftest import Sandbox, materialize_all, use_sandbox
from star_pipeline_tests.test_build import STAR_PIPELINE


def lake_config(box: Sandbox, catalog: str, data_path, **folders) -> None:
    box.root.mkdir(parents=True, exist_ok=True)
    box.write_config(**folders)
    text = box.config_path.read_text().replace(
        "warehouse:\n", f"warehouse:\n  kind: ducklake\n  catalog: {json.dumps(catalog)}\n  data_path: {data_path}\n", 1)
    box.config_path.write_text(text)


def write_sessions(box: Sandbox) -> None:
    """Two Claude Code sessions with tool calls, an error and a resumed copy of one call's usage."""
    folder = box.claude_root / "-home-u-proj"
    for n, session in enumerate(("s-one", "s-two")):
        write_jsonl(folder / f"{session}.jsonl", [
            user(session, 10 + n, "Please fix the failing test."),
            assistant(session, 11 + n, f"m{n}a", f"r{n}a", usage(10, 5, 200, 1000),
                      content=[tool_use(f"c{n}", "Read", file_path="/home/u/proj/app.py")]),
            user(session, 12 + n, [tool_result(f"c{n}", "no such file", is_error=True)]),
            assistant(session, 13 + n, f"m{n}b", f"r{n}b", usage(3, 40, 0, 1200)),
        ])


def table_contents(conn, omit=(), where=None, values=False) -> dict[str, list]:
    """Every table of the warehouse (schema.table) with its columns' names and types, and its rows sorted (columns
    whose values differ per build by design, such as load times and the secret salt, left out; and those named in
    `omit`). `where(schema, table, columns)`: an SQL condition on the table's rows (alias `t`) to compare, or None.
    `values`: the rows as they are (floats unrounded, for a comparison with a tolerance), in the same order."""
    volatile = {"loaded_at", "captured_at", "first_seen_at", "last_seen_at", "updated_at", "applied_at",
                "first_materialized_at", "salt", "fingerprint", "built_at", "published_at", "materialized_at",
                # an embedding differs in its last bits with the batch it was computed in
                "vector"}
    # meta_lake_maintenance: the log of a lake's own maintenance (aggregate/warehouse_maintenance.py), no file has one
    tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables WHERE "
                          "table_catalog = current_database() AND table_type = 'BASE TABLE' "
                          "AND table_name <> 'meta_lake_maintenance' ORDER BY 1, 2").fetchall()
    out = {}
    for schema, table in tables:
        described = conn.execute(f'DESCRIBE "{schema}"."{table}"').fetchall()
        columns = [c for c in described if c[0] not in omit]
        kept = [c[0] for c in columns
                if c[0] not in volatile and not c[0].endswith("run_id") and "time" not in c[1].lower()]
        selected = ", ".join(f'"{c}"' for c in kept) or "count(*)"
        condition = where(schema, table, [c[0] for c in described]) if where else None
        rows = conn.execute(f'SELECT {selected} FROM "{schema}"."{table}" t'
                            + (f" WHERE {condition}" if condition else "")).fetchall()
        if values:
            out[f"{schema}.{table}"] = ([(c[0], c[1]) for c in columns], sorted(rows, key=lambda r: repr(rounded(r, 3))))
        else:
            out[f"{schema}.{table}"] = ([(c[0], c[1]) for c in columns], sorted(repr(rounded(row)) for row in rows))
    return out


def rounded(value, digits: int = 5):
    """Floats to 5 significant digits: sums and embeddings computed in another order differ in their last bits."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    return value


def report_json(box: Sandbox, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "star_pipeline.cli", "report", *args, "--json"], capture_output=True,
                            text=True, env={**os.environ, "STAR_PIPELINE_CONFIG": str(box.config_path)})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def built(box: Sandbox, monkeypatch, write=True) -> Sandbox:
    use_sandbox(box, monkeypatch)
    if write:
        write_sessions(box)
    assert materialize_all(box).success
    return box


def test_a_build_on_a_ducklake_gives_the_single_files_warehouse(tmp_path, monkeypatch):
    file_box = Sandbox(tmp_path / "file")
    file_box.root.mkdir()
    file_box.write_config()
    built(file_box, monkeypatch)
    file_box_settings = load_settings(file_box.config_path)
    lake_box = Sandbox(tmp_path / "lake")
    lake_config(lake_box, str(tmp_path / "lake" / "catalog.ducklake"), tmp_path / "lake" / "data",
                claude_roots=[file_box.claude_root])  # the same transcripts, at the same paths
    built(lake_box, monkeypatch, write=False)
    lake_settings = load_settings(lake_box.config_path)
    assert lake_settings.lake == LakeLocation(str(tmp_path / "lake" / "catalog.ducklake"), f"{tmp_path}/lake/data/")

    with connect(file_box_settings.warehouse_path, read_only=True) as conn:
        expected = table_contents(conn)
    with connect(lake_settings.warehouse_path, read_only=True, lake=lake_settings.lake) as conn:
        got = table_contents(conn)
    assert sorted(got) == sorted(expected)
    for table in expected:
        assert got[table] == expected[table], table
    # what the user sees: the same report, from this machine's published copy of the lake
    lake_totals = report_json(lake_box, "daily")["totals"]
    assert {k: rounded(v) for k, v in lake_totals.items()} == {k: rounded(v) for k, v in report_json(file_box, "daily")["totals"].items()}
    assert lake_totals["totalTokens"] == 2 * (10 + 5 + 200 + 1000) + 2 * (3 + 40 + 1200)
    # `star-pipeline sql` on a lake: the star schema as the file's, its copy made once per lake snapshot
    statement = "SELECT tool_name, status, count(*) AS calls FROM fact_tool_call GROUP BY ALL ORDER BY ALL"
    from_lake, again = star_pipeline(lake_box, "sql", statement, "--json"), star_pipeline(lake_box, "sql", statement)
    assert from_lake.returncode == 0 and "made now from the DuckLake" in from_lake.stderr, from_lake.stderr
    assert json.loads(from_lake.stdout) == json.loads(star_pipeline(file_box, "sql", statement, "--json").stdout)
    assert again.returncode == 0 and "as of" in again.stderr and "Read" in again.stdout
    # every file the lake wrote is the owner's only
    data = tmp_path / "lake" / "data"
    modes = {stat.S_IMODE(p.stat().st_mode) for p in data.rglob("*")}
    assert modes and modes <= {0o600, 0o700}, sorted(oct(m) for m in modes)


def test_migrations_without_keys_keep_every_table_and_column():
    for migration in discover():
        stripped = without_key_constraints(migration.sql)
        assert "PRIMARY KEY" not in stripped.upper() and "UNIQUE" not in stripped.upper(), migration.name
    table = "CREATE TABLE t (\n    a VARCHAR PRIMARY KEY,   -- the key\n    b INTEGER NOT NULL,\n    PRIMARY KEY (a, b)\n);"
    assert without_key_constraints(table) == "CREATE TABLE t (\n    a VARCHAR,   -- the key\n    b INTEGER NOT NULL\n);"


@pytest.mark.parametrize("yaml, message", [
    ("  kind: lake\n", "'warehouse.kind' must be one of duckdb, ducklake"),
    ("  kind: ducklake\n  data_path: /tmp/x\n", "'warehouse.kind: ducklake' needs 'warehouse.catalog'"),
    ("  kind: ducklake\n  catalog: 'postgres:dbname=x'\n", "needs 'warehouse.data_path'"),
    ("  catalog: 'postgres:dbname=x'\n", "'warehouse.catalog' is only for 'warehouse.kind: ducklake'"),
    ("  kind: ducklake\n  catalog: 'postgres:dbname=x password=hunter2'\n  data_path: /tmp/x\n", "holds a password"),
])
def test_a_malformed_lake_configuration_names_the_key(sandbox, yaml, message):
    text = sandbox.config_path.read_text().replace("warehouse:\n", "warehouse:\n" + yaml, 1)
    sandbox.config_path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(sandbox.config_path)
    assert message in str(caught.value) and str(sandbox.config_path) in str(caught.value)
    assert "hunter2" not in str(caught.value)


FIRST_CONNECT = textwrap.dedent("""\
    import sys, time
    from star_pipeline.storage.warehouse import LakeLocation, connect
    lake = LakeLocation(sys.argv[1], sys.argv[2])
    while time.time() < float(sys.argv[4]):
        time.sleep(0.005)
    with connect(sys.argv[3], lake=lake, lock_timeout_seconds=60) as conn:
        print(conn.execute("SELECT count(*) FROM meta_schema_version").fetchone()[0])
""")


def test_machines_connecting_to_a_new_postgres_lake_at_once_all_succeed(postgres_catalog, tmp_path):
    start = time.time() + 3  # every process has loaded its imports by then
    procs = [subprocess.Popen([sys.executable, "-c", FIRST_CONNECT, postgres_catalog, f"{tmp_path}/data/",
                               str(tmp_path / f"machine{i}" / "local.duckdb"), str(start)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-800:] for _, err in outputs]
    migrations = len(discover())
    assert [int(out) for out, _ in outputs] == [migrations] * 3  # each migration applied once, by one of them


HOLDER = textwrap.dedent("""\
    import pathlib, sys, time
    from star_pipeline.storage.warehouse import INIT_LOCK, LakeLocation, catalog_lock
    with catalog_lock(LakeLocation(sys.argv[1], "/unused/"), INIT_LOCK, 5, "testing"):
        pathlib.Path(sys.argv[2]).touch()
        time.sleep(120)
""")


def wait_for_lock(holder: subprocess.Popen, ready) -> None:
    """Until the process `holder` says (by creating `ready`) that it holds its lock; fails if it died first."""
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert holder.poll() is None and time.monotonic() < deadline, "the holder did not take the lock"
        time.sleep(0.05)


def test_the_catalog_lock_admits_one_holder_and_is_released_when_it_dies(postgres_catalog, tmp_path):
    lake = LakeLocation(postgres_catalog, f"{tmp_path}/data/")
    ready = tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, postgres_catalog, str(ready)])
    try:
        wait_for_lock(holder, ready)
        with pytest.raises(WarehouseLockedError) as caught:
            with catalog_lock(lake, INIT_LOCK, 1, "creating or migrating the lake"):
                pass
        assert "another machine or process is creating or migrating the lake" in str(caught.value)
    finally:
        holder.kill()  # SIGKILL: no chance to release anything itself
        holder.wait()
    with catalog_lock(lake, INIT_LOCK, 10, "creating or migrating the lake"):
        pass  # PostgreSQL released the dead holder's lock


WRITER = textwrap.dedent("""\
    import pathlib, sys, time
    from star_pipeline.storage.warehouse import LakeLocation, derived_writer_lock
    with derived_writer_lock(LakeLocation(sys.argv[1], "/unused/"), 5):
        pathlib.Path(sys.argv[2]).touch()
        time.sleep(120)
""")


CAPTURER = textwrap.dedent("""\
    import pathlib, sys, time
    from star_pipeline.storage.warehouse import LakeLocation, capture_lock
    with capture_lock(LakeLocation(sys.argv[1], "/unused/"), sys.argv[3], "claude_code", 5):
        pathlib.Path(sys.argv[2]).touch()
        time.sleep(120)
""")


def test_two_processes_of_one_machine_never_capture_one_source_at_once(postgres_catalog, tmp_path):
    """A capture deletes its machine's stored lines that its manifest does not cover (a died run's): run beside
    another process of the same machine capturing the same source, it deleted the lines that one had committed
    and not yet recorded, for good. So the second waits (here the test process's stand-in holds the lock, and
    the build's lock_timeout_seconds is 5: it fails saying what it waited for, nothing written); another
    source's capture and another machine's never wait."""
    box = Sandbox(tmp_path / "m1")
    lake_config(box, postgres_catalog, tmp_path / "lake-data")
    box.config_path.write_text(box.config_path.read_text() + "machine:\n  id: m1\n  role: raw-only\n")
    write_sessions(box)
    ready = tmp_path / "capturing"
    holder = subprocess.Popen([sys.executable, "-c", CAPTURER, postgres_catalog, str(ready), "m1"])
    try:
        wait_for_lock(holder, ready)
        waited = star_pipeline(box, "build", "--raw-only")
        assert waited.returncode != 0, waited.stdout + waited.stderr
        assert "another machine or process is capturing claude_code on machine m1" in waited.stdout + waited.stderr
        other = Sandbox(tmp_path / "m2")  # another machine's capture of the same source goes on meanwhile
        lake_config(other, postgres_catalog, tmp_path / "lake-data")
        other.config_path.write_text(other.config_path.read_text() + "machine:\n  id: m2\n  role: raw-only\n")
        write_sessions(other)
        assert star_pipeline(other, "build", "--raw-only").returncode == 0
    finally:
        holder.kill()
        holder.wait()
    captured = star_pipeline(box, "build", "--raw-only")
    assert captured.returncode == 0, captured.stdout + captured.stderr
    settings = load_settings(box.config_path)
    with connect(settings.warehouse_path, read_only=True, lake=settings.lake) as conn:
        by_machine = dict(conn.execute("SELECT machine_id, count(*) FROM raw.claude_code_lines GROUP BY ALL").fetchall())
    assert set(by_machine) == {"m1", "m2"} and by_machine["m1"] == by_machine["m2"] > 0


def star_pipeline(box: Sandbox, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(box.config_path)}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run([STAR_PIPELINE, *args], capture_output=True, text=True, env=env, timeout=600)


def test_a_machine_captures_while_another_is_the_writer_then_the_writer_rebuilds(postgres_catalog, tmp_path,
                                                                                 monkeypatch):
    box = Sandbox(tmp_path / "member")
    lake_config(box, postgres_catalog, tmp_path / "lake-data")
    use_sandbox(box, monkeypatch)
    write_sessions(box)
    ready = tmp_path / "writer-holds"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, postgres_catalog, str(ready)])
    try:
        wait_for_lock(writer, ready)
        # a team member's machine: its raw lines land although another process is the writer
        # (machine.role: raw-only: its plain `build` captures only, as `build --raw-only` does anywhere)
        writer_config = box.config_path.read_text()
        box.config_path.write_text(writer_config + "machine:\n  role: raw-only\n")
        member = star_pipeline(box, "build")
        assert member.returncode == 0, member.stdout[-3000:]
        assert "capturing raw lines only" in member.stdout
        box.config_path.write_text(writer_config)
        settings = load_settings(box.config_path)
        with connect(settings.warehouse_path, read_only=True, lake=settings.lake) as conn:
            assert conn.execute("SELECT count(*) FROM raw.claude_code_lines").fetchone()[0] == 8
            assert conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_catalog = "
                                "current_database() AND table_schema = 'normalized'").fetchone()[0] == 0
        # a second writer waits for the lock, then says who holds it; the raw capture before it still ran
        second = star_pipeline(box, "build")
        assert second.returncode == 1
        assert "another machine or process is rebuilding the derived layers" in second.stdout, second.stdout[-3000:]
    finally:
        writer.kill()
        writer.wait()
    writer_build = star_pipeline(box, "build")  # the writer is gone: this machine may rebuild now
    assert writer_build.returncode == 0, writer_build.stdout[-3000:]
    assert "materialized aggregate/warehouse_maintenance" in writer_build.stdout
    assert report_json(box, "daily")["totals"]["totalTokens"] == 2 * (10 + 5 + 200 + 1000) + 2 * (3 + 40 + 1200)


def test_a_conflicting_commit_is_tried_again_and_other_errors_are_not():
    import duckdb

    from star_pipeline.storage.warehouse import retry_on_conflict

    calls = []

    def conflicts_twice():
        calls.append(1)
        if len(calls) <= 2:
            raise duckdb.TransactionException("Failed to commit DuckLake transaction. | Transaction conflict - "
                                              "attempting to delete from table with index \"3\"")
        return "written"

    assert retry_on_conflict(conflicts_twice) == "written" and len(calls) == 3
    calls.clear()

    def fails():
        calls.append(1)
        raise duckdb.ConstraintException("NOT NULL constraint failed")

    with pytest.raises(duckdb.ConstraintException):
        retry_on_conflict(fails)
    assert len(calls) == 1


def test_a_single_file_warehouse_migrates_into_a_lake_once(postgres_catalog, tmp_path, monkeypatch):
    box = Sandbox(tmp_path / "laptop")
    box.root.mkdir()
    box.write_config()
    built(box, monkeypatch)
    before = report_json(box, "daily")["totals"]
    # the same configuration, now naming a lake; warehouse.path stays the old file, which is the source
    lake_config(box, postgres_catalog, tmp_path / "lake-data")
    migrated = star_pipeline(box, "migrate-to-ducklake")
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    assert "raw layer copied and verified" in migrated.stdout
    # the rebuild read no transcript byte again: every line came from the old file
    assert re.search(r"claude_code: read \d+ files \(0 new, 0 rewritten, 0 deleted\), captured 0 lines",
                     migrated.stdout + migrated.stderr)
    assert {k: rounded(v) for k, v in report_json(box, "daily")["totals"].items()} == \
        {k: rounded(v) for k, v in before.items()}
    settings = load_settings(box.config_path)
    with connect(settings.warehouse_path, read_only=True, lake=settings.lake) as conn:
        lines = conn.execute("SELECT count(*) FROM raw.claude_code_lines").fetchone()[0]
    assert lines == 8
    again = star_pipeline(box, "migrate-to-ducklake")
    assert again.returncode == 1 and "the lake already holds raw lines" in again.stdout
    with connect(settings.warehouse_path, read_only=True, lake=settings.lake) as conn:
        assert conn.execute("SELECT count(*) FROM raw.claude_code_lines").fetchone()[0] == lines  # nothing doubled


def test_an_s3_data_path_without_credentials_says_what_to_set(tmp_path, monkeypatch):
    from star_pipeline.storage.warehouse import LakeAttachError

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws
    lake = LakeLocation(str(tmp_path / "catalog.ducklake"), "s3://star-pipeline-test-bucket/lake/")
    with pytest.raises(LakeAttachError) as caught:
        with connect(tmp_path / "local.duckdb", lake=lake):
            pass
    message = str(caught.value)
    assert "s3://star-pipeline-test-bucket/lake/" in message and "AWS_ACCESS_KEY_ID" in message


def test_the_lakes_checkpoint_runs_when_files_pile_up_or_hourly():
    from star_pipeline.aggregate.warehouse_maintenance import lake_checkpoint_due

    assert lake_checkpoint_due(40, 40, None) == "no maintenance recorded yet"
    assert lake_checkpoint_due(40, 40, 30) is None  # a fresh lake's first build: made half a minute ago
    assert lake_checkpoint_due(80, 40, 600) is None  # 16 s saved on a refresh 10 minutes after the last one
    assert lake_checkpoint_due(81, 40, 600) == "more than 2 data files per table"
    assert lake_checkpoint_due(40, 40, 3600) == "the last one was 1.0 hours ago"
