"""OpenAI Codex: rollouts under ~/.codex/sessions and archived_sessions (and the same under $CODEX_HOME).

The envelope format and the legacy one; FORMATS.md (../shared) describes the records.
"""

from pathlib import Path

from star_pipeline.sources.source import Source

MESSAGES = "normalized.normalized_messages"


def usage_scope(paths: list[str] | None) -> tuple[dict[str, str], str | None]:
    """The sessions of the files with new messages. A session's calls come from its longest copy, which
    can change: its old rows go first."""
    from star_pipeline.storage.warehouse import paths_in

    if paths is None:
        return {"scope": "TRUE"}, None
    if not paths:
        return {"scope": "FALSE"}, None
    sessions = f"(SELECT x.session_id FROM {MESSAGES} x WHERE x.source = 'codex' AND {paths_in('x.path', paths)})"
    return {"scope": f"session_id IN {sessions}"}, f"source = 'codex' AND session_id IN {sessions}"


CODEX = Source(
    name="codex",
    description="OpenAI Codex CLI rollouts (sessions/ and archived_sessions/), envelope and legacy formats.",
    folder=Path(__file__).parent,
    roots_key="codex_roots",
    default_roots=("~/.codex/sessions", "~/.codex/archived_sessions", "${CODEX_HOME}/sessions",
                   "${CODEX_HOME}/archived_sessions"),
    usage_scope=usage_scope,
    report_shape="codex",
)
