"""Raw <-> files: the stored lines reproduce the consumed bytes of every file.

For each file version the run touched (all of them when the check runs on its
own), three things must agree:

1. the manifest and the stored rows: line count, consumed bytes, and the
   sha256 of the rows' bytes (with their newlines) in offset order;
2. the manifest and the disk, when the file is still as it was captured
   (same size and mtime): sha256 of the first `consumed_offset` bytes. (Line
   counts are not compared with the disk: a quiet half-written line and its
   later continuation are two rows, which the disk cannot show.)

A deleted source is allowed (its rows are what is left of it); a file changed
since the capture, or unreadable now, is listed, not failed.
Cost follows the touched files, not the warehouse.
"""


import hashlib
import os

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from star_pipeline.raw.capture import READ_CHUNK_BYTES, mtime_of
from star_pipeline.raw.sources import RAW_SOURCES, RawSource
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource
from star_pipeline.storage.warehouse import quote_ident


def verify_source(conn, source: RawSource, run_id: str | None) -> dict:
    """Compare manifest, stored rows and disk; returns lists of problems by kind."""
    lines_table = f"raw.{quote_ident(source.lines_key.path[1])}"
    files_table = f"raw.{quote_ident(source.files_key.path[1])}"
    where, params = ("WHERE f.last_ingest_run_id = ?", [run_id]) if run_id else ("", [])
    rows = conn.execute(
        f"""
        SELECT f.path, f.file_version, f.line_count, f.consumed_offset, f.consumed_sha256, f.size_bytes, f.mtime,
               f.source_deleted_at IS NOT NULL AS deleted, f.superseded_at IS NOT NULL AS superseded,
               coalesce(l.n, 0), coalesce(l.bytes, 0)
        FROM {files_table} f
        LEFT JOIN (
            SELECT path, file_version, count(*) AS n, sum(byte_length + CAST(ends_with_newline AS INTEGER)) AS bytes
            FROM {lines_table}
            WHERE path IN (SELECT path FROM {files_table} f {where})
            GROUP BY ALL
        ) l USING (path, file_version)
        {where}
        ORDER BY f.path, f.file_version
        """,
        params + params,
    ).fetchall()
    problems: dict[str, list] = {"warehouse_mismatch": [], "disk_mismatch": [], "changed_since_capture": [], "unreadable": []}
    for path, version, line_count, consumed, sha, size, mtime, deleted, superseded, n, nbytes in rows:
        label = f"{path}#v{version}"
        if n != line_count or nbytes != consumed:
            problems["warehouse_mismatch"].append(f"{label}: manifest {line_count} lines/{consumed} bytes, rows {n}/{nbytes}")
            continue
        hasher = hashlib.sha256()
        cursor = conn.execute(
            f"SELECT line_bytes, ends_with_newline FROM {lines_table} WHERE path = ? AND file_version = ? ORDER BY byte_offset",
            [path, version],
        )
        while batch := cursor.fetchmany(2048):
            for data, newline in batch:
                hasher.update(data)
                if newline:
                    hasher.update(b"\n")
        if hasher.hexdigest() != sha:
            problems["warehouse_mismatch"].append(f"{label}: stored rows do not hash to the manifest's consumed_sha256")
            continue
        if deleted or superseded:
            continue
        try:
            st = os.stat(path)
            disk_sha = _hash_prefix(path, consumed)
        except FileNotFoundError:
            continue  # deleted after this run; the next run records it
        except OSError as exc:
            problems["unreadable"].append(f"{label}: {exc.strerror or exc}")
            continue
        if disk_sha == sha:
            continue
        if st.st_size != size or mtime_of(st) != mtime:
            problems["changed_since_capture"].append(label)
        else:
            problems["disk_mismatch"].append(f"{label}: the first {consumed} bytes on disk hash to {disk_sha[:12]}")
    problems["files_checked"] = len(rows)
    return problems


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


def build_raw_check(source: RawSource):
    @asset_check(
        asset=source.lines_key,
        name=f"{source.name}_lines_match_files",
        blocking=True,
        pool=WAREHOUSE_POOL,
        additional_deps=[source.files_key],
        description="Stored lines reproduce every touched file's consumed bytes, and those match the disk.",
    )
    def raw_lines_match_files(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
        # Within a materialization run, check what that run touched; run alone, check everything.
        with warehouse.connect() as conn:
            touched = conn.execute(
                f"SELECT count(*) FROM raw.{quote_ident(source.files_key.path[1])} WHERE last_ingest_run_id = ?",
                [context.run.run_id],
            ).fetchone()[0]
            scope = context.run.run_id if touched else None
            problems = verify_source(conn, source, scope)
        failed = problems["warehouse_mismatch"] + problems["disk_mismatch"]
        return AssetCheckResult(
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

    return raw_lines_match_files


raw_checks = [build_raw_check(source) for source in RAW_SOURCES]
