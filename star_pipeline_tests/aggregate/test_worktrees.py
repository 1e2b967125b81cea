"""Worktrees count under their repository: session_projects.sql (the warehouse) and brief_files (the SessionStart
brief, standard library only) fold a working directory the same way."""

from pathlib import Path

import duckdb
import pytest

from star_pipeline.storage.brief_files import project_candidates
from star_pipeline.storage.sql_files import render_sql

SESSION_PROJECTS = Path(__file__).parents[2] / "star_pipeline" / "aggregate" / "session_projects.sql"
FOLDED = {
    "/home/u/alpha": "/home/u/alpha",
    "/home/u/alpha/.claude/worktrees/feature-x": "/home/u/alpha",  # Claude Code's own worktrees
    "/home/u/alpha/.claude/worktrees/feature-x/src": "/home/u/alpha",
    "/home/u/alpha/.worktrees/fix": "/home/u/alpha",
    "/home/USER/projects/spotter-worktrees/spotter-dov": "/home/USER/projects/spotter",  # a sibling folder of worktrees
    "/home/u/alpha.worktrees/fix/lib": "/home/u/alpha",
    "/home/u/worktrees-notes": "/home/u/worktrees-notes",  # not a worktree
}


@pytest.fixture(scope="module")
def folded_by_sql() -> dict:
    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA normalized")
    conn.execute("CREATE TABLE normalized.normalized_sessions (source VARCHAR, session_id VARCHAR, file_kind VARCHAR, "
                 "project_cwd VARCHAR, first_event_ts TIMESTAMPTZ, last_event_ts TIMESTAMPTZ, "
                 "git_repository_url VARCHAR, git_branch VARCHAR, machine_id VARCHAR)")
    conn.executemany("INSERT INTO normalized.normalized_sessions VALUES ('claude_code', ?, 'main', ?, NULL, NULL, NULL, NULL, "
                     "'laptop')",
                     [[cwd, cwd] for cwd in FOLDED])
    sql = render_sql(SESSION_PROJECTS, {"pipeline_version": "test"})
    return dict(conn.execute(f"SELECT session_id, project_id FROM ({sql})").fetchall())


@pytest.mark.parametrize("cwd", FOLDED)
def test_a_worktree_counts_under_its_repository_in_the_warehouse_and_the_brief(folded_by_sql, cwd):
    assert folded_by_sql[cwd] == FOLDED[cwd]
    assert project_candidates(cwd)[0] == FOLDED[cwd]
