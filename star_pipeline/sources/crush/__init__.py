"""Crush (charmbracelet): an SQLite database per project, `<project>/.crush/crush.db` with its write-ahead log
(most rows live only in `crush.db-wal`: both are read, from a private copy, raw/databases.py), kept as one
piece per row of its sessions and messages (never its `files` table: whole source files, where committed
credentials sit). Found in the project folders the shared scan finds (storage/project_folders.py) and in the
data folders Crush's own index lists (`~/.local/share/crush/projects.json`). A session row keeps only the
LAST call's tokens and a running cost: ../shared/FORMATS-agents2.md section 2, and usage.sql."""

import json
import os
from pathlib import Path

from star_pipeline.sources.source import Source, sessions_scope


def listed_data_folders(roots: list[str]) -> list[str]:
    """The project data folders (`data_dir`) Crush's `projects.json` lists, in each root that holds one. A file that
    cannot be read or is not that shape lists none (the project folders' scan still finds the projects)."""
    folders = []
    for root in roots:
        try:
            with open(os.path.join(os.path.expanduser(root), "projects.json"), encoding="utf-8") as handle:
                listing = json.load(handle)
        except (OSError, ValueError):
            continue
        projects = listing.get("projects") if isinstance(listing, dict) else None
        for project in projects if isinstance(projects, list) else []:
            data_dir = project.get("data_dir") if isinstance(project, dict) else None
            if isinstance(data_dir, str) and os.path.isabs(data_dir):
                folders.append(data_dir)
    return folders


CRUSH = Source(
    name="crush",
    description="Crush sessions (<project>/.crush/crush.db, found by the project folders' scan and "
                "~/.local/share/crush/projects.json).",
    folder=Path(__file__).parent,
    roots_key="crush_roots",
    default_roots=("~/.local/share/crush", "${XDG_DATA_HOME}/crush"),
    files=(("crush.db", "database"),),
    database_tables=("sessions", "messages"),
    project_files=(".crush/crush.db",),
    listed_folders=listed_data_folders,
    unparsed_where="document_json(r.line_bytes) IS NULL",
    usage_scope=sessions_scope("crush"),  # a session's one row: its last stored copy
    report_shape="claude",
    report_note="Crush keeps no per-call usage: its rows are each session's tokens as stored, those of the session's "
                "LAST call only (Crush overwrites them after every call), and the session's whole cost as Crush "
                "recorded it, on the day the session was last updated.",
)
