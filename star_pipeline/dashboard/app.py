"""The dashboard's web app: a Starlette app rendering Jinja2 templates on the server.

Every page is whole HTML with its figures in it (a page reads without JavaScript); the charts are Plotly
figures drawn by plotly.js, served from the installed `plotly` package like the page's own CSS and script:
nothing is fetched from elsewhere, and the Content-Security-Policy says so to the browser. Filters (dates, source,
project, machine, time zone) live in the URL, so a view can be bookmarked and every link keeps them.
"""

from __future__ import annotations

import datetime
import importlib.util
import time
import zoneinfo
from pathlib import Path
from urllib.parse import quote, urlencode

import duckdb
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from star_pipeline.dashboard import figures, pages
from star_pipeline.dashboard.copies import CopyMissingError, PublishedCopies
from star_pipeline.reports.report import ReportError, system_timezone
from star_pipeline.search.query import SearchError, highlight
from star_pipeline.sources import with_messages
from star_pipeline.storage.published_copies import publication_note

HERE = Path(__file__).parent
STATIC = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]
SECURITY_HEADERS = {
    # scripts only from this server (plotly.js and ours); plotly sets inline styles, so styles may be inline
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'self'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
}


def plotly_js() -> Path:
    """plotly.js as the installed plotly package ships it (plotly/package_data/plotly.min.js)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the plotly package is not installed: `pip install -e .` installs it")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


def create_app(warehouse_path: Path | str, allowed_hosts: list[str] | None = None, timezone: str | None = None,
               team: bool = False) -> Starlette:
    """The dashboard over the published copies named after `warehouse_path` (the published anchor: config's
    Settings.published_anchor). `allowed_hosts`: the Host headers answered (the loopback names unless the server
    listens on the network), which keeps other web sites' pages from reading it through a name that resolves to
    127.0.0.1. `team` (a lake): the header says who published the copies and how long ago."""
    copies = PublishedCopies(warehouse_path)
    default_timezone = timezone or system_timezone()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(money=money, tokens=tokens, short_tokens=short_tokens, percent=percent,
                                 duration=duration)
    sources = [s.name for s in with_messages()]
    js = plotly_js()

    def filters_of(request: Request) -> pages.Filters:
        q = request.query_params
        filters = pages.Filters(q.get("since") or None, q.get("until") or None, q.get("source") or None,
                                q.get("project") or None, q.get("tz") or default_timezone, q.get("machine") or None)
        filters.check()
        try:
            zoneinfo.ZoneInfo(filters.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise pages.PageError(f"tz {filters.timezone!r}: not a time zone name (e.g. UTC, Europe/Berlin)") from None
        return filters

    def render(request: Request, template: str, filters: pages.Filters | None, started: float, status: int = 200,
               **context) -> Response:
        zone = zoneinfo.ZoneInfo(filters.timezone if filters else default_timezone)

        def when(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
            if value is None:
                return ""
            if isinstance(value, str):
                value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return value.astimezone(zone).strftime(fmt)

        def link(url_path: str, /, **params) -> str:
            """`url_path` with the current filters and `params` (None drops one) in its query string."""
            query = {**(filters.as_query() if filters else {}), **params}
            query = {k: v for k, v in query.items() if v is not None and v != ""}
            return url_path + ("?" + urlencode(query) if query else "")

        published = copies.published_at("reports")
        team_note = None
        try:
            reports = copies.reports()
            machines = pages.machines(reports)
            team_note = publication_note(reports) if team else None
        except (CopyMissingError, duckdb.Error):  # nothing published yet (the error page says so): no choices
            machines = []
        if filters and filters.machine and filters.machine not in machines:
            machines.append(filters.machine)
        response = templates.TemplateResponse(request, template, {
            "filters": filters, "sources": sources, "machines": machines, "when": when, "link": link,
            "session_url": lambda source, session_id: link(f"/sessions/{quote(source, safe='')}/{quote(session_id, safe='')}"),
            "published": datetime.datetime.fromtimestamp(published, zoneinfo.ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC")
            if published else None, "team_note": team_note,
            "active": template.split(".")[0], **context}, status_code=status)
        response.headers["Server-Timing"] = f"render;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    def page(template: str, build):
        """A route whose `build(request, filters)` returns the template's context; bad input is a 400 page that
        says what to pass (404 for a session that is not there), a missing copy a 503 page that says how to
        make it. Starlette runs it in its thread pool (DuckDB queries block)."""
        def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            filters = None
            try:
                filters = filters_of(request)
                return render(request, template, filters, started, **build(request, filters))
            except CopyMissingError as exc:
                return render(request, "error.html", filters, started, status=503, title="Nothing published yet",
                              message=str(exc))
            except (ReportError, SearchError) as exc:  # PageError is a ReportError
                return render(request, "error.html", filters, started,
                              status=404 if isinstance(exc, pages.NotFoundError) else 400,
                              title="Cannot show this", message=str(exc))
        return endpoint

    def overview(request: Request, filters: pages.Filters) -> dict:
        stack = request.query_params.get("stack") or "model"
        data = pages.overview(copies.reports(), filters, stack)
        data["budgets"] = pages.budgets_panel(copies.warehouse_path, copies.reports())
        return {"data": data, "figures": {
            "cost_per_day": figures.per_day(data["per_day"], "cost"),
            "tokens_per_day": figures.per_day(data["per_day"], "tokens"),
            "weeks": figures.weeks(data["week_days"]), "top_projects": figures.top_projects(data["top_projects"])}}

    def projects(request: Request, filters: pages.Filters) -> dict:
        return {"data": pages.projects(copies.reports(), copies.search(), filters)}

    def sessions(request: Request, filters: pages.Filters) -> dict:
        q = request.query_params
        ids = pages.project_ids(copies.reports(), filters)
        return {"data": pages.sessions(copies.search(), filters, ids, q.get("sort") or "start", q.get("order") or "desc",
                                       _int(q.get("page"), "page"))}

    def session(request: Request, filters: pages.Filters) -> dict:
        params = request.path_params
        return {"data": pages.session_detail(copies.search(), params["source"], params["session_id"],
                                             _int(request.query_params.get("page"), "page"))}

    def tools(request: Request, filters: pages.Filters) -> dict:
        ids = pages.project_ids(copies.reports(), filters)
        return {"data": pages.tools_and_files(copies.search(), filters, ids)}

    def files(request: Request, filters: pages.Filters) -> dict:
        ids = pages.project_ids(copies.reports(), filters)
        return {"data": pages.file_sessions(copies.search(), request.query_params.get("path") or "", filters, ids)}

    def search(request: Request, filters: pages.Filters) -> dict:
        q = request.query_params
        query, mode = (q.get("q") or "").strip(), q.get("mode") or "hybrid"
        hits = None
        if query:
            ids = pages.project_ids(copies.reports(), filters)
            hits = pages.search_hits(copies.search(), query, mode, filters, ids)
            for hit in hits:  # the query's words marked, the rest escaped (the template marks it safe)
                hit["snippet_html"] = _marked(hit["snippet"], query)
        return {"query": query, "mode": mode, "hits": hits}

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "plotly.min.js":
            return FileResponse(js, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})
        if name not in STATIC:
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(HERE / "static" / name, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    routes = [
        Route("/", page("overview.html", overview)),
        Route("/projects", page("projects.html", projects)),
        Route("/sessions", page("sessions.html", sessions)),
        Route("/sessions/{source}/{session_id:path}", page("session.html", session)),  # an id may hold a slash
        Route("/tools", page("tools.html", tools)),
        Route("/files", page("file.html", files)),
        Route("/search", page("search.html", search)),
        Route("/static/{name}", static),
    ]
    app = Starlette(routes=routes, middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or LOOPBACK_HOSTS),
        Middleware(SecurityHeaders)])
    app.state.copies = copies
    return app


class SecurityHeaders(BaseHTTPMiddleware):
    """SECURITY_HEADERS on every response (a route may set its own Cache-Control)."""

    async def dispatch(self, request: Request, call_next) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def _int(value: str | None, name: str) -> int:
    if value in (None, ""):
        return 1
    if not value.isdigit():
        raise pages.PageError(f"{name} {value!r}: use a whole number")
    return int(value)


def _marked(text: str, query: str) -> str:
    """`text` HTML-escaped, with the query's words in <mark>."""
    from markupsafe import escape

    marked = highlight(text, query, "\x01", "\x02")
    return str(escape(marked)).replace("\x01", "<mark>").replace("\x02", "</mark>")


def money(value) -> str:
    return "$0.00" if value is None else f"${value:,.2f}"


def tokens(value) -> str:
    return "0" if value is None else f"{int(value):,}"


def short_tokens(value) -> str:
    value = int(value or 0)
    for size, unit in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return str(value)


def percent(value) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def duration(ms) -> str:
    if ms is None:
        return ""
    if ms < 1000:
        return f"{int(ms)} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"
