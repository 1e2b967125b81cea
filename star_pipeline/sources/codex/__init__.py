"""OpenAI Codex: rollouts under ~/.codex/sessions and archived_sessions (and the same under $CODEX_HOME).

The envelope format and the legacy one; FORMATS.md (../shared) describes the records.
"""

from pathlib import Path

from star_pipeline.sources.source import Source, sessions_scope

CODEX = Source(
    name="codex",
    description="OpenAI Codex CLI rollouts (sessions/ and archived_sessions/), envelope and legacy formats.",
    folder=Path(__file__).parent,
    roots_key="codex_roots",
    default_roots=("~/.codex/sessions", "~/.codex/archived_sessions", "${CODEX_HOME}/sessions",
                   "${CODEX_HOME}/archived_sessions"),
    usage_scope=sessions_scope("codex", column="session_id"),  # a session's calls come from its longest copy
    report_shape="codex",
    resume_command="codex resume {id}",
)
