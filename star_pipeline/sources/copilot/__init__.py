"""GitHub Copilot CLI under ~/.copilot (and $COPILOT_HOME): session-state/<uuid>/events.jsonl (appended),
beside it workspace.yaml and vscode.metadata.json (rewritten whole) and session.db (SQLite: todos); the
Dec 2025 flat session-state/<uuid>.jsonl; the Oct 2025 history-session-state/session_<uuid>_<ms>.json
documents (chat messages and timeline, no usage).

Usage per process run at session.shutdown, compactions apart; ../shared/FORMATS-agents.md section 2.
"""

from pathlib import Path

from star_pipeline.sources.source import Source, sessions_scope

COPILOT = Source(
    name="copilot",
    description="GitHub Copilot CLI sessions (~/.copilot/session-state/<uuid>/, flat <uuid>.jsonl, history-session-state/).",
    folder=Path(__file__).parent,
    roots_key="copilot_roots",
    default_roots=("~/.copilot", "${COPILOT_HOME}"),
    files=(("session-state/*.jsonl", "lines"), ("session-state/*/workspace.yaml", "documents"),
           ("session-state/*/vscode.metadata.json", "documents"), ("session-state/*/session.db", "database"),
           ("history-session-state/session_*.json", "documents")),
    split=("/chatMessages", "/timeline"),
    database_tables=("todos", "todo_deps", "inbox_entries"),
    # workspace.yaml is YAML, kept whole and read with patterns: not a parse error
    unparsed_where="document_json(r.line_bytes) IS NULL AND r.path NOT LIKE '%/workspace.yaml'",
    usage_scope=sessions_scope("copilot"),  # a compaction is booked to its session's model
    report_shape="claude",
)
