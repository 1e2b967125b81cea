"""Qwen Code: chats under ~/.qwen/projects/<cwd slug>/chats/<sessionId>.jsonl (and $QWEN_DATA_DIR/projects).

Append-only lines with inclusive token counts; every API call logged again by ui_telemetry
lines; ../shared/FORMATS-agents.md section 5.
"""

from pathlib import Path

from star_pipeline.sources.source import Source, sessions_scope

QWEN = Source(
    name="qwen",
    description="Qwen Code chats (~/.qwen/projects/<cwd slug>/chats/*.jsonl), with their ui_telemetry lines.",
    folder=Path(__file__).parent,
    roots_key="qwen_roots",
    default_roots=("~/.qwen/projects", "${QWEN_DATA_DIR}/projects"),
    usage_scope=sessions_scope("qwen"),  # a call logged twice counts once per session
    report_shape="claude",
)
