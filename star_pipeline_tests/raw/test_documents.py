"""Capture of JSON documents rewritten whole (raw/documents.py), on Amp threads: each version rebuilds
byte for byte from the pieces stored, a rewrite stores only the pieces that changed, a document caught
mid-write waits until it is whole or quiet, and the check notices a stored piece that was altered."""

from __future__ import annotations

import json
import os

import duckdb
import pytest

from star_pipeline.raw.line_parts import PART_BYTES
from star_pipeline.raw.documents import fill_skeleton, split_document, stored_document, unsplit_document
from star_pipeline_tests.builders import amp_file, amp_message, amp_usage, write_amp_thread
from star_pipeline_tests.conftest import build_defs, query

THREAD = "T-019ca1f6-7f21-77b5-a308-65416ebbdf48"


def materialize_amp(sandbox, *, raise_on_error: bool = True):
    """Only Amp's capture assets and raw check."""
    from dagster import AssetCheckKey, AssetKey, DagsterInstance

    job = build_defs(sandbox).resolve_implicit_global_asset_job_def()
    subset = job.get_subset(
        asset_selection={AssetKey(["raw", "amp_lines"]), AssetKey(["raw", "amp_files"])},
        asset_check_selection={AssetCheckKey(AssetKey(["raw", "amp_lines"]), "amp_lines_match_files")},
    )
    return subset.execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=raise_on_error)


def check_of(result):
    return {e.check_name: e for e in result.get_asset_check_evaluations()}["amp_lines_match_files"]


def rebuilt(sandbox, path, version: int) -> bytes:
    conn = duckdb.connect(str(sandbox.warehouse), read_only=True)
    try:
        return stored_document(conn, "raw.amp_lines", os.path.realpath(path), version)
    finally:
        conn.close()


def pieces_of(sandbox, path, version: int) -> list[tuple[int, int]]:
    return query(sandbox, "SELECT line_number, byte_offset FROM raw.amp_lines WHERE path = ? AND file_version = ? "
                          "ORDER BY line_number", [os.path.realpath(path), version])


def conversation(n: int) -> list[dict]:
    """n messages, every second one an assistant reply with usage; text with non-ASCII and escapes."""
    return [amp_message(i, "user", [{"type": "text", "text": f"étape {i}: \"fix\" ☃ \\n"}]) if i % 2 == 0 else
            amp_message(i, "assistant", [{"type": "text", "text": f"done {i}"}], usage=amp_usage(i, 3, 70, 1601, 13248))
            for i in range(n)]


def test_split_and_fill_give_back_the_same_bytes_and_elements_at_their_offsets():
    data = json.dumps({"v": 3, "messages": conversation(3), "usageLedger": {"events": [{"id": "e1"}]},
                       "title": "ünïcode"}, indent=2, ensure_ascii=False).encode()
    document = split_document(data, ("/messages", "/usageLedger/events"))

    assert document is not None and len(document.elements) == 4
    assert fill_skeleton(document.skeleton, [e for _, e in document.elements]) == data
    for offset, element in document.elements:
        assert data[offset:offset + len(element)] == element
        json.loads(element)
    assert json.loads(document.skeleton.replace(b"\x00", b"null"))["messages"] == [None, None, None]
    assert split_document(data[:-3], ("/messages",)) is None  # caught mid-write
    assert split_document(b'{"messages": [1, 2', ("/messages",)) is None
    assert split_document(b"[] []", ()) is None


