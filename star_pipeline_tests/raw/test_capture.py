"""The raw layer end to end: real Dagster assets and checks, run in-process on fixture files.

Every test writes its own small, realistic transcript files into the sandbox's
source folders, materializes the raw assets and compares what the warehouse
holds with the bytes on disk. Most tests run only the raw layer's assets and
checks (`materialize_raw`); the permission, hook spool and corpus tests run
`materialize_all`.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
import stat
from pathlib import Path

import duckdb

from star_pipeline.raw.line_parts import PART_BYTES
from star_pipeline_tests.builders import CODEX_SESSION, SESSION, claude_line, codex_line
from star_pipeline_tests.conftest import Sandbox, build_defs, corpus_or_skip, materialize_all, query, run_checks_alone

LINE_COLUMNS = [
    "source", "path", "file_version", "line_number", "byte_offset", "byte_length",
    "line_bytes", "ends_with_newline", "sha256", "ingest_run_id", "ingested_at", "part_number", "part_count",
]
MANIFEST_COLUMNS = [
    "source", "path", "file_version", "size_bytes", "mtime", "consumed_offset", "consumed_sha256",
    "line_count", "first_seen_at", "last_seen_at", "source_deleted_at", "superseded_at", "last_ingest_run_id",
    "path_bytes", "inode", "ctime", "capture_error",
]
SOURCES = ("claude_code", "codex", "hook_spool")
# Columns that legitimately differ between two ingests of the same bytes.
RUN_COLUMNS = {"ingest_run_id", "ingested_at", "first_seen_at", "last_seen_at", "last_ingest_run_id"}


def lines(*records: bytes, newline: bytes = b"\n") -> bytes:
    return b"".join(r + newline for r in records)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


def age(path: Path, seconds: float) -> None:
    """Move the file's mtime `seconds` into the past (negative: into the future)."""
    st = path.stat()
    shift = int(seconds * 1e9)
    os.utime(path, ns=(st.st_atime_ns - shift, st.st_mtime_ns - shift))


def expected_line_count(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


# -- warehouse reads -------------------------------------------------------
def key(path: Path) -> str:
    return os.path.realpath(path)


def line_rows(sandbox: Sandbox, path: Path, *, source: str = "claude_code", version: int | None = None) -> list[dict]:
    sql = f"SELECT {', '.join(LINE_COLUMNS)} FROM raw.{source}_lines WHERE path = ?"
    params: list = [key(path)]
    if version is not None:
        sql += " AND file_version = ?"
        params.append(version)
    rows = query(sandbox, sql + " ORDER BY file_version, byte_offset", params)
    return [dict(zip(LINE_COLUMNS, (bytes(v) if isinstance(v, (bytes, bytearray, memoryview)) else v for v in row))) for row in rows]


def manifest_rows(sandbox: Sandbox, path: Path, *, source: str = "claude_code") -> list[dict]:
    rows = query(
        sandbox,
        f"SELECT {', '.join(MANIFEST_COLUMNS)} FROM raw.{source}_files WHERE path = ? ORDER BY file_version",
        [key(path)],
    )
    return [dict(zip(MANIFEST_COLUMNS, row)) for row in rows]


def reconstruct(sandbox: Sandbox, path: Path, *, source: str = "claude_code", version: int = 1) -> bytes:
    """The consumed bytes of one file version, rebuilt from its rows in byte_offset order."""
    rows = line_rows(sandbox, path, source=source, version=version)
    return b"".join(r["line_bytes"] + (b"\n" if r["ends_with_newline"] else b"") for r in rows)


def rows_written(sandbox: Sandbox, run_id: str) -> dict[str, int]:
    return dict(query(sandbox, "SELECT asset_key, rows_written FROM meta_load_log WHERE run_id = ? AND status = 'success'", [run_id]))


def check_passed(result, source: str = "claude_code") -> bool:
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    return evaluations[f"{source}_lines_match_files"].passed


def check_evaluation(result, source: str = "claude_code"):
    return {e.check_name: e for e in result.get_asset_check_evaluations()}[f"{source}_lines_match_files"]


def materialize_raw(sandbox: Sandbox, *, raise_on_error: bool = True):
    """`materialize_all` restricted to the raw layer: its three capture assets and three checks.

    The layers above read the raw tables; leaving them out keeps these tests about capture
    (and fast). A few tests below run `materialize_all` to show the raw layer end to end.
    """
    from dagster import AssetCheckKey, AssetKey, DagsterInstance

    job = build_defs(sandbox).resolve_implicit_global_asset_job_def()
    subset = job.get_subset(
        asset_selection={AssetKey(["raw", f"{s}_{t}"]) for s in SOURCES for t in ("lines", "files")},
        asset_check_selection={AssetCheckKey(AssetKey(["raw", f"{s}_lines"]), f"{s}_lines_match_files") for s in SOURCES},
    )
    return subset.execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=raise_on_error)


def run_check_only(sandbox: Sandbox, source: str = "claude_code"):
    """Run just the `<source>_lines_match_files` check (no capture), as from the UI's check button."""
    return run_checks_alone(sandbox, (["raw", f"{source}_lines"], f"{source}_lines_match_files"))


