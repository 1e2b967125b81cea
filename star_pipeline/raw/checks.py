"""Raw <-> files: the stored lines reproduce the consumed bytes of every file.

For each file version the run touched (all of them when the check runs on its
own), three things must agree:

1. the manifest and the stored rows: line count, consumed bytes, and the
   sha256 of the rows' bytes (with their newlines) in offset order;
2. the manifest and the disk, when the file is still as it was captured
   (same size and mtime): sha256 of the first `consumed_offset` bytes. Within the
   run that captured a file this is skipped while its size and mtime are still the
   manifest's: the capture computed the manifest's sha256 from those very bytes (read
   again, they cost a second pass over every new byte; the check run alone, from the
   UI or the nightly sweep, reads them). (Line
   counts are not compared with the disk: a quiet half-written line and its
   later continuation are two rows, which the disk cannot show.)

A deleted source is allowed (its rows are what is left of it); a file changed
since the capture, or unreadable now, is listed, not failed; so is a file the
capture could not read (`capture_error`, with what was stored of it before).
A long line's parts count as one line and hash as its bytes.
Cost follows the touched files, not the warehouse.

Each machine's rows are checked against its own manifest (a path is unique per
machine); only this machine's (`machine.id`) are compared with the disk, since
the others' files are on their machines.
"""


import hashlib
import os
from typing import TYPE_CHECKING

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    multi_asset_check,
)

from star_pipeline.raw.capture import EMPTY_SHA256, READ_CHUNK_BYTES, mtime_of
from star_pipeline.raw.databases import database_digest, stored_database_digest
from star_pipeline.raw.documents import stored_document
from star_pipeline.raw.asset_keys import files_key, lines_key
from star_pipeline.sources import SOURCES, Source
from star_pipeline.storage.load_log import wrote_in_run
from star_pipeline.storage.resources import WAREHOUSE_POOL, SourceFoldersResource, WarehouseResource
from star_pipeline.storage.warehouse import quote_ident, quote_literal

if TYPE_CHECKING:
    import pyarrow as pa  # imported where a batch is read, not when the definitions load (raw/capture.py says why)

DIGEST_BATCH_ROWS = 8192


PROBLEM_KINDS = ("warehouse_mismatch", "disk_mismatch", "changed_since_capture", "unreadable")


class Tables:
    """One machine's raw tables of a source, as SQL relations, and whether its files are on this machine's disk."""

    def __init__(self, source: Source, machine_id: str, on_disk: bool) -> None:
        machine = quote_literal(machine_id)
        self.lines = f"(SELECT * FROM raw.{quote_ident(source.name + '_lines')} WHERE machine_id = {machine})"
        self.files = f"(SELECT * FROM raw.{quote_ident(source.name + '_files')} WHERE machine_id = {machine})"
        self.on_disk = on_disk
        self.prefix = "" if on_disk else f"[{machine_id}] "


def verify_source(conn, source: Source, run_id: str | None, machine_id: str) -> dict:
    """Compare manifest, stored rows and disk, each file as it was captured (`Source.files`); returns lists
    of problems by kind and the number of files checked. `run_id`: only the files that run touched (this
    machine's); else every machine's, and this machine's (`machine_id`) with its disk."""
    problems: dict = {kind: [] for kind in PROBLEM_KINDS}
    problems["files_checked"] = 0
    files_table = f"raw.{quote_ident(source.name + '_files')}"
    machines = [machine_id] if run_id else sorted(
        {row[0] for row in conn.execute(f"SELECT DISTINCT machine_id FROM {files_table}").fetchall()} | {machine_id},
        key=str)
    for machine in machines:
        tables = Tables(source, machine, on_disk=machine == machine_id)
        for capture, verify in (("lines", verify_lines), ("documents", verify_documents), ("database", verify_databases)):
            if capture in source.captures:
                found = verify(conn, source, run_id, tables)
                for kind in PROBLEM_KINDS:
                    problems[kind] += found[kind]
                problems["files_checked"] += found["files_checked"]
    return problems


