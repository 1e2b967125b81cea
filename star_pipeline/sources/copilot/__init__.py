"""GitHub Copilot CLI: session-state/<uuid>/events.jsonl under ~/.copilot (and $COPILOT_HOME).

Usage per process run at session.shutdown, compactions apart; ../shared/FORMATS-agents.md section 2.
The session folder's workspace.yaml, vscode.metadata.json and session.db, and the Oct 2025
history-session-state/*.json files (no usage) are not captured yet.
"""

from pathlib import Path

from star_pipeline.sources.source import Source, sessions_scope

COPILOT = Source(
    name="copilot",
    description="GitHub Copilot CLI sessions (~/.copilot/session-state/<uuid>/events.jsonl, and flat <uuid>.jsonl).",
    folder=Path(__file__).parent,
    roots_key="copilot_roots",
    default_roots=("~/.copilot/session-state", "${COPILOT_HOME}/session-state"),
    usage_scope=sessions_scope("copilot"),  # a compaction is booked to its session's model
    report_shape="claude",
)
