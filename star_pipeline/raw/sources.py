"""The three raw sources and where their files are."""

from __future__ import annotations

from dataclasses import dataclass

from dagster import AssetKey


@dataclass(frozen=True)
class RawSource:
    name: str  # also the `source` column value and the table prefix
    description: str
    file_pattern: str
    roots_field: str  # attribute of SourceFoldersResource holding the roots

    @property
    def lines_key(self) -> AssetKey:
        return AssetKey(["raw", f"{self.name}_lines"])

    @property
    def files_key(self) -> AssetKey:
        return AssetKey(["raw", f"{self.name}_files"])

    def roots(self, folders) -> list[str]:
        value = getattr(folders, self.roots_field)
        return [value] if isinstance(value, str) else list(value)


CLAUDE_CODE = RawSource(
    name="claude_code",
    description="Claude Code session transcripts: main sessions, 2.0 agent files, 2.1 subagents/ and compaction files.",
    file_pattern="*.jsonl",
    roots_field="claude_code_roots",
)
CODEX = RawSource(
    name="codex",
    description="OpenAI Codex CLI rollouts (sessions/ and archived_sessions/), envelope and legacy formats.",
    file_pattern="*.jsonl",
    roots_field="codex_roots",
)
HOOK_SPOOL = RawSource(
    name="hook_spool",
    description="Hook events spooled by `star-pipeline hook`, one {received_at, payload} JSON line each.",
    file_pattern="*.jsonl",
    roots_field="hook_spool_dir",
)
RAW_SOURCES = (CLAUDE_CODE, CODEX, HOOK_SPOOL)