def _current_versions(conn, source: Source, run_id: str | None, capture: str, tables: Tables) -> list[tuple]:
    """The manifest's current version of each file captured as `capture` (those `run_id` touched)."""
    files_table = tables.files
    where, params = ("AND f.last_ingest_run_id = ?", [run_id]) if run_id else ("", [])
    rows = conn.execute(
        f"""
        SELECT f.path, f.file_version, f.consumed_sha256, f.size_bytes, f.mtime, f.source_deleted_at IS NOT NULL,
               f.path_bytes, f.capture_error
        FROM {files_table} f WHERE f.superseded_at IS NULL {where} ORDER BY f.path
        """,
        params,
    ).fetchall()
    return [row for row in rows if source.capture_of(row[0]) == capture]


def _compare_with_disk(problems: dict, label: str, disk_path: str, sha: str, size: int, mtime, error, digest_of) -> None:
    """The file on disk against the manifest's digest (`digest_of(path)` computes it now)."""
    try:
        st = os.stat(disk_path)
        disk_sha = digest_of(disk_path)
    except FileNotFoundError:
        return
    except OSError as exc:
        if not error:
            problems["unreadable"].append(f"{label}: {exc.strerror or exc}")
        return
    if disk_sha != sha:
        changed = st.st_size != size or mtime_of(st) != mtime
        if changed:
            problems["changed_since_capture"].append(label)
        else:
            problems["disk_mismatch"].append(f"{label}: the file on disk hashes to {disk_sha[:12]}")


def verify_documents(conn, source: Source, run_id: str | None, tables: Tables) -> dict:
    """Files captured as documents (raw/documents.py): each current version, rebuilt from its latest stored
    skeleton and elements, has the manifest's sha256, and so does the file when unchanged."""
    lines_table = tables.lines

    def stored_sha(path: str, version: int) -> str:
        return hashlib.sha256(stored_document(conn, lines_table, path, version)).hexdigest()

    return _verify_pieces(conn, source, run_id, "documents", stored_sha, lambda p: _hash_prefix(p, os.stat(p).st_size),
                          tables)


def verify_databases(conn, source: Source, run_id: str | None, tables: Tables) -> dict:
    """Files captured as databases (raw/databases.py): the content digest of each current version, rebuilt
    from the latest stored piece at each position, is the manifest's, and so is the database's on disk
    when it has not changed since."""
    return _verify_pieces(conn, source, run_id, "database",
                          lambda path, version: stored_database_digest(conn, tables.lines, path, version),
                          lambda p: database_digest(p, source.database_tables), tables)


def _verify_pieces(conn, source: Source, run_id: str | None, capture: str, stored_sha, disk_sha, tables: Tables) -> dict:
    """The files of one piece capture: `stored_sha(path, version)` rebuilds a version's digest from its pieces
    (ValueError: they do not fit), `disk_sha(path)` computes it from the file now; both must be the manifest's."""
    manifest = _current_versions(conn, source, run_id, capture, tables)
    problems: dict = {kind: [] for kind in PROBLEM_KINDS}
    for path, version, sha, size, mtime, deleted, path_bytes, error in manifest:
        label = f"{tables.prefix}{path}#v{version}"
        if error:
            problems["unreadable"].append(f"{label}: the capture could not read it ({error}); the next run tries again")
        try:
            rebuilt = stored_sha(path, version)
        except ValueError as exc:
            problems["warehouse_mismatch"].append(f"{label}: cannot be rebuilt from its pieces ({exc})")
            continue
        if rebuilt != sha:
            problems["warehouse_mismatch"].append(f"{label}: its stored pieces do not rebuild the manifest's digest")
            continue
        if not deleted and tables.on_disk:
            disk_path = os.fsdecode(bytes(path_bytes)) if path_bytes is not None else path
            _compare_with_disk(problems, label, disk_path, sha, size, mtime, error, disk_sha)
    problems["files_checked"] = len(manifest)
    return problems