def assert_byte_perfect(sandbox: Sandbox, path: Path, *, source: str = "claude_code", version: int = 1) -> list[dict]:
    """The stored rows reproduce the file: returns the rows, a long line's parts apart."""
    data = path.read_bytes()
    rows = line_rows(sandbox, path, source=source, version=version)
    assert reconstruct(sandbox, path, source=source, version=version) == data
    firsts = [r for r in rows if r["part_number"] == 1]
    assert len(firsts) == expected_line_count(data)
    assert [r["line_number"] for r in firsts] == list(range(1, len(firsts) + 1))
    offset = 0
    for r in rows:
        assert r["byte_offset"] == offset
        assert r["byte_length"] == len(r["line_bytes"]) <= PART_BYTES
        assert r["sha256"] == hashlib.sha256(r["line_bytes"]).hexdigest()
        assert r["source"] == source
        assert not r["ends_with_newline"] or r["part_number"] == r["part_count"]
        offset += r["byte_length"] + int(r["ends_with_newline"])
    (manifest,) = [m for m in manifest_rows(sandbox, path, source=source) if m["file_version"] == version]
    assert manifest["consumed_offset"] == len(data)
    assert manifest["line_count"] == len(firsts)
    assert manifest["consumed_sha256"] == hashlib.sha256(data).hexdigest()
    return rows


