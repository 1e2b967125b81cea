"""OpenCode: ~/.local/share/opencode/opencode.db (and $OPENCODE_DATA_DIR), an SQLite database OpenCode
updates in place, kept as one piece per row of its sessions, messages, parts, projects and todos (never
its accounts and credentials, nor its event log, which repeats the messages); and the JSON files of
OpenCode before 1.2 (storage/session, storage/message, storage/part), rewritten whole.
../shared/FORMATS-agents.md section 3."""

from pathlib import Path

from star_pipeline.sources.source import Source, sessions_scope

OPENCODE = Source(
    name="opencode",
    description="OpenCode sessions (~/.local/share/opencode/opencode.db, and storage/ JSON files before 1.2).",
    folder=Path(__file__).parent,
    roots_key="opencode_roots",
    default_roots=("~/.local/share/opencode", "${OPENCODE_DATA_DIR}"),
    files=(("opencode*.db", "database"), ("storage/session/*/ses_*.json", "documents"),
           ("storage/message/*/msg_*.json", "documents"), ("storage/part/*/prt_*.json", "documents")),
    database_tables=("project", "session", "message", "part", "todo", "session_message"),
    unparsed_where="document_json(r.line_bytes) IS NULL",
    usage_scope=sessions_scope("opencode"),  # a message's last copy, the database's before a legacy file's
    report_shape="claude",
)
