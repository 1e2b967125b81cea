"""Aider: `.aider.chat.history.md` in the project folder (its git root), Markdown Aider appends to, captured as
lines (raw/capture.py: a line is any bytes up to a newline, JSON or not). Found in the project folders the
shared scan finds (storage/project_folders.py); `aider_roots` adds folders walked whole. A run starts at
`# aider chat started at <local time>`; one API call per `> Tokens:` line, its counts rounded for display.
../shared/FORMATS-agents2.md section 4, and messages.sql."""

from pathlib import Path

from star_pipeline.sources.source import Source, sessions_scope

AIDER = Source(
    name="aider",
    description="Aider chat histories (<project>/.aider.chat.history.md, found by the project folders' scan).",
    folder=Path(__file__).parent,
    roots_key="aider_roots",
    default_roots=(),
    files=((".aider.chat.history.md", "lines"),),
    project_files=(".aider.chat.history.md",),
    # Markdown, not JSON: a line is a parse error only when it is not UTF-8 text
    unparsed_where="try(decode(r.line_bytes)) IS NULL",
    usage_scope=sessions_scope("aider"),  # a run's calls, from the file's latest version
    report_shape="claude",
    report_note="Aider's token counts are as its history file prints them, rounded for display (2.4k is read as "
                "2,400), and dated at the run's start as written (Aider writes local time without a zone).",
)