def fake_unreadable_open(real_open, *unreadable: Path):
    blocked = {key(p) for p in unreadable}

    def fake_open(file, *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and os.path.realpath(file) in blocked:
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    return fake_open


# -- 1. byte-perfect capture of corrupt lines ------------------------------
def test_corrupt_lines_are_stored_byte_for_byte(sandbox):
    sandbox.write_config(quiet_seconds=0)
    proj = sandbox.claude_root / "-home-u-demo"
    surrogate = claude_line(3, text="emoji").replace(b'"emoji"', b'"broken \\ud83d emoji"')
    assert b"\\ud83d" in surrogate
    files = {
        "nul_run": lines(claude_line(1), b"\x00" * 4096 + claude_line(2, kind="assistant"), claude_line(3)),
        "invalid_utf8": lines(claude_line(1), claude_line(2, text="caf\u00e9").replace("é".encode(), b"\xff\xfe"), claude_line(3)),
        "lone_surrogate": lines(claude_line(1), claude_line(2, kind="assistant"), surrogate),
        "crlf": lines(claude_line(1), claude_line(2, kind="assistant"), newline=b"\r\n"),
        "empty_line_in_middle": lines(claude_line(1), b"", claude_line(2, kind="assistant"), b"", b""),
        "glued_records": lines(claude_line(1), claude_line(2, kind="assistant") + claude_line(3)),
        "truncated_mid_file": lines(claude_line(1), claude_line(2, kind="assistant")[:57], claude_line(3)),
        "newlines_only": b"\n\n\n",
        "no_final_newline": lines(claude_line(1)) + claude_line(2, kind="assistant"),
        "everything": lines(
            claude_line(1) + b"\r", b"\x00\x00\x00", b"\xc3\x28\xa0\xa1", surrogate, b"", claude_line(4) + claude_line(5)
        ) + b"\x00" * 10,
    }
    paths = {name: write(proj / f"{name}.jsonl", data) for name, data in files.items()}
    codex_path = write(
        sandbox.codex_root / "2026" / "01" / "01" / f"rollout-2026-01-01T00-00-00-{CODEX_SESSION}.jsonl",
        lines(codex_line(1), b"\x00" * 100 + codex_line(2, "caf\u00e9").replace("é".encode(), b"\xff"), codex_line(3)) + b"\r\n",
    )

    result = materialize_raw(sandbox)

    assert result.success
    for name, path in paths.items():
        rows = assert_byte_perfect(sandbox, path)
        assert all(r["file_version"] == 1 and r["ingest_run_id"] == result.run_id for r in rows), name
    assert_byte_perfect(sandbox, codex_path, source="codex")
    # Corruption is kept as it is, not repaired: the NUL run, the \r, the invalid bytes, the glued records.
    assert line_rows(sandbox, paths["nul_run"])[1]["line_bytes"].startswith(b"\x00" * 4096 + b"{")
    assert line_rows(sandbox, paths["invalid_utf8"])[1]["line_bytes"].count(b"\xff\xfe") == 1
    assert line_rows(sandbox, paths["lone_surrogate"])[2]["line_bytes"] == surrogate
    assert [r["line_bytes"][-1:] for r in line_rows(sandbox, paths["crlf"])] == [b"\r", b"\r"]
    assert [r["byte_length"] for r in line_rows(sandbox, paths["empty_line_in_middle"])][1::2] == [0, 0]
    assert len(line_rows(sandbox, paths["glued_records"])) == 2
    last = line_rows(sandbox, paths["no_final_newline"])[-1]
    assert (last["line_bytes"], last["ends_with_newline"]) == (claude_line(2, kind="assistant"), False)
    assert check_passed(result) and check_passed(result, "codex")


# -- 2. a 20 MB line --------------------------------------------------------
def test_a_20_mb_line_is_stored_in_parts_with_exact_bytes(sandbox):
    # multi-byte characters throughout, so that a cut at a fixed byte count would split one
    big = claude_line(2, kind="user", text="x\u00e9\u4e2d\U0001f600" * (2 << 20), toolUseResult={"stdout": "", "stderr": ""})
    assert len(big) > 20 << 20
    data = lines(claude_line(1), big, claude_line(3, kind="assistant"))
    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", data)

    result = materialize_raw(sandbox)

    assert result.success and check_passed(result)
    parts = [r for r in assert_byte_perfect(sandbox, path) if r["line_number"] == 2]
    assert len(parts) == parts[0]["part_count"] > 300
    assert [r["part_number"] for r in parts] == list(range(1, len(parts) + 1))
    assert b"".join(r["line_bytes"] for r in parts) == big
    for part in parts:
        part["line_bytes"].decode("utf-8")  # cut between characters: every part is UTF-8 on its own
    assert [r["ends_with_newline"] for r in parts] == [False] * (len(parts) - 1) + [True]
    assert parts[0]["byte_offset"] == len(claude_line(1)) + 1
    assert manifest_rows(sandbox, path)[0]["line_count"] == 3


# -- 3. empty file ----------------------------------------------------------
def test_empty_file_gets_a_manifest_row_and_no_lines(sandbox):
    path = write(sandbox.claude_root / "-home-u-demo" / "agent-a1b2c3d.jsonl", b"")

    result = materialize_raw(sandbox)

    assert result.success and check_passed(result)
    (m,) = manifest_rows(sandbox, path)
    assert (m["file_version"], m["size_bytes"], m["consumed_offset"], m["line_count"]) == (1, 0, 0, 0)
    assert m["consumed_sha256"] == hashlib.sha256(b"").hexdigest()
    assert m["source_deleted_at"] is None and m["superseded_at"] is None
    assert line_rows(sandbox, path) == []


# -- 4. half-written last line ----------------------------------------------
def test_half_written_last_line_waits_for_its_newline(sandbox):
    sandbox.write_config(quiet_seconds=600)
    complete = lines(claude_line(1), claude_line(2, kind="assistant"))
    third = claude_line(3, text="a prompt the agent is still writing")
    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", complete + third[:40])

    first = materialize_raw(sandbox)

    assert first.success and check_passed(first)
    assert [r["line_bytes"] for r in line_rows(sandbox, path)] == [claude_line(1), claude_line(2, kind="assistant")]
    (m,) = manifest_rows(sandbox, path)
    assert m["consumed_offset"] == len(complete)
    assert m["line_count"] == 2
    assert m["size_bytes"] == len(complete) + 40

    append(path, third[40:] + b"\n")
    second = materialize_raw(sandbox)

    assert second.success and check_passed(second)
    rows = line_rows(sandbox, path)
    assert len(rows) == 3
    assert rows[2]["line_bytes"] == third
    assert (rows[2]["line_number"], rows[2]["byte_offset"], rows[2]["ends_with_newline"]) == (3, len(complete), True)
    assert rows[2]["ingest_run_id"] == second.run_id
    assert {r["ingest_run_id"] for r in rows[:2]} == {first.run_id}
    assert_byte_perfect(sandbox, path)


def test_half_written_last_line_is_captured_as_is_once_quiet(sandbox):
    sandbox.write_config(quiet_seconds=600)
    proj = sandbox.claude_root / "-home-u-demo"
    partial = claude_line(2, kind="assistant")[:-25]
    old = write(proj / "old.jsonl", lines(claude_line(1)) + partial)
    age(old, 3600)  # quiet for an hour: captured as it is
    fresh = write(proj / "fresh.jsonl", lines(claude_line(1)) + partial)  # just written: held back

    result = materialize_raw(sandbox)

    assert result.success and check_passed(result)
    old_rows = line_rows(sandbox, old)
    assert [(r["line_bytes"], r["ends_with_newline"]) for r in old_rows] == [(claude_line(1), True), (partial, False)]
    assert_byte_perfect(sandbox, old)
    assert [r["line_bytes"] for r in line_rows(sandbox, fresh)] == [claude_line(1)]


def test_quiet_seconds_zero_captures_the_partial_line_and_later_bytes_start_a_new_row(sandbox):
    sandbox.write_config(quiet_seconds=0)
    head = claude_line(2, kind="assistant")[:30]
    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", lines(claude_line(1)) + head)

    first = materialize_raw(sandbox)

    rows = line_rows(sandbox, path)
    assert [(r["line_bytes"], r["ends_with_newline"]) for r in rows] == [(claude_line(1), True), (head, False)]

    tail = claude_line(2, kind="assistant")[30:]
    append(path, tail + b"\n" + claude_line(3) + b"\n")
    second = materialize_raw(sandbox, raise_on_error=False)

    rows = line_rows(sandbox, path)
    assert [(r["line_bytes"], r["ends_with_newline"], r["ingest_run_id"]) for r in rows] == [
        (claude_line(1), True, first.run_id),
        (head, False, first.run_id),  # the stored partial row is never rewritten
        (tail, True, second.run_id),
        (claude_line(3), True, second.run_id),
    ]
    assert reconstruct(sandbox, path) == path.read_bytes()
    (m,) = manifest_rows(sandbox, path)
    assert (m["line_count"], m["consumed_offset"]) == (4, path.stat().st_size)


def test_check_passes_after_a_quiet_partial_line_is_completed(sandbox):
    sandbox.write_config(quiet_seconds=0)
    record = claude_line(2, kind="assistant")
    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", lines(claude_line(1)) + record[:30])
    assert materialize_raw(sandbox).success
    append(path, record[30:] + b"\n")

    second = materialize_raw(sandbox, raise_on_error=False)

    assert reconstruct(sandbox, path) == path.read_bytes()  # the stored bytes are right...
    assert check_passed(second)  # ...and the check agrees
    assert second.success


# -- 5. incremental ---------------------------------------------------------
def test_appended_lines_only_are_captured_and_an_unchanged_rerun_writes_nothing(sandbox):
    proj = sandbox.claude_root / "-home-u-demo"
    path = write(proj / f"{SESSION}.jsonl", lines(claude_line(1), claude_line(2, kind="assistant"), claude_line(3)))
    other = write(proj / "other.jsonl", lines(claude_line(1, session="other")))

    first = materialize_raw(sandbox)
    before = line_rows(sandbox, path)
    (m1,) = manifest_rows(sandbox, path)

    append(path, lines(claude_line(4, kind="assistant"), claude_line(5)))
    second = materialize_raw(sandbox)

    assert second.success and check_passed(second)
    rows = line_rows(sandbox, path)
    assert rows[:3] == before  # earlier rows untouched, ingest_run_id and ingested_at included
    assert [(r["line_number"], r["ingest_run_id"]) for r in rows[3:]] == [(4, second.run_id), (5, second.run_id)]
    assert_byte_perfect(sandbox, path)
    (m2,) = manifest_rows(sandbox, path)
    assert (m2["file_version"], m2["line_count"], m2["last_ingest_run_id"]) == (1, 5, second.run_id)
    assert m2["first_seen_at"] == m1["first_seen_at"]
    assert manifest_rows(sandbox, other)[0]["last_ingest_run_id"] == first.run_id  # unchanged file not re-read
    assert rows_written(sandbox, second.run_id)["raw/claude_code_lines"] == 2

    third = materialize_raw(sandbox)

    assert third.success
    written = rows_written(sandbox, third.run_id)
    assert set(written) >= {"raw/claude_code_lines", "raw/claude_code_files", "raw/codex_lines", "raw/hook_spool_lines"}
    assert set(written.values()) == {0}
    assert line_rows(sandbox, path) == rows
    assert manifest_rows(sandbox, path) == [m2]
    (dupes,) = query(
        sandbox,
        "SELECT count(*) - count(DISTINCT (path, file_version, byte_offset)), count(*) FILTER (ingest_run_id = ?) "
        "FROM raw.claude_code_lines",
        [third.run_id],
    )
    assert dupes == (0, 0)


# -- 6. rewritten files -----------------------------------------------------
def test_file_rewritten_shorter_becomes_version_2_and_keeps_version_1(sandbox):
    old = lines(claude_line(1), claude_line(2, kind="assistant"), claude_line(3), claude_line(4, kind="assistant"))
    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", old)
    first = materialize_raw(sandbox)

    new = lines(claude_line(1, text="a new conversation"))
    write(path, new)
    second = materialize_raw(sandbox)

    assert second.success and check_passed(second)
    v1, v2 = manifest_rows(sandbox, path)
    assert (v1["file_version"], v1["line_count"], v1["consumed_offset"]) == (1, 4, len(old))
    assert v1["superseded_at"] is not None and v1["last_ingest_run_id"] == second.run_id
    assert (v2["file_version"], v2["line_count"], v2["superseded_at"]) == (2, 1, None)
    assert reconstruct(sandbox, path, version=1) == old
    assert {r["ingest_run_id"] for r in line_rows(sandbox, path, version=1)} == {first.run_id}
    assert_byte_perfect(sandbox, path, version=2)
    assert {r["ingest_run_id"] for r in line_rows(sandbox, path, version=2)} == {second.run_id}


def test_file_rewritten_same_size_with_other_bytes_becomes_version_2(sandbox):
    old = lines(claude_line(1, text="hello"), claude_line(2, kind="assistant"))
    new = lines(claude_line(1, text="HELLO"), claude_line(2, kind="assistant"))
    assert len(old) == len(new)
    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", old)
    materialize_raw(sandbox)

    write(path, new)
    age(path, -5)  # make sure the mtime moved even on a coarse clock
    second = materialize_raw(sandbox)

    assert second.success and check_passed(second)
    v1, v2 = manifest_rows(sandbox, path)
    assert v1["superseded_at"] is not None and v2["superseded_at"] is None
    assert reconstruct(sandbox, path, version=1) == old
    assert_byte_perfect(sandbox, path, version=2)
    assert line_rows(sandbox, path, version=2)[0]["line_bytes"] == claude_line(1, text="HELLO")


# -- 7. deleted and restored ------------------------------------------------
def test_deleted_file_keeps_its_rows_and_a_restore_adds_nothing(sandbox):
    proj = sandbox.claude_root / "-home-u-demo"
    data = lines(claude_line(1), claude_line(2, kind="assistant"))
    path = write(proj / f"{SESSION}.jsonl", data)
    keep = write(proj / "keep.jsonl", lines(claude_line(1, session="keep")))
    first = materialize_raw(sandbox)
    stored = line_rows(sandbox, path)
    (m1,) = manifest_rows(sandbox, path)

    path.unlink()
    second = materialize_raw(sandbox)

    assert second.success and check_passed(second)
    assert line_rows(sandbox, path) == stored
    (m2,) = manifest_rows(sandbox, path)
    assert m2["source_deleted_at"] is not None and m2["last_ingest_run_id"] == second.run_id
    assert manifest_rows(sandbox, keep)[0]["source_deleted_at"] is None

    write(path, data)  # restored from a backup: same bytes, new mtime
    third = materialize_raw(sandbox)

    assert third.success and check_passed(third)
    assert line_rows(sandbox, path) == stored  # no duplicates, no new version
    (m3,) = manifest_rows(sandbox, path)
    assert m3["source_deleted_at"] is None  # capture clears it and continues the same version
    assert (m3["file_version"], m3["line_count"], m3["consumed_offset"]) == (1, 2, len(data))
    assert m3["first_seen_at"] == m1["first_seen_at"] and m3["last_ingest_run_id"] == third.run_id
    assert rows_written(sandbox, third.run_id)["raw/claude_code_lines"] == 0
    assert first.run_id != third.run_id


# -- 8. unreadable file -----------------------------------------------------
def test_unreadable_file_is_skipped_and_its_stored_rows_stay(sandbox, monkeypatch):
    proj = sandbox.claude_root / "-home-u-demo"
    locked = write(proj / "locked.jsonl", lines(claude_line(1, session="locked")))
    fine = write(proj / "fine.jsonl", lines(claude_line(1, session="fine")))
    first = materialize_raw(sandbox)
    stored, (m1,) = line_rows(sandbox, locked), manifest_rows(sandbox, locked)

    append(locked, lines(claude_line(2, kind="assistant", session="locked")))
    append(fine, lines(claude_line(2, kind="assistant", session="fine")))
    new_locked = write(proj / "new-locked.jsonl", lines(claude_line(1, session="new")))
    with monkeypatch.context() as patch:
        patch.setattr(
            "star_pipeline.raw.capture.open", fake_unreadable_open(builtins.open, locked, new_locked), raising=False
        )
        second = materialize_raw(sandbox)

    assert second.success and check_passed(second)
    assert len(line_rows(sandbox, fine)) == 2
    assert line_rows(sandbox, locked) == stored
    # the manifest keeps what was captured and says why the rest was not
    (m2,) = manifest_rows(sandbox, locked)
    assert {k: v for k, v in m2.items() if k not in ("capture_error", "last_ingest_run_id")} == {
        k: v for k, v in m1.items() if k not in ("capture_error", "last_ingest_run_id")}
    assert m2["capture_error"] == "Permission denied"
    (m_new,) = manifest_rows(sandbox, new_locked)
    assert (m_new["consumed_offset"], m_new["line_count"], m_new["capture_error"]) == (0, 0, "Permission denied")
    assert line_rows(sandbox, new_locked) == []
    (materialization,) = [
        m for m in second.asset_materializations_for_node("raw_claude_code") if m.asset_key.path[-1] == "claude_code_files"
    ]
    assert set(materialization.metadata["unreadable_files"].value) == {key(locked), key(new_locked)}
    unreadable = check_evaluation(second).metadata["unreadable"].value
    assert any(key(locked) in problem and "Permission denied" in problem for problem in unreadable)

    third = materialize_raw(sandbox)

    assert third.success and check_passed(third)
    assert_byte_perfect(sandbox, locked)
    assert line_rows(sandbox, locked)[:1] == stored
    assert_byte_perfect(sandbox, new_locked)
    assert first.run_id not in {r["ingest_run_id"] for r in line_rows(sandbox, new_locked)}
    assert [m["capture_error"] for m in manifest_rows(sandbox, locked) + manifest_rows(sandbox, new_locked)] == [None, None]


def test_a_stored_file_that_became_unreadable_does_not_fail_the_next_run(sandbox, monkeypatch):
    proj = sandbox.claude_root / "-home-u-demo"
    locked = write(proj / "locked.jsonl", lines(claude_line(1, session="locked")))
    write(proj / "fine.jsonl", lines(claude_line(1, session="fine")))
    assert materialize_raw(sandbox).success

    fake_open = fake_unreadable_open(builtins.open, locked)  # as a non-root user after `chmod 000 locked.jsonl`
    monkeypatch.setattr("star_pipeline.raw.capture.open", fake_open, raising=False)
    monkeypatch.setattr("star_pipeline.raw.checks.open", fake_open, raising=False)
    second = materialize_raw(sandbox, raise_on_error=False)

    assert second.success
    assert len(line_rows(sandbox, locked)) == 1


def test_a_run_that_died_between_its_two_writes_is_repaired_by_the_next_run(sandbox, monkeypatch):
    from star_pipeline.raw.capture import Capture

    data = lines(claude_line(1), claude_line(2, kind="assistant"))
    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", data)
    with monkeypatch.context() as patch:

        def killed(self):
            raise RuntimeError("the process died between the lines write and the manifest write")

        patch.setattr(Capture, "manifest", killed)
        assert not materialize_raw(sandbox, raise_on_error=False).success
    assert len(line_rows(sandbox, path)) == 2 and manifest_rows(sandbox, path) == []

    second = materialize_raw(sandbox)

    assert second.success and check_passed(second)
    assert_byte_perfect(sandbox, path)  # the same rows, not twice
    assert len(line_rows(sandbox, path)) == 2  # the lines written before the crash were replaced, not repeated
    assert manifest_rows(sandbox, path)[0]["last_ingest_run_id"] == second.run_id


def test_a_run_that_died_between_its_two_writes_loses_no_bytes(sandbox, monkeypatch):
    from star_pipeline.raw.capture import Capture

    sandbox.write_config(quiet_seconds=0)
    record = claude_line(2, kind="assistant")
    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", lines(claude_line(1)) + record[:30])
    with monkeypatch.context() as patch:

        def killed(self):
            raise RuntimeError("the process died between the lines write and the manifest write")

        patch.setattr(Capture, "manifest", killed)
        assert not materialize_raw(sandbox, raise_on_error=False).success
    assert len(line_rows(sandbox, path)) == 2 and manifest_rows(sandbox, path) == []  # lines stored, no manifest
    append(path, record[30:] + b"\n")

    second = materialize_raw(sandbox, raise_on_error=False)

    assert reconstruct(sandbox, path) == path.read_bytes()
    assert check_passed(second)


# -- 9. re-ingest identity --------------------------------------------------
def test_two_warehouses_over_the_same_files_hold_the_same_rows(sandbox, tmp_path):
    proj = sandbox.claude_root / "-home-u-demo"
    main = write(proj / f"{SESSION}.jsonl", lines(claude_line(1), b"\x00" * 7 + claude_line(2, kind="assistant")))
    write(proj / SESSION / "subagents" / "agent-ace643d24f2092e5a.jsonl", lines(claude_line(1, isSidechain=True)) + b"\r\n")
    write(proj / "empty.jsonl", b"")
    write(sandbox.codex_root / "2026" / "01" / "01" / "rollout-a.jsonl", lines(codex_line(1), codex_line(2)))
    write(sandbox.spool_dir / "hook-events-2026-01-01.jsonl", b'{"received_at":"2026-01-01T00:00:00.000000Z","payload":{}}\n')
    materialize_raw(sandbox)
    append(main, lines(claude_line(3)))  # the first warehouse sees the file grow, the second only its final state
    materialize_raw(sandbox)

    other = Sandbox(tmp_path / "second")
    other.root.mkdir()
    other.spool_dir = sandbox.spool_dir
    other.write_config(claude_roots=[sandbox.claude_root], codex_roots=[sandbox.codex_root])
    assert materialize_raw(other).success

    def snapshot(box: Sandbox, table: str, columns: list[str]):
        kept = [c for c in columns if c not in RUN_COLUMNS]
        return query(box, f"SELECT {', '.join(kept)} FROM raw.{table} ORDER BY ALL")

    for source in ("claude_code", "codex", "hook_spool"):
        a_lines = snapshot(sandbox, f"{source}_lines", LINE_COLUMNS)
        assert a_lines, source
        assert a_lines == snapshot(other, f"{source}_lines", LINE_COLUMNS)
        assert snapshot(sandbox, f"{source}_files", MANIFEST_COLUMNS) == snapshot(other, f"{source}_files", MANIFEST_COLUMNS)
    assert sandbox.warehouse != other.warehouse


def test_a_deleted_warehouse_is_rebuilt_by_the_next_run(sandbox):
    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", lines(claude_line(1)))
    assert materialize_raw(sandbox).success
    sandbox.warehouse.unlink()
    Path(f"{sandbox.warehouse}.wal").unlink(missing_ok=True)

    rebuilt = materialize_raw(sandbox, raise_on_error=False)

    assert rebuilt.success
    assert_byte_perfect(sandbox, path)


# -- 10. the raw check ------------------------------------------------------
def test_check_fails_when_a_stored_line_is_corrupted(sandbox):
    path = write(
        sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl",
        lines(claude_line(1), claude_line(2, kind="assistant"), claude_line(3)),
    )
    result = materialize_raw(sandbox)
    assert result.success and check_passed(result)
    assert run_check_only(sandbox).success and check_passed(run_check_only(sandbox))

    conn = duckdb.connect(str(sandbox.warehouse))
    try:  # same length, one byte different: only the content hash can tell
        conn.execute(
            "UPDATE raw.claude_code_lines SET line_bytes = replace(line_bytes::VARCHAR, 'hello', 'jello')::BLOB "
            "WHERE path = ? AND line_number = 2",
            [key(path)],
        )
        assert conn.execute("SELECT count(*) FROM raw.claude_code_lines WHERE line_bytes::VARCHAR LIKE '%jello%'").fetchone()[0] == 1
    finally:
        conn.close()

    alone = run_check_only(sandbox)
    evaluation = check_evaluation(alone)
    assert evaluation.passed is False
    assert key(path) in evaluation.description
    assert evaluation.metadata["warehouse_mismatch"].value
    # a run checks the files it touched: the next line appended to that file brings the corruption to light
    with path.open("ab") as handle:
        handle.write(lines(claude_line(4)))
    again = materialize_raw(sandbox, raise_on_error=False)
    assert check_passed(again) is False
    assert not again.success


def test_check_fails_when_the_disk_no_longer_matches_an_unchanged_looking_file(sandbox):
    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", lines(claude_line(1), claude_line(2)))
    assert materialize_raw(sandbox).success
    st = path.stat()
    path.write_bytes(path.read_bytes().replace(b"hello", b"HELLO"))  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: capture cannot see the change

    evaluation = check_evaluation(run_check_only(sandbox))

    assert evaluation.passed is False
    assert evaluation.metadata["disk_mismatch"].value and key(path) in evaluation.description


# -- 11. permissions --------------------------------------------------------
def test_warehouse_file_is_owner_only(sandbox):
    write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", lines(claude_line(1)))
    old_umask = os.umask(0o022)
    try:
        assert materialize_all(sandbox).success
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(sandbox.warehouse.stat().st_mode) == 0o600
    assert stat.S_IMODE(sandbox.warehouse.parent.stat().st_mode) & 0o077 == 0
    wal = Path(f"{sandbox.warehouse}.wal")
    if wal.exists():
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600


# -- 12. the shared corpus --------------------------------------------------
def test_corpus_rows_match_line_counts_of_every_file(sandbox):
    corpus = corpus_or_skip()
    roots = {"claude_code": corpus / "claude" / "projects", "codex": corpus / "codex" / "sessions"}
    sandbox.write_config(quiet_seconds=0, claude_roots=[roots["claude_code"]], codex_roots=[roots["codex"]])

    result = materialize_all(sandbox)

    assert result.success and check_passed(result) and check_passed(result, "codex")
    for source, root in roots.items():
        files = sorted(root.rglob("*.jsonl"))
        assert files, root
        expected = {key(p): expected_line_count(p.read_bytes()) for p in files}
        stored = dict(query(sandbox, f"SELECT path, count(*) FILTER (WHERE part_number = 1) FROM raw.{source}_lines GROUP BY path"))
        assert {p: stored.get(p, 0) for p in expected} == expected
        assert set(stored) <= set(expected)
        assert sum(stored.values()) == sum(expected.values())
        digests = dict(
            query(sandbox, f"SELECT path, consumed_sha256 FROM raw.{source}_files WHERE consumed_offset = size_bytes")
        )
        assert digests == {key(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


# -- 13. hook spool ---------------------------------------------------------
def test_hook_spool_lines_land_in_raw_hook_spool_lines(sandbox):
    from star_pipeline.agent_side.hook import run_hook

    payloads = [
        {"session_id": SESSION, "transcript_path": "/home/u/.claude/projects/-home-u-demo/x.jsonl", "cwd": "/home/u/demo",
         "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "toolu_01"},
        {"session_id": SESSION, "hook_event_name": "UserPromptSubmit", "prompt": "caf\u00e9 \U0001F600"},
    ]
    for payload in payloads:
        assert run_hook(str(sandbox.spool_dir), stdin=io.BytesIO(json.dumps(payload, indent=2).encode())) == 0
    assert run_hook(str(sandbox.spool_dir), stdin=io.BytesIO(b"not json \xff")) == 0
    (spool,) = sorted(sandbox.spool_dir.glob("hook-events-*.jsonl"))
    (sandbox.spool_dir / "hook-errors.log").write_text("2026-01-01T00:00:00.000000Z OSError: boom\n")

    result = materialize_all(sandbox)

    assert result.success and check_passed(result, "hook_spool")
    rows = assert_byte_perfect(sandbox, spool, source="hook_spool")
    assert len(rows) == 3
    decoded = [json.loads(r["line_bytes"]) for r in rows]
    assert [d.get("payload") for d in decoded[:2]] == payloads
    assert "payload_text" in decoded[2] and all("received_at" in d for d in decoded)
    assert query(sandbox, "SELECT DISTINCT path FROM raw.hook_spool_files") == [(key(spool),)]
    assert query(sandbox, "SELECT count(*) FROM raw.claude_code_lines")[0][0] == 0

    run_hook(str(sandbox.spool_dir), stdin=io.BytesIO(b'{"hook_event_name":"Stop","session_id":"s"}'))
    second = materialize_all(sandbox)
    rows = assert_byte_perfect(sandbox, spool, source="hook_spool")
    assert [r["ingest_run_id"] for r in rows] == [result.run_id] * 3 + [second.run_id]


def test_check_hashes_rows_stored_out_of_offset_order(sandbox, monkeypatch):
    """Table order is usually offset order; when it is not, the check still hashes in offset order."""
    from star_pipeline.raw import checks

    monkeypatch.setattr(checks, "DIGEST_BATCH_ROWS", 2)  # a file's rows span several batches
    path = write(
        sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl",
        lines(*(claude_line(i, kind="assistant" if i % 2 else "user") for i in range(1, 8))),
    )
    assert materialize_raw(sandbox).success
    conn = duckdb.connect(str(sandbox.warehouse))
    try:  # move the first line to the end of the table
        conn.execute("CREATE TEMP TABLE first_line AS SELECT * FROM raw.claude_code_lines WHERE path = ? AND line_number = 1", [key(path)])
        conn.execute("DELETE FROM raw.claude_code_lines WHERE path = ? AND line_number = 1", [key(path)])
        conn.execute("INSERT INTO raw.claude_code_lines SELECT * FROM first_line")
        assert conn.execute("SELECT line_number FROM raw.claude_code_lines ORDER BY rowid DESC LIMIT 1").fetchone()[0] == 1
    finally:
        conn.close()
    assert check_evaluation(run_check_only(sandbox)).passed

    conn = duckdb.connect(str(sandbox.warehouse))
    try:  # swap two lines' bytes: counts and lengths may agree, the hash in offset order cannot
        conn.execute(
            "UPDATE raw.claude_code_lines SET line_bytes = CASE line_number WHEN 2 THEN "
            "(SELECT line_bytes FROM raw.claude_code_lines WHERE path = $1 AND line_number = 4) ELSE "
            "(SELECT line_bytes FROM raw.claude_code_lines WHERE path = $1 AND line_number = 2) END "
            "WHERE path = $1 AND line_number IN (2, 4)",
            [key(path)],
        )
    finally:
        conn.close()
    evaluation = check_evaluation(run_check_only(sandbox))
    assert evaluation.passed is False and key(path) in evaluation.description


# -- 13. names, links and endings the capture must survive ------------------
def test_a_file_name_that_is_not_utf8_is_captured_beside_the_others(sandbox):
    proj = sandbox.claude_root / "-home-u-demo"
    normal = write(proj / f"{SESSION}.jsonl", lines(claude_line(1), claude_line(2, kind="assistant")))
    odd_name = os.fsencode(proj) + b"/\xff\xfe-" + SESSION.encode() + b".jsonl"
    with open(odd_name, "wb") as handle:
        handle.write(lines(claude_line(1, session="odd"), claude_line(2, kind="assistant", session="odd")))

    result = materialize_all(sandbox)

    assert result.success and check_passed(result)
    assert_byte_perfect(sandbox, normal)
    stored = key(proj) + "/\\xff\\xfe-" + SESSION + ".jsonl"  # the undecodable bytes written as \xNN
    (manifest,) = query(sandbox, "SELECT path_bytes, line_count, capture_error FROM raw.claude_code_files WHERE path = ?", [stored])
    assert (bytes(manifest[0]), manifest[1], manifest[2]) == (odd_name, 2, None)
    assert query(sandbox, "SELECT count(*) FROM normalized.normalized_messages WHERE path = ?", [stored]) == [(2,)]
    # a later run reads the file again through its stored bytes: the check of every file opens it
    assert run_check_only(sandbox).get_asset_check_evaluations()[0].passed


def test_a_complete_last_line_without_newline_is_captured_at_once(sandbox):
    sandbox.write_config(quiet_seconds=600)  # a half-written line would wait ten minutes
    record = claude_line(2, kind="assistant")
    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", lines(claude_line(1)) + record)

    first = materialize_raw(sandbox)

    assert first.success and check_passed(first)
    assert [(r["line_bytes"], r["ends_with_newline"]) for r in line_rows(sandbox, path)] == [
        (claude_line(1), True), (record, False)]

    # the agent then writes the newline and the next record: the newline ends the stored line
    append(path, b"\n" + claude_line(3) + b"\n")
    second = materialize_raw(sandbox)

    assert second.success and check_passed(second)
    rows = assert_byte_perfect(sandbox, path)
    assert [(r["line_bytes"], r["ends_with_newline"]) for r in rows] == [
        (claude_line(1), True), (record, True), (claude_line(3), True)]  # no empty row for the newline


def test_a_rewrite_that_keeps_size_and_mtime_is_noticed(sandbox):
    path = write(sandbox.claude_root / "-home-u-demo" / f"{SESSION}.jsonl", lines(claude_line(1), claude_line(2)))
    assert materialize_raw(sandbox).success
    st = path.stat()
    path.write_bytes(path.read_bytes().replace(b"hello", b"HELLO"))  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime; the ctime moved

    result = materialize_raw(sandbox)

    assert result.success and check_passed(result)
    assert [m["file_version"] for m in manifest_rows(sandbox, path)] == [1, 2]
    assert_byte_perfect(sandbox, path, version=2)


def test_links_to_nowhere_link_loops_and_unreadable_folders_are_skipped_and_named(sandbox, monkeypatch, tmp_path):
    proj = sandbox.claude_root / "-home-u-demo"
    good = write(proj / f"{SESSION}.jsonl", lines(claude_line(1)))
    (proj / "gone.jsonl").symlink_to(tmp_path / "missing.jsonl")
    (proj / "loop").symlink_to(proj)
    blocked = proj / "blocked"
    write(blocked / "hidden.jsonl", lines(claude_line(1, session="hidden")))
    elsewhere = write(tmp_path / "elsewhere" / "linked.jsonl", lines(claude_line(1, session="linked")))
    (proj / "linked").symlink_to(elsewhere.parent)
    real_scandir = os.scandir

    def scandir(path="."):  # as a non-root user after `chmod 000 blocked` (root reads any folder)
        if os.fspath(path) == str(blocked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = materialize_raw(sandbox)

    assert result.success and check_passed(result)
    assert_byte_perfect(sandbox, good)
    linked = os.path.join(key(proj), "linked", "linked.jsonl")  # a linked folder is followed, under the link's name
    assert query(sandbox, "SELECT count(*) FROM raw.claude_code_lines WHERE path = ?", [linked]) == [(1,)]
    (materialization,) = [
        m for m in result.asset_materializations_for_node("raw_claude_code") if m.asset_key.path[-1] == "claude_code_files"]
    skipped = "\n".join(materialization.metadata["skipped"].value)
    assert "gone.jsonl: a symbolic link to nothing" in skipped
    assert "loop: a link to a folder already walked" in skipped
    assert "blocked: folder not readable (Permission denied)" in skipped