def verify_lines(conn, source: Source, run_id: str | None, tables: Tables) -> dict:
    """Files captured as appended lines: every version's stored lines hash to its consumed prefix, and the
    current one's prefix on disk is unchanged."""
    lines_table, files_table = tables.lines, tables.files
    where, params = ("WHERE f.last_ingest_run_id = ?", [run_id]) if run_id else ("", [])
    manifest = conn.execute(
        f"""
        SELECT f.path, f.file_version, f.line_count, f.consumed_offset, f.consumed_sha256, f.size_bytes, f.mtime,
               f.source_deleted_at IS NOT NULL AS deleted, f.superseded_at IS NOT NULL AS superseded,
               f.path_bytes, f.capture_error
        FROM {files_table} f {where}
        ORDER BY f.path, f.file_version
        """,
        params,
    ).fetchall()
    if source.captures != {"lines"}:
        manifest = [row for row in manifest if source.capture_of(row[0]) == "lines"]
        paths_sql, params = "SELECT unnest(?::VARCHAR[])", [sorted({row[0] for row in manifest})]
    else:
        paths_sql = f"SELECT path FROM {files_table} f {where}"
    stored = stored_digests(conn, lines_table, paths_sql, params)
    problems: dict[str, list] = {kind: [] for kind in PROBLEM_KINDS}
    for path, version, line_count, consumed, sha, size, mtime, deleted, superseded, path_bytes, error in manifest:
        label = f"{tables.prefix}{path}#v{version}"
        if error:
            problems["unreadable"].append(f"{label}: the capture could not read it ({error}); the next run tries again")
        n, nbytes, stored_sha = stored.get((path, version), (0, 0, EMPTY_SHA256))
        if n != line_count or nbytes != consumed:
            problems["warehouse_mismatch"].append(f"{label}: manifest {line_count} lines/{consumed} bytes, rows {n}/{nbytes}")
            continue
        if stored_sha != sha:
            problems["warehouse_mismatch"].append(f"{label}: stored rows do not hash to the manifest's consumed_sha256")
            continue
        if deleted or superseded or not tables.on_disk:
            continue
        disk_path = os.fsdecode(bytes(path_bytes)) if path_bytes is not None else path
        try:
            st = os.stat(disk_path)
            if run_id and st.st_size == size and mtime_of(st) == mtime:
                continue  # the run's capture hashed these very bytes moments ago; checked alone, it reads them again
            disk_sha = _hash_prefix(disk_path, consumed)
        except FileNotFoundError:
            continue  # deleted after this run; the next run records it
        except OSError as exc:
            if not error:
                problems["unreadable"].append(f"{label}: {exc.strerror or exc}")
            continue
        if disk_sha == sha:
            continue
        if st.st_size != size or mtime_of(st) != mtime:
            problems["changed_since_capture"].append(label)
        else:
            problems["disk_mismatch"].append(f"{label}: the first {consumed} bytes on disk hash to {disk_sha[:12]}")
    problems["files_checked"] = len(manifest)
    return problems


def stored_digests(conn, lines_table: str, paths_sql: str, params: list) -> dict[tuple[str, int], tuple[int, int, str]]:
    """(line count, bytes with newlines, sha256 of those bytes in offset order) per stored file version.

    A long line's parts are rows of their own, in offset order, the newline after the last:
    they hash as the line's bytes, and count as one line (part 1).

    The rows are streamed in table order as Arrow batches, without an ORDER BY
    (sorting a gigabyte of lines would hold it all in memory). Each line's bytes
    (newline appended in SQL) lie back to back in the batch's data buffer, so a
    file's run of rows is hashed as one slice. Rows are appended in offset
    order, so table order is offset order; a file version whose rows arrive
    out of order is hashed again with its own ordered query.
    """
    select = (
        "SELECT path, file_version, byte_offset, "
        "CASE WHEN ends_with_newline THEN line_bytes || '\\x0A'::BLOB ELSE line_bytes END AS line_with_newline, "
        f"part_number = 1 AS starts_line FROM {lines_table}"
    )
    reader = conn.execute(f"{select} WHERE path IN ({paths_sql})", params).to_arrow_reader(DIGEST_BATCH_ROWS)
    digests: dict[tuple[str, int], list] = {}
    unordered: set[tuple[str, int]] = set()
    for batch in reader:
        _add_batch(batch, digests, unordered)
    for path, version in unordered:
        digests.pop((path, version), None)
        ordered = conn.execute(f"{select} WHERE path = ? AND file_version = ? ORDER BY byte_offset", [path, version])
        for batch in ordered.to_arrow_reader(DIGEST_BATCH_ROWS):
            _add_batch(batch, digests, set())
    return {key: (n, nbytes, hasher.hexdigest()) for key, (n, nbytes, hasher, _last) in digests.items()}


