"""Gemini CLI: chats under ~/.gemini/tmp/<project>/chats/ (and $GEMINI_DATA_DIR): session-*.json documents
Gemini rewrites whole (kept as pieces, each message apart), session-*.jsonl files it appends to, and
sub-agents' chats in chats/<parent sessionId>/; ../shared/FORMATS-agents.md section 1. The logs.json and
checkpoints/*.json beside the chats are not chats and are not captured."""

from pathlib import Path

from star_pipeline.sources.source import Source, sessions_scope

GEMINI = Source(
    name="gemini",
    description="Gemini CLI chats (~/.gemini/tmp/<project>/chats/*.json and *.jsonl).",
    folder=Path(__file__).parent,
    roots_key="gemini_roots",
    default_roots=("~/.gemini/tmp", "${GEMINI_DATA_DIR}"),
    files=(("*/chats/*.jsonl", "lines"), ("*/chats/*.json", "documents")),
    split=("/messages",),
    unparsed_where="document_json(r.line_bytes) IS NULL",
    usage_scope=sessions_scope("gemini"),  # a reply's last copy counts, whichever file of its session holds it
    report_shape="claude",
)
