"""`star-pipeline serve` on the warehouse built from ../shared/corpus, opened page by page in headless Chromium
(Debian's, driven by playwright; skipped when either or the corpus is missing): every page loads without a
console error, its figures equal `star-pipeline report --json`'s, its charts are drawn, and a screenshot of each is
saved (in STAR_PIPELINE_SCREENSHOTS when set, else a temporary folder; the path is printed)."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from star_pipeline_tests.reports.test_report import report
from star_pipeline_tests.test_end_to_end import chromium_or_skip, free_port

pytestmark = pytest.mark.slow
STAR_PIPELINE = str(Path(sys.executable).with_name("star-pipeline"))
SUBAGENT_SESSION = "512f6c74-f82f-4adb-9719-4ae90076677c"  # Claude Code 2.1.97, nine subagents
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def as_json(box, *args) -> dict:
    return json.loads(report(box, *args, "--json", "--timezone", "UTC").stdout)


@pytest.fixture(scope="module")
def served(corpus_warehouse, tmp_path_factory):
    """The dashboard of the corpus warehouse, as `star-pipeline serve` starts it; (box, base url, startup seconds)."""
    box, _ = corpus_warehouse
    port = free_port()
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(box.config_path)}
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    started = time.monotonic()
    with open(log, "w") as out:
        server = subprocess.Popen([STAR_PIPELINE, "serve", "--port", str(port), "--timezone", "UTC"], stdout=out,
                                  stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        startup = time.monotonic() - started
        assert server.poll() is None, log.read_text()
        yield box, f"http://127.0.0.1:{port}", startup, log
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(served):
    chromium = chromium_or_skip()
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        # a fresh profile of its own (playwright makes one per launch), no network beyond this machine
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("STAR_PIPELINE_SCREENSHOTS") or tmp_path_factory.mktemp("dashboard-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Visit:
    """A page opened in Chromium, with what its console said."""

    def __init__(self, browser, url: str, screenshot: Path, full_page: bool = True):
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url}"))
        self.response = self.page.goto(url, wait_until="networkidle")
        self.screenshot = screenshot
        self.full_page = full_page

    def value(self, selector: str) -> str:
        return self.page.locator(selector).first.get_attribute("data-value")

    def shoot(self) -> None:
        self.page.screenshot(path=str(self.screenshot), full_page=self.full_page)
        print(f"screenshot: {self.screenshot}")

    def done(self) -> None:
        """The page answered 200 and nothing went wrong in it (also after what the test clicked)."""
        assert self.response.status == 200, self.response.url
        assert self.problems == [], self.problems
        self.page.close()


def test_the_server_starts_fast_and_listens_on_loopback_only(served):
    _, base, startup, log = served
    assert startup < 5, f"started in {startup:.1f} s"
    assert log.read_text().startswith(f"star-pipeline serve: {base}/")
    with urllib.request.urlopen(base + "/") as response:
        assert response.status == 200
    addresses = [line.split()[1] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                 if line.split()[3] == "0A"]  # listening sockets: local address as hex ip:port
    port = f"{int(base.rsplit(':', 1)[1]):04X}"
    assert [a for a in addresses if a.endswith(":" + port)] == ["0100007F:" + port]


def test_overview_shows_the_reports_figures_and_draws_its_charts(served, browser, screenshots):
    box, base, _, _ = served
    visit = Visit(browser, base + "/", screenshots / "overview.png")
    totals = as_json(box, "daily")["totals"]
    assert float(visit.value("#total-cost")) == pytest.approx(totals["totalCost"], abs=1e-9)
    assert int(visit.value("#total-tokens")) == totals["totalTokens"]
    week = as_json(box, "weekly", "--last", "1")["totals"]
    assert float(visit.value("#week-cost")) == pytest.approx(week.get("totalCost", 0.0), abs=1e-9)
    assert as_json(box, "blocks", "--active")["blocks"] == [] and visit.page.locator("#no-block").count() == 1
    for chart in ("chart-cost", "chart-tokens", "chart-weeks", "chart-projects"):
        assert visit.page.locator(f"#{chart} .main-svg").count() > 0, f"{chart} was not drawn"
    top = [row.inner_text() for row in visit.page.locator("#top-projects tbody td.text").all()]
    projects = sorted(as_json(box, "projects")["projects"], key=lambda p: -p["totalCost"])
    assert top == [p["project"] for p in projects][:10]
    visit.shoot()
    visit.done()


def test_projects_page_shows_each_projects_reported_cost(served, browser, screenshots):
    box, base, _, _ = served
    visit = Visit(browser, base + "/projects", screenshots / "projects.png")
    shown = {section.get_attribute("data-project"): section for section in visit.page.locator("section.project").all()}
    projects = as_json(box, "projects")["projects"]
    assert set(shown) == {p["project"] for p in projects}
    costs = {row.locator("td").first.inner_text(): float(row.locator("td[data-value]").get_attribute("data-value"))
             for row in visit.page.locator("#projects tbody tr").all()}
    assert costs == pytest.approx({p["project"]: p["totalCost"] for p in projects}, abs=1e-9)
    assert shown["-home-user-spotter"].locator("table.branches tbody tr").count() >= 2  # two spotter worktrees
    visit.shoot()
    visit.done()


def test_sessions_list_and_a_session_page(served, browser, screenshots):
    box, base, _, _ = served
    visit = Visit(browser, base + "/sessions?sort=cost&order=desc", screenshots / "sessions.png")
    reported = {s["sessionId"]: s["totalCost"] for s in as_json(box, "session")["sessions"]}
    rows = visit.page.locator("#sessions tbody tr").all()
    assert len(rows) == int(visit.value("#session-count")) > 20
    for row in rows:
        session_id = row.get_attribute("data-session").split(":", 1)[1]
        cost = float(row.locator("td[data-value]").get_attribute("data-value"))
        assert cost == pytest.approx(reported.get(session_id, 0.0), abs=1e-9), session_id
    costs = [float(row.locator("td[data-value]").get_attribute("data-value")) for row in rows]
    assert costs == sorted(costs, reverse=True)
    visit.shoot()
    visit.page.locator(f'tr[data-session="claude_code:{SUBAGENT_SESSION}"] a').first.click()
    visit.page.wait_for_load_state("networkidle")
    assert visit.page.url.endswith(f"/sessions/claude_code/{SUBAGENT_SESSION}?tz=UTC")
    visit.done()

    page = Visit(browser, f"{base}/sessions/claude_code/{SUBAGENT_SESSION}", screenshots / "session.png", full_page=False)
    session = as_json(box, "session", "--id", SUBAGENT_SESSION)["sessions"][0]
    assert float(page.value("#session-cost")) == pytest.approx(session["totalCost"], abs=1e-9)
    assert int(page.value("#session-tokens")) == session["totalTokens"]
    assert page.page.locator("#resume").inner_text() == f"claude --resume {SUBAGENT_SESSION}"
    nested = page.page.locator("li.tool_call details.subagent-entries")
    assert nested.count() == 9  # each subagent under the Agent call that started it
    page.shoot()
    nested.first.locator("summary").click()
    assert nested.first.locator("li").first.is_visible()
    nested.first.locator("xpath=ancestor::li[1]").evaluate("node => node.scrollIntoView()")
    page.page.screenshot(path=str(screenshots / "session-subagent.png"))
    api_costs = [float(v) for v in page.page.locator("li.api_call .cost").evaluate_all(
        "nodes => nodes.map(n => n.dataset.value).filter(v => v !== '')")]
    assert sum(api_costs) == pytest.approx(session["totalCost"], abs=1e-6)  # every API call's cost, subagents' too
    page.done()


def test_tools_files_and_search_pages(served, browser, screenshots):
    _, base, _, _ = served
    visit = Visit(browser, base + "/tools", screenshots / "tools.png")
    assert visit.page.locator('#tools tr[data-tool="Bash"]').count() == 1
    assert visit.page.locator("#failures tbody tr").count() > 0
    visit.shoot()
    visit.page.locator("#most-edited a").first.click()
    visit.page.wait_for_load_state("networkidle")
    assert "/files?" in visit.page.url and visit.page.locator("#file-sessions tbody tr").count() >= 1
    visit.done()

    search = Visit(browser, base + "/search?q=waybar+style&mode=lexical", screenshots / "search.png")
    hits = search.page.locator("#hits li")
    assert hits.count() > 0 and search.page.locator("#hits mark").count() > 0
    search.shoot()
    hits.first.locator("a").first.click()
    search.page.wait_for_load_state("networkidle")
    assert "/sessions/" in search.page.url and search.page.locator("#timeline").count() == 1
    search.done()
