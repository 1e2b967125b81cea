"""Factory Droid: ~/.factory/sessions/<cwd slug>/<id>.jsonl (appended) and <id>.settings.json, rewritten in
place with the session's running token total (and $DROID_SESSIONS_DIR); ../shared/FORMATS-agents.md section 7."""

from pathlib import Path

from star_pipeline.sources.source import Source, sessions_scope

DROID = Source(
    name="droid",
    description="Factory Droid sessions (~/.factory/sessions/<slug>/<id>.jsonl and <id>.settings.json).",
    folder=Path(__file__).parent,
    roots_key="droid_roots",
    default_roots=("~/.factory/sessions", "${DROID_SESSIONS_DIR}"),
    files=(("*.jsonl", "lines"), ("*.settings.json", "documents")),
    unparsed_where="document_json(r.line_bytes) IS NULL",
    usage_scope=sessions_scope("droid"),  # a session's total: its settings file's last version
    report_shape="claude",
)
