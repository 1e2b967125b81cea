"""Several machines in one warehouse: each machine's raw rows and manifest are its own.

Two configs over the same warehouse and the same folders stand for two machines (`machine.id` A
and B) that both have a file at the same path, as two laptops syncing ~/.claude do. A capture on
one machine, its crash recovery included, never deletes or changes the other's rows.
"""

from __future__ import annotations

import copy

from star_pipeline_tests.builders import SESSION, claude_line
from star_pipeline_tests.conftest import Sandbox, query
from star_pipeline_tests.raw.test_capture import append, check_passed, lines, materialize_raw, write

ROW = "machine_id, path, file_version, line_number, byte_offset, line_bytes, ends_with_newline, ingest_run_id"


def on_machine(sandbox: Sandbox, machine: str, **config) -> Sandbox:
    """The sandbox's folders and warehouse, seen from machine `machine` (a config of its own)."""
    box = copy.copy(sandbox)
    box.config_path = sandbox.root / f"star_pipeline-{machine}.yaml"
    box.write_config(extra=f"machine:\n  id: {machine}\n", **config)
    return box


def rows_of(box: Sandbox, machine: str, table: str = "claude_code_lines") -> list:
    order = "path, file_version, byte_offset" if table.endswith("_lines") else "path, file_version"
    columns = ROW if table.endswith("_lines") else "*"
    return query(box, f"SELECT {columns} FROM raw.{table} WHERE machine_id = ? ORDER BY {order}", [machine])


def stored_bytes(box: Sandbox, machine: str, path) -> bytes:
    rows = query(box, "SELECT line_bytes, ends_with_newline FROM raw.claude_code_lines WHERE machine_id = ? AND path = ? "
                 "ORDER BY file_version, byte_offset", [machine, str(path)])
    return b"".join(bytes(b) + (b"\n" if nl else b"") for b, nl in rows)


def test_two_machines_keep_their_own_rows_for_the_same_path(sandbox):
    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", lines(claude_line(1), claude_line(2)))
    b, a = on_machine(sandbox, "B"), on_machine(sandbox, "A")
    assert check_passed(materialize_raw(b))
    b_rows = rows_of(b, "B")
    append(path, lines(claude_line(3)))  # machine A's copy of the file has one line more

    result = materialize_raw(a)

    assert check_passed(result)
    assert stored_bytes(a, "A", path) == path.read_bytes()  # A captured its file whole: B's manifest is not A's
    assert rows_of(a, "B") == b_rows
    assert query(a, "SELECT machine_id, line_count FROM raw.claude_code_files ORDER BY 1") == [("A", 3), ("B", 2)]
    assert materialize_raw(a).success and rows_of(a, "A", "claude_code_files")[0][-1] == "A"  # a rerun reads nothing new
    assert query(a, "SELECT count(*) FROM raw.claude_code_lines") == [(5,)]


def test_a_crash_recovery_on_one_machine_never_deletes_the_others_lines(sandbox, monkeypatch):
    """Machine B's lines are committed and its manifest not yet (it died, or is between its two writes):
    machine A's capture, its own crash recovery included, leaves them alone; B's next run finishes them."""
    from star_pipeline.raw.capture import Capture

    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", lines(claude_line(1), claude_line(2)))
    other = write(sandbox.claude_root / "-home-u-demo" / "other.jsonl", lines(claude_line(7)))
    b, a = on_machine(sandbox, "B"), on_machine(sandbox, "A")

    def killed(self):
        raise RuntimeError("the process died between the lines write and the manifest write")

    with monkeypatch.context() as patch:
        patch.setattr(Capture, "manifest", killed)
        assert not materialize_raw(b, raise_on_error=False).success
        b_orphans = rows_of(b, "B")
        assert len(b_orphans) == 3 and rows_of(b, "B", "claude_code_files") == []
        assert not materialize_raw(a, raise_on_error=False).success  # A dies the same way: both have orphans
    assert len(rows_of(a, "A")) == 3

    append(path, lines(claude_line(3)))
    result = materialize_raw(a)  # A's recovery drops A's orphans (its count differs) and reads its files again

    assert result.success and check_passed(result)
    assert rows_of(a, "B") == b_orphans  # not one of B's rows deleted or changed
    assert stored_bytes(a, "A", path) == path.read_bytes() and stored_bytes(a, "A", other) == other.read_bytes()
    assert len(rows_of(a, "A")) == 4

    result = materialize_raw(b)  # B's own recovery replaces its orphans with a capture its manifest records
    assert result.success and check_passed(result)
    assert stored_bytes(b, "B", path) == path.read_bytes() and len(rows_of(b, "B")) == 4
    assert [r[:6] for r in rows_of(b, "A")] == [r[:6] for r in rows_of(a, "A")]


def test_the_check_run_alone_checks_every_machines_rows_and_only_this_machines_disk(sandbox):
    from star_pipeline_tests.raw.test_capture import run_check_only

    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", lines(claude_line(1), claude_line(2)))
    b, a = on_machine(sandbox, "B"), on_machine(sandbox, "A")
    materialize_raw(b)
    path.write_bytes(lines(claude_line(5)))  # the file on this machine (A) is another file than B's
    materialize_raw(a)
    assert run_check_only(a).get_asset_check_evaluations()[0].passed

    import duckdb

    conn = duckdb.connect(str(sandbox.warehouse))
    conn.execute("UPDATE raw.claude_code_lines SET line_bytes = 'x'::BLOB WHERE machine_id = 'B' AND line_number = 2")
    conn.close()
    evaluation = run_check_only(a).get_asset_check_evaluations()[0]
    assert not evaluation.passed and evaluation.description.startswith("[B] ")


def test_rows_stored_before_machine_ids_belong_to_the_machine_that_captures_next(sandbox):
    import duckdb

    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", lines(claude_line(1)))
    a = on_machine(sandbox, "A")
    materialize_raw(a)
    conn = duckdb.connect(str(sandbox.warehouse))
    for table in ("claude_code_lines", "claude_code_files"):
        conn.execute(f"UPDATE raw.{table} SET machine_id = NULL")  # as migration 011 leaves an older warehouse
    conn.close()
    append(path, lines(claude_line(2)))

    result = materialize_raw(a)

    assert result.success and check_passed(result)
    assert query(a, "SELECT DISTINCT machine_id FROM raw.claude_code_lines") == [("A",)]
    assert query(a, "SELECT machine_id, line_count FROM raw.claude_code_files") == [("A", 2)]  # continued, not read again
    assert stored_bytes(a, "A", path) == path.read_bytes()


def test_a_source_table_created_before_machine_ids_gets_the_column(sandbox):
    import duckdb

    from star_pipeline.raw.tables import FILES_COLUMN_SPECS, LINES_COLUMN_SPECS, ensure_raw_tables
    from star_pipeline.sources import SOURCES

    conn = duckdb.connect(str(sandbox.root / "old.duckdb"))
    conn.execute("CREATE SCHEMA raw")
    for table, specs in (("qwen_lines", LINES_COLUMN_SPECS), ("qwen_files", FILES_COLUMN_SPECS)):
        columns = ", ".join(f"{n} {ddl}" for n, ddl, _ in specs if n != "machine_id")
        conn.execute(f"CREATE TABLE raw.{table} ({columns})")
    ensure_raw_tables(conn, [s for s in SOURCES if s.name == "qwen"])
    for table in ("qwen_lines", "qwen_files"):
        assert conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = ? "
                            "AND column_name = 'machine_id'", [table]).fetchone() == (1,)
    conn.close()
