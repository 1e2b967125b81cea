"""Kimi CLI: sessions under ~/.kimi/sessions/<md5 of the work dir>/<sessionId>/ (and $KIMI_DATA_DIR/sessions).

wire.jsonl (events, usage per StatusUpdate, sub-agents nested) and context*.jsonl;
../shared/FORMATS-agents.md section 6.
"""

from pathlib import Path

from star_pipeline.sources.source import Source, sessions_scope


KIMI = Source(
    name="kimi",
    description="Kimi CLI sessions (~/.kimi/sessions/<md5>/<id>/wire.jsonl and context*.jsonl).",
    folder=Path(__file__).parent,
    roots_key="kimi_roots",
    default_roots=("~/.kimi/sessions", "${KIMI_DATA_DIR}/sessions"),
    usage_scope=sessions_scope("kimi"),  # a message_id counts once per session
    report_shape="claude",
)
