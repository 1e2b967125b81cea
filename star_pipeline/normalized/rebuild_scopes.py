"""What an incremental run of a table built from normalized_messages recomputes: its groups in the
changed files (the engine is storage/watermarks.py).

Each `<table>_scope(changed)` gives the placeholders of the table's SQL file (TRUE everywhere
on a full build, `changed` None) and the rows to delete besides those whose key comes back.
Usage is scoped by each source (`Source.usage_scope`, star_pipeline/sources/).
"""

from __future__ import annotations

from star_pipeline.storage.watermarks import files_in

MESSAGES = "normalized.normalized_messages"


def sessions_scope(changed: dict[str, list[str]] | None) -> tuple[dict[str, str], str | None]:
    if changed is None:
        return {"session_scope": "TRUE"}, None
    return {"session_scope": f"session_key IN (SELECT x.session_key FROM {MESSAGES} x WHERE {files_in(changed, 'x')})"}, None


def call_ids_named_in(files: str) -> str:
    """SELECT of the tool call ids (calls and results) in the messages matching `files` (SQL on alias `x`)."""
    return f"SELECT unnest(list_transform(x.tool_blocks, t -> t.call_id)) FROM {MESSAGES} x WHERE len(x.tool_blocks) > 0 AND {files}"


def tool_calls_scope(changed: dict[str, list[str]] | None) -> tuple[dict[str, str], str | None]:
    if changed is None:
        return {"call_scope": "TRUE", "call_files": "TRUE"}, None
    call_ids = call_ids_named_in(files_in(changed, "x"))
    return {"call_scope": f"b.call_id IN ({call_ids})", "call_files": "path IN (SELECT path FROM blocks_in_scope)"}, None


def session_links_scope(changed: dict[str, list[str]] | None) -> tuple[dict[str, str], str | None]:
    """The sessions of the changed files, and those sharing a uuid with them (a uuid's owner, the
    session where it first appears, can change) or naming one as a summary leaf. Their links are
    computed again from all their records, so their stored links go first."""
    if changed is None:
        return {"session_scope": "TRUE", "uuid_scope": "TRUE", "uuid_files": "TRUE"}, None
    new_uuids = f"SELECT x.uuid FROM {MESSAGES} x WHERE x.uuid IS NOT NULL AND {files_in(changed, 'x')}"
    sessions = (
        f"(SELECT x.session_key FROM {MESSAGES} x WHERE {files_in(changed, 'x')} "
        f"UNION SELECT y.session_key FROM {MESSAGES} y WHERE y.uuid IN ({new_uuids}) "
        f"UNION SELECT y.session_key FROM {MESSAGES} y WHERE y.record_type = 'summary' AND y.leaf_uuid IN ({new_uuids}))"
    )
    placeholders = {
        "session_scope": f"session_key IN {sessions}",
        "uuid_scope": "uuid IN (SELECT uuid FROM keyed UNION SELECT leaf_uuid FROM keyed WHERE record_type = 'summary')",
        "uuid_files": "path IN (SELECT path FROM uuid_rows)",
    }
    return placeholders, f"from_session_key IN {sessions}"