def _add_batch(batch: "pa.RecordBatch", digests: dict, unordered: set) -> None:
    """Fold one batch into the running (count, bytes, hasher, last offset) of each file version."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = batch.num_rows
    if not rows:
        return
    paths, versions, byte_offsets, data, starts_line = (batch.column(i) for i in range(5))
    starts = [0]
    if rows > 1:
        same_file = pc.and_(
            pc.equal(paths.slice(1), paths.slice(0, rows - 1)),
            pc.equal(versions.slice(1), versions.slice(0, rows - 1)),
        )
        backwards = pc.and_(same_file, pc.less_equal(byte_offsets.slice(1), byte_offsets.slice(0, rows - 1)))
        for i in pc.indices_nonzero(backwards).to_pylist():
            unordered.add((paths[i].as_py(), versions[i].as_py()))
        starts += [i + 1 for i in pc.indices_nonzero(pc.invert(same_file)).to_pylist()]
    offsets = pa.Array.from_buffers(
        pa.int64() if pa.types.is_large_binary(data.type) else pa.int32(), rows + 1, [None, data.buffers()[1]],
        offset=data.offset,
    )
    buffer = memoryview(data.buffers()[2]) if data.buffers()[2] is not None else memoryview(b"")
    for first, end in zip(starts, starts[1:] + [rows]):
        key = (paths[first].as_py(), versions[first].as_py())
        entry = digests.setdefault(key, [0, 0, hashlib.sha256(), -1])
        if byte_offsets[first].as_py() <= entry[3]:
            unordered.add(key)
        begin, finish = offsets[first].as_py(), offsets[end].as_py()
        entry[0] += pc.sum(starts_line.slice(first, end - first).cast(pa.int64())).as_py() or 0
        entry[1] += finish - begin
        entry[2].update(buffer[begin:finish])
        entry[3] = byte_offsets[end - 1].as_py()


def _hash_prefix(path: str, length: int) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        remaining = length
        while remaining:
            chunk = handle.read(min(READ_CHUNK_BYTES, remaining))
            if not chunk:
                break
            hasher.update(chunk)
            remaining -= len(chunk)
    return hasher.hexdigest()


def raw_check_spec(source: Source) -> AssetCheckSpec:
    return AssetCheckSpec(
        name=f"{source.name}_lines_match_files",
        asset=lines_key(source),
        blocking=True,
        additional_deps=[files_key(source)],
        description="Stored lines reproduce every touched file's consumed bytes, and those match the disk.",
    )


@multi_asset_check(specs=[raw_check_spec(source) for source in SOURCES], can_subset=True, pool=WAREHOUSE_POOL,
                   name="raw_lines_match_files")
def raw_lines_match_files(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                          source_folders: SourceFoldersResource):
    """Every source's `<source>_lines_match_files` check, each its own check in the UI, evaluated in one step: a
    step per source cost Dagster some 20-40 ms each in every ingest, most of them for agents with nothing new.
    Within a materialization run each checks what that run touched (possibly nothing); run alone, everything."""
    selected = context.selected_asset_check_keys
    with warehouse.connect(derived=False) as conn:
        for source in SOURCES:
            spec = raw_check_spec(source)
            if spec.key not in selected:
                continue
            in_run = wrote_in_run(conn, context.run.run_id, lines_key(source).to_user_string())
            scope = context.run.run_id if in_run else None
            problems = verify_source(conn, source, scope, source_folders.machine_id)
            failed = problems["warehouse_mismatch"] + problems["disk_mismatch"]
            yield AssetCheckResult(
                asset_key=spec.asset_key,
                check_name=spec.name,
                passed=not failed,
                severity=AssetCheckSeverity.ERROR,
                description=(failed[0] if failed else None),
                metadata={
                    "scope": "files touched by this run" if scope else "all files",
                    "files_checked": problems["files_checked"],
                    "warehouse_mismatch": MetadataValue.json(problems["warehouse_mismatch"][:50]),
                    "disk_mismatch": MetadataValue.json(problems["disk_mismatch"][:50]),
                    "changed_since_capture": MetadataValue.json(problems["changed_since_capture"][:50]),
                    "unreadable": MetadataValue.json(problems["unreadable"][:50]),
                },
            )


raw_checks = [raw_lines_match_files]