def test_a_rewrite_stores_only_the_changed_pieces_and_every_version_rebuilds(sandbox):
    path = write_amp_thread(amp_file(sandbox, THREAD), THREAD, conversation(4), v=1)
    os.utime(path, (1, 1))  # quiet
    first = materialize_amp(sandbox)
    assert check_of(first).passed
    v1 = path.read_bytes()
    assert [n for n, _ in pieces_of(sandbox, path, 1)] == [0, 1, 2, 3, 4]  # skeleton and four messages

    write_amp_thread(path, THREAD, conversation(6), v=2)  # two messages more: Amp rewrites the whole file
    os.utime(path, (2, 2))
    second = materialize_amp(sandbox)

    assert check_of(second).passed
    v2 = path.read_bytes()
    stored = pieces_of(sandbox, path, 2)
    assert [n for n, _ in stored] == [0, 5, 6]  # a new skeleton ("v" changed) and the two new messages
    assert all(offset >= 0 for n, offset in stored if n) and v2[stored[1][1]:].startswith(b"{")
    assert rebuilt(sandbox, path, 1) == v1 and rebuilt(sandbox, path, 2) == v2
    assert query(sandbox, "SELECT file_version, line_count, superseded_at IS NULL FROM raw.amp_files ORDER BY 1") == [
        (1, 5, False), (2, 3, True)]

    os.utime(path, (3, 3))  # touched, not changed: no new version
    materialize_amp(sandbox)
    assert query(sandbox, "SELECT count(*) FROM raw.amp_files") == [(2,)]


def test_a_thread_caught_mid_write_waits_and_one_never_finished_is_kept_whole_once_quiet(sandbox):
    whole = json.dumps({"v": 1, "id": THREAD, "messages": conversation(2)}, indent=2).encode()
    path = amp_file(sandbox, THREAD)
    path.parent.mkdir(parents=True)
    path.write_bytes(whole[:-40])  # just written, not finished

    materialize_amp(sandbox)
    assert query(sandbox, "SELECT count(*) FROM raw.amp_lines") == [(0,)]

    os.utime(path, (1, 1))  # quiet for years: it will not be finished; kept as it is, the bytes whole
    assert check_of(materialize_amp(sandbox)).passed
    assert rebuilt(sandbox, path, 1) == whole[:-40]
    assert query(sandbox, "SELECT line_number FROM raw.amp_lines") == [(0,)]

    path.write_bytes(whole)  # finished after all: a new version, split
    assert check_of(materialize_amp(sandbox)).passed
    assert rebuilt(sandbox, path, 2) == whole
    assert [n for n, _ in pieces_of(sandbox, path, 2)] == [0, 1, 2]


def test_the_check_fails_when_a_stored_piece_was_altered(sandbox):
    path = write_amp_thread(amp_file(sandbox, THREAD), THREAD, conversation(2))
    assert check_of(materialize_amp(sandbox)).passed
    conn = duckdb.connect(str(sandbox.warehouse))
    try:
        conn.execute("UPDATE raw.amp_lines SET line_bytes = replace(line_bytes::VARCHAR, 'done', 'gone')::BLOB "
                     "WHERE line_number = 2")
    finally:
        conn.close()
    path.write_bytes(path.read_bytes().replace(b'"v": 1', b'"v": 2'))  # the next version reuses the altered piece

    evaluation = check_of(materialize_amp(sandbox, raise_on_error=False))

    assert evaluation.passed is False
    assert os.path.realpath(path) in evaluation.description


@pytest.mark.parametrize("data", [b"\x00{}", b"not json \x00 at all \x00", b""])
def test_text_that_is_not_json_rebuilds_exactly(data):
    document = unsplit_document(data)
    assert fill_skeleton(document.skeleton, [e for _, e in document.elements]) == data


def test_an_element_longer_than_a_part_is_stored_in_parts_and_rebuilds(sandbox):
    messages = conversation(2)
    messages[0]["content"][0]["text"] = "ü" * 150_000  # 900 KB once escaped as \u00fc
    path = write_amp_thread(amp_file(sandbox, THREAD), THREAD, messages)

    assert check_of(materialize_amp(sandbox)).passed

    assert rebuilt(sandbox, path, 1) == path.read_bytes()
    (parts, longest), = query(sandbox, "SELECT max(part_count), max(byte_length) FROM raw.amp_lines WHERE line_number = 1")
    assert parts > 1 and longest <= PART_BYTES
