"""Claude Code: session transcripts under ~/.claude/projects (and $CLAUDE_CONFIG_DIR/projects).

Main sessions, 2.0 `agent-*.jsonl` files, 2.1 `subagents/` and compaction files, and
1.0.x inline sidechains; FORMATS.md (../shared) describes the records.
"""

from pathlib import Path

from star_pipeline.sources.source import Source

MESSAGES = "normalized.normalized_messages"


def usage_scope(paths: list[str] | None) -> tuple[dict[str, str], str | None]:
    """The calls (message ids) named in the files with new messages, and every line of those files."""
    from star_pipeline.storage.warehouse import paths_in

    if paths is None:
        return {"scope": "TRUE", "files": "TRUE"}, None
    if not paths:
        return {"scope": "FALSE", "files": "path IN (SELECT path FROM claude_calls)"}, None
    scope = (f"(m.message_id IN (SELECT x.message_id FROM {MESSAGES} x WHERE x.source = 'claude_code' "
             f"AND {paths_in('x.path', paths)}) OR {paths_in('m.path', paths)})")
    return {"scope": scope, "files": "path IN (SELECT path FROM claude_calls)"}, None


CLAUDE_CODE = Source(
    name="claude_code",
    description="Claude Code session transcripts: main sessions, 2.0 agent files, 2.1 subagents/ and compaction files.",
    folder=Path(__file__).parent,
    roots_key="claude_code_roots",
    default_roots=("~/.claude/projects", "~/.config/claude/projects", "${CLAUDE_CONFIG_DIR}/projects"),
    usage_scope=usage_scope,
    report_shape="claude",
    resume_command="claude --resume {id}",
)
