"""Raw capture assets: one multi-asset per source writes `raw.<source>_lines`
(append-only; a line is identified by path, file_version, byte_offset) and
`raw.<source>_files` (the manifest, upserted by machine_id, path and file_version).
Every row carries the machine that captured it (`machine.id`): each machine reads,
and recovers, only its own rows.

The lines output is an Arrow record batch reader that reads the files while
the I/O manager streams it into the table; the manifest output is yielded
after it and so knows what was consumed. If a run dies between the two
writes, the next run first deletes the lines its manifest never recorded
(`drop_rows_beyond_manifest`), then reads those bytes again.
"""


from datetime import datetime, timezone

from dagster import AssetExecutionContext, AssetOut, MetadataValue, Output, multi_asset

from star_pipeline.raw.asset_keys import files_key, lines_key
from star_pipeline.raw.capture import (
    MANIFEST_KEY,
    Capture,
    claim_unowned_rows,
    PieceCapture,
    discover_source_files,
    drop_rows_beyond_manifest,
    load_manifest,
    stored_signatures,
)
from star_pipeline.raw.tables import FILES_DOC, LINES_DOC, ensure_raw_tables
from star_pipeline.sources import SOURCES, Source, project_markers
from star_pipeline.storage.project_folders import ProjectScan, project_folders
from star_pipeline.storage.resources import WAREHOUSE_POOL, SourceFoldersResource, WarehouseResource
from star_pipeline.storage.table_docs import table_metadata
from star_pipeline.storage.table_writes import ArrowRows
from star_pipeline.storage.warehouse import capture_lock, quote_ident, retry_on_conflict


def build_raw_capture_asset(source: Source):
    lines_out = lines_key(source).to_python_identifier()
    files_out = files_key(source).to_python_identifier()

    @multi_asset(
        name=f"raw_{source.name}",
        outs={
            lines_out: AssetOut(
                key=lines_key(source),
                group_name="raw",
                description=f"Every line of every file: {source.description}",
                # streamed append without a key check: the capture reads each byte once, and
                # rows left by a run that died before its manifest write are deleted first.
                metadata={"write_mode": "append", **table_metadata(LINES_DOC)},
                kinds={"duckdb"},
            ),
            files_out: AssetOut(
                key=files_key(source),
                group_name="raw",
                description=f"File manifest (size, mtime, consumed offset and sha256, deletions): {source.description}",
                metadata={"write_mode": "upsert", "key_columns": MANIFEST_KEY, **table_metadata(FILES_DOC)},
                kinds={"duckdb"},
            ),
        },
        pool=WAREHOUSE_POOL,
        can_subset=False,
    )
    def raw_capture(context: AssetExecutionContext, warehouse: WarehouseResource, source_folders: SourceFoldersResource):
        # on a DuckLake, one process of this machine captures this source at a time, from the recovery of a died
        # run's lines to the manifest write (storage/warehouse/lake_engine.py, capture_lock)
        with capture_lock(warehouse.lake(), source_folders.machine_id, source.name, warehouse.lock_timeout_seconds):
            yield from capture_steps(context, warehouse, source_folders)

    def capture_steps(context: AssetExecutionContext, warehouse: WarehouseResource, source_folders: SourceFoldersResource):
        lines_table = f"raw.{quote_ident(source.name + '_lines')}"
        files_table = f"raw.{quote_ident(source.name + '_files')}"
        machine = source_folders.machine_id

        def prepare():
            # on a DuckLake several machines capture at once: a new source's tables made by two of them, or a
            # recovery's delete beside another's insert, conflict at commit and are tried again
            # (storage/warehouse/lake_engine.py)
            with warehouse.connect(derived=False) as conn:
                ensure_raw_tables(conn, [source])
                if claim_unowned_rows(conn, lines_table, files_table, machine):
                    context.log.info(f"{source.name}: rows stored before machine ids existed now belong to {machine}")
                dropped = drop_rows_beyond_manifest(conn, lines_table, files_table, machine)
                if dropped:
                    context.log.warning(
                        f"{source.name}: deleted {dropped} stored lines that no manifest row covers (left by a run "
                        "that died between its two writes); their bytes are read again now."
                    )
                return (load_manifest(conn, files_table, machine),
                        stored_signatures(conn, lines_table, machine) if source.captures != {"lines"} else None)

        previous, stored = retry_on_conflict(prepare, log=context.log.warning)
        roots = source_folders.roots[source.name]
        folders = []
        if source.project_files:
            scan = ProjectScan.of(source_folders.project_roots, source_folders.project_scan_depth,
                                  source_folders.warehouse_path)
            folders = project_folders(scan, project_markers())
            context.log.info(f"{source.name}: {len(folders)} project folders (storage/project_folders.py)")
        found = discover_source_files(source, roots, folders)
        missing_roots = found.missing_roots
        if missing_roots:
            context.log.info(f"{source.name}: these folders do not exist (nothing to ingest there): {missing_roots}")
        for skipped in found.skipped:
            context.log.warning(f"{source.name}: skipped {skipped}")
        context.log.info(f"{source.name}: {len(found.files)} files on disk, {len(previous)} known to the warehouse")
        run = dict(
            source=source.name,
            files_on_disk=found.files,
            previous=previous,
            run_id=context.run.run_id,
            now=datetime.now(timezone.utc),
            quiet_seconds=source_folders.partial_line_quiet_seconds,
            log=context.log,
            lines_table=lines_table,
            machine_id=machine,
        )
        if source.captures != {"lines"}:
            capture = PieceCapture(pointers=source.split, tables=source.database_tables, stored=stored, **run)
        else:
            capture = Capture(**run)
        yield Output(capture.lines(), output_name=lines_out)
        stats = capture.stats
        context.log.info(
            f"{source.name}: read {stats.files_read} files ({stats.files_new} new, {stats.files_rewritten} rewritten, "
            f"{stats.files_deleted} deleted), captured {stats.lines_captured} lines / {stats.bytes_captured} bytes, "
            f"held back {stats.lines_held_back} half-written last lines"
        )
        yield Output(
            ArrowRows(capture.manifest(), after_write=capture.after_manifest()),
            output_name=files_out,
            metadata={
                "roots": MetadataValue.json(roots),
                "missing_roots": MetadataValue.json(missing_roots),
                "files_on_disk": stats.files_seen,
                "files_read": stats.files_read,
                "files_new": stats.files_new,
                "files_rewritten": stats.files_rewritten,
                "files_deleted": stats.files_deleted,
                "lines_captured": stats.lines_captured,
                "bytes_captured": stats.bytes_captured,
                "lines_held_back": stats.lines_held_back,
                "unreadable_files": MetadataValue.json(capture.unreadable),
                "skipped": MetadataValue.json(found.skipped),
            },
        )

    return raw_capture


raw_capture_assets = [build_raw_capture_asset(source) for source in SOURCES]
