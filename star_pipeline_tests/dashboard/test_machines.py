"""The dashboard's machine filter over a team warehouse (two machines: reports/test_machines.py's `team`):
kept in the URL like the source and project filters, it narrows every figure to one machine's sessions."""

import duckdb
import pytest
from starlette.testclient import TestClient

from star_pipeline.dashboard import pages
from star_pipeline.dashboard.app import create_app
from star_pipeline.reports.reader import READER_CONFIG
from star_pipeline.storage.warehouse import load_extension
from star_pipeline.storage.published_copies import published_copy_path, search_copy_path
from star_pipeline_tests.reports import test_machines as two_machines
from star_pipeline_tests.reports.test_machines import S1, S2, S3

team = two_machines.team  # the fixture: the warehouse of laptop-a and laptop-b


@pytest.fixture
def copies(team):
    reports = duckdb.connect(str(published_copy_path(team.warehouse)), read_only=True, config=READER_CONFIG)
    history = duckdb.connect(str(search_copy_path(team.warehouse)), read_only=True, config=READER_CONFIG)
    load_extension(history, "fts")
    reports.execute("SET TimeZone = 'UTC'")
    yield reports, history
    reports.close()
    history.close()


def test_the_machine_filter_narrows_the_figures_and_the_sessions(copies):
    reports, history = copies
    assert pages.machines(reports) == ["laptop-a", "laptop-b"]  # laptop-a has more calls
    assert pages.overview(reports, pages.Filters(timezone="UTC"))["total"]["tokens"] == 5885
    assert pages.overview(reports, pages.Filters(machine="laptop-b", timezone="UTC"))["total"]["tokens"] == 5500
    assert pages.overview(reports, pages.Filters(machine="laptop-a", timezone="UTC"))["total"]["tokens"] == 385
    listed = pages.sessions(history, pages.Filters(machine="laptop-a"), None)
    assert sorted((s["session_id"], s["machine"]) for s in listed["sessions"]) == [(S1, "laptop-a"), (S3, "laptop-a")]
    hits = pages.search_hits(history, "fix the failing test", "lexical", pages.Filters(machine="laptop-b"), None)
    assert [h["session_id"] for h in hits] == [S2]


def test_the_machine_filter_is_kept_in_every_link(team):
    client = TestClient(create_app(team.warehouse, timezone="UTC"), base_url="http://127.0.0.1")
    html = client.get("/sessions?machine=laptop-b").text
    assert f"/sessions/claude_code/{S2}" in html and S1 not in html and S3 not in html
    assert '<option value="laptop-b" selected>' in html and '<option value="laptop-a">' in html
    assert 'href="/projects?machine=laptop-b' in html and 'href="/tools?machine=laptop-b' in html
    for path in ("/", "/projects", "/tools", "/search?q=failing"):
        response = client.get(path + ("&" if "?" in path else "?") + "machine=laptop-b")
        assert response.status_code == 200, (path, response.text[-800:])
    unknown = client.get("/?machine=laptop-c")
    assert unknown.status_code == 400 and "laptop-c" in unknown.text
