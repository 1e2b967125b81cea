"""pi (badlogic's pi-mono coding agent) and OpenClaw, which writes the same session format: one JSONL file per
session, appended, under ~/.pi/agent/sessions/--<cwd>--/ ($PI_CODING_AGENT_DIR/sessions) and
~/.openclaw/agents/<agent>/sessions/; ../shared/FORMATS-agents2.md section 3."""

from pathlib import Path

from star_pipeline.sources.source import Source, sessions_scope

PI = Source(
    name="pi",
    description="pi and OpenClaw sessions (~/.pi/agent/sessions/--<cwd>--/*.jsonl, ~/.openclaw/agents/*/sessions/*.jsonl).",
    folder=Path(__file__).parent,
    roots_key="pi_roots",
    default_roots=("~/.pi/agent/sessions", "${PI_CODING_AGENT_DIR}/sessions", "~/.openclaw/agents"),
    files=(("*/sessions/*.jsonl", "lines"),),
    usage_scope=sessions_scope("pi"),  # an assistant entry counts once per session
    report_shape="claude",
)
