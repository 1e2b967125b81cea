"""Amp: threads ~/.local/share/amp/threads/T-<uuid>.json (and $AMP_DATA_DIR/threads), JSON documents Amp
rewrites whole; kept as pieces, messages and usage-ledger events apart; ../shared/FORMATS-agents.md section 4."""

from pathlib import Path

from star_pipeline.sources.source import Source, sessions_scope

AMP = Source(
    name="amp",
    description="Amp threads (~/.local/share/amp/threads/T-*.json), JSON documents rewritten whole.",
    folder=Path(__file__).parent,
    roots_key="amp_roots",
    default_roots=("~/.local/share/amp/threads", "${AMP_DATA_DIR}/threads"),
    files=(("T-*.json", "documents"),),
    split=("/messages", "/usageLedger/events"),
    unparsed_where="document_json(r.line_bytes) IS NULL",
    usage_scope=sessions_scope("amp"),  # a thread's calls: its last copy of each message and event
    report_shape="claude",
)
