"""Goose: ~/.local/share/goose/sessions/sessions.db (macOS ~/Library/Application Support/goose/sessions, and
$GOOSE_PATH_ROOT), an SQLite database Goose updates in place, kept as one piece per row of its sessions and
messages. Tokens are a running total per session; ../shared/FORMATS-agents.md section 8. The .jsonl
sessions of older Goose versions are not read."""

from pathlib import Path

from star_pipeline.sources.source import Source, sessions_scope

GOOSE = Source(
    name="goose",
    description="Goose sessions (~/.local/share/goose/sessions/sessions.db).",
    folder=Path(__file__).parent,
    roots_key="goose_roots",
    default_roots=("~/.local/share/goose/sessions", "~/Library/Application Support/goose/sessions", "${GOOSE_PATH_ROOT}"),
    files=(("sessions.db", "database"),),
    database_tables=("sessions", "messages"),
    unparsed_where="document_json(r.line_bytes) IS NULL",
    usage_scope=sessions_scope("goose"),  # a session's total: its row's last stored copy
    report_shape="claude",
)
