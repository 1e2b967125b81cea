"""The registry of agent sources: every layer iterates `SOURCES`.

Adding an agent is a folder beside these (its `Source` in `__init__.py`, its SQL)
and one line here; see docs/development.md, "Add an agent".
"""

from star_pipeline.sources.aider import AIDER
from star_pipeline.sources.amp import AMP
from star_pipeline.sources.claude_code import CLAUDE_CODE
from star_pipeline.sources.cline import CLINE, KILO, ROO
from star_pipeline.sources.codex import CODEX
from star_pipeline.sources.copilot import COPILOT
from star_pipeline.sources.crush import CRUSH
from star_pipeline.sources.droid import DROID
from star_pipeline.sources.gemini import GEMINI
from star_pipeline.sources.goose import GOOSE
from star_pipeline.sources.hook_spool import HOOK_SPOOL
from star_pipeline.sources.kimi import KIMI
from star_pipeline.sources.opencode import OPENCODE
from star_pipeline.sources.pi import PI
from star_pipeline.sources.qwen import QWEN
from star_pipeline.sources.source import Source

SOURCES: tuple[Source, ...] = (CLAUDE_CODE, CODEX, HOOK_SPOOL, QWEN, KIMI, COPILOT, AMP, GEMINI, DROID, OPENCODE, GOOSE,
                               CLINE, ROO, KILO, PI, CRUSH, AIDER)


def with_messages() -> tuple[Source, ...]:
    """The sources whose lines are transcript messages (and API calls)."""
    return tuple(s for s in SOURCES if s.has_messages)


def project_markers() -> tuple[str, ...]:
    """The project files of every source that writes into project folders: what makes a folder a project folder
    (storage/project_folders.py)."""
    return tuple(sorted({pattern for s in SOURCES for pattern in s.project_files}))


def by_name(name: str) -> Source:
    for source in SOURCES:
        if source.name == name:
            return source
    raise KeyError(f"no source {name!r}; the sources are {', '.join(s.name for s in SOURCES)}")
