"""Our own hook spool: one {received_at, payload} JSON line per Claude Code hook event, written by
`star-pipeline hook` (star_pipeline/agent_side/hook.py) into the configured folder."""

from pathlib import Path

from star_pipeline.sources.source import Source

HOOK_SPOOL = Source(
    name="hook_spool",
    description="Hook events spooled by `star-pipeline hook`, one {received_at, payload} JSON line each.",
    folder=Path(__file__).parent,
    roots_key="hook_spool_dir",
    single_root=True,
    has_messages=False,
    has_hook_events=True,
    unparsed_where="transcript_json(r.line_bytes) IS NULL "
    "OR try(json_type(transcript_json(r.line_bytes), '$.payload')) IS DISTINCT FROM 'OBJECT'",
    parse_error_reasons=(
        ("json_valid(text) AND coalesce(try(json_exists(text, '$.payload_text')), FALSE)",
         "hook payload was not JSON (kept as text in the spool)"),
        ("json_valid(text)", "spool line without a payload object"),
    ),
)
