"""`star-pipeline search QUERY`: the messages of past sessions that match, best first, one hit per session.

Modes: `lexical` ranks by BM25 over the texts' words (storage/search_words.py: letters and digits in any
script, each Chinese or Japanese character a word; English stemmed; accents and case folded); `semantic`
by cosine similarity between the query's embedding and each text's (storage/embeddings.py); `hybrid` (default) fuses both rankings by reciprocal rank (1/(60 + rank),
summed), so a hit either finds ranks well. Each session appears once, with its best message. Texts are
masked before they reach the copy: a secret never appears in a hit.
"""

from __future__ import annotations

import datetime
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from star_pipeline.reports.reader import READER_CONFIG
from star_pipeline.reports.report import parse_date as report_date
from star_pipeline.sources import by_name
from star_pipeline.storage.warehouse import load_extension
from star_pipeline.storage.published_copies import publication_note, search_copy_path
from star_pipeline.storage.search_words import words_sql

MODES = ("lexical", "semantic", "hybrid")
RRF_K = 60
SNIPPET_CHARS = 200


class SearchError(ValueError):
    """Bad search arguments, or no search copy yet; the message says what to do."""


@dataclass(frozen=True)
class SearchOptions:
    query: str
    as_json: bool = False
    limit: int = 10
    mode: str = "hybrid"
    project: str | None = None
    source: str | None = None
    since: str | None = None
    until: str | None = None
    machine: str | None = None  # one machine's sessions (its machine.id)


def parse_date(value: str | None, flag: str) -> str | None:
    return report_date(value, flag, SearchError)


def _filters(options: SearchOptions) -> tuple[str, list]:
    where, params = ["TRUE"], []
    if options.source:
        where.append("d.source = ?")
        params.append(options.source)
    if options.machine:
        where.append("d.machine = ?")
        params.append(options.machine)
    if options.project:
        where.append("(d.project = ? OR d.project LIKE '%/' || ?)")
        params += [options.project.rstrip("/"), options.project.rstrip("/")]
    for value, flag, op in ((options.since, "--since", ">="), (options.until, "--until", "<=")):
        day = parse_date(value, flag)
        if day:
            where.append(f"CAST(d.event_ts AT TIME ZONE 'UTC' AS DATE) {op} CAST(? AS DATE)")
            params.append(day)
    return " AND ".join(where), params


def _ranked(conn, sql: str, params: list) -> list[int]:
    return [row[0] for row in conn.execute(sql, params).fetchall()]


def _lexical(conn, query: str, where: str, params: list, pool: int) -> list[int]:
    """Documents by BM25 (k1 1.2, b 0.75, Lucene's idf) from the postings of the query's own terms, its words
    made as the texts' were (storage/search_words.py)."""
    terms = conn.execute(f"""
        SELECT t.termid, t.df FROM terms t
        WHERE t.term IN (SELECT term FROM ({words_sql('q', '0 AS k', '(SELECT CAST(? AS VARCHAR) AS q)')}))""",
        [query]).fetchall()
    if not terms:
        return []
    documents, average = conn.execute("SELECT documents, average_words FROM search_meta").fetchone()
    # the term ids are integers read above, written as constants so the sorted postings are skipped by range
    constants = ", ".join(str(int(termid)) for termid, _df in terms)
    return _ranked(conn, f"""
        SELECT doc_id FROM (
            SELECT p.doc_id,
                   sum(ln((? - q.df + 0.5) / (q.df + 0.5) + 1) * p.tf * 2.2 / (p.tf + 1.2 * (0.25 + 0.75 * d.words / ?))) AS score
            FROM (SELECT * FROM postings WHERE termid IN ({constants})) p
            JOIN (SELECT unnest(CAST(? AS INTEGER[])) AS termid, unnest(CAST(? AS BIGINT[])) AS df) q USING (termid)
            JOIN documents d ON d.doc_id = p.doc_id
            WHERE {where}
            GROUP BY p.doc_id)
        ORDER BY score DESC, doc_id LIMIT ?""",
        [documents, average, [t for t, _ in terms], [df for _, df in terms], *params, pool])


def _semantic(conn, query: str, where: str, params: list, pool: int) -> list[int]:
    """Documents by cosine similarity of their vector with the query's (the copy's model)."""
    from star_pipeline.storage.embeddings import embed

    setting, dimensions = conn.execute("SELECT model_setting, dimensions FROM search_meta").fetchone()
    if dimensions is None:  # nothing embedded yet
        return []
    vector = [float(x) for x in embed(setting, [query])[0]]
    filtered = "" if where == "TRUE" else f"JOIN documents d USING (doc_id) WHERE {where}"
    return _ranked(conn, f"""
        SELECT doc_id FROM vectors v {filtered}
        ORDER BY array_cosine_similarity(v.vector, CAST(? AS FLOAT[{int(dimensions)}])) DESC, doc_id LIMIT ?""",
        [*params, vector, pool])


def search(conn, options: SearchOptions) -> list[dict]:
    """The hits of `options` in an open search copy: best first, one per session."""
    where, params = _filters(options)
    pool = max(options.limit * 20, 200)  # candidates per ranking, before one hit per session is kept
    lists: list[list[int]] = []
    if options.mode in ("lexical", "hybrid"):
        lists.append(_lexical(conn, options.query, where, params, pool))
    if options.mode in ("semantic", "hybrid"):
        lists.append(_semantic(conn, options.query, where, params, pool))
    candidates = sorted({doc_id for ranking in lists for doc_id in ranking})
    if not candidates:
        return []
    rows = {row[0]: row for row in conn.execute(
        "SELECT doc_id, source, session_id, project, event_ts, role, text, machine FROM documents WHERE doc_id IN "
        "(SELECT unnest(CAST(? AS BIGINT[])))", [candidates]).fetchall()}
    # A hit is a session: each ranking becomes a ranking of sessions (by their best message in it), and those
    # are fused, so a session that both rankings find, by different messages, rises as it should. The
    # session's message shown is its best in the first ranking that has it (words before meaning).
    scores: dict[tuple[str, str], float] = {}
    best: dict[tuple[str, str], int] = {}
    for ranking in lists:
        ranked: list[tuple[str, str]] = []
        for doc_id in ranking:
            session = (rows[doc_id][1], rows[doc_id][2])
            if session not in ranked:
                ranked.append(session)
                best.setdefault(session, doc_id)
        for rank, session in enumerate(ranked, start=1):
            scores[session] = scores.get(session, 0.0) + 1.0 / (RRF_K + rank)
    hits = []
    for session in sorted(scores, key=lambda key: (-scores[key], best[key]))[: options.limit]:
        doc_id, source, session_id, project, event_ts, role, text, machine = rows[best[session]]
        hits.append({
            "session_id": session_id, "source": source, "project": project, "machine": machine,
            "timestamp": event_ts.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z") if event_ts else None,
            "role": role, "snippet": snippet(text or "", options.query), "score": round(scores[session], 6),
            "resume": resume_command(source, session_id),
        })
    return hits


def resume_command(source: str, session_id: str) -> str | None:
    """The command that resumes the session, for the agents that have one (Source.resume_command)."""
    try:
        return by_name(source).resume(session_id)
    except KeyError:
        return None


def _terms(query: str) -> list[str]:
    return [t for t in re.findall(r"\w+", query.lower()) if len(t) > 1]


def snippet(text: str, query: str) -> str:
    """About SNIPPET_CHARS of `text` on one line, around the first place a query word starts."""
    flat = " ".join(text.split())
    lower = flat.lower()
    starts = [i for i in (lower.find(t[: max(3, len(t) - 2)]) for t in _terms(query)) if i >= 0]
    start = max(0, min(starts) - SNIPPET_CHARS // 3) if starts else 0
    piece = flat[start:start + SNIPPET_CHARS]
    return ("…" if start > 0 else "") + piece + ("…" if start + SNIPPET_CHARS < len(flat) else "")


def highlight(text: str, query: str, on: str, off: str) -> str:
    """`text` with each word that starts like a query word between `on` and `off`."""
    stems = sorted({t[: max(3, len(t) - 2)] for t in _terms(query)}, key=len, reverse=True)
    if not stems:
        return text
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, stems)) + r")\w*", re.IGNORECASE)
    return pattern.sub(lambda m: on + m.group(0) + off, text)


def open_search_copy(warehouse_path: Path) -> duckdb.DuckDBPyConnection:
    copy = search_copy_path(warehouse_path)
    if not copy.exists():
        raise SearchError(f"{copy}: no search index yet. Build the warehouse first: `star-pipeline build` "
                          "(or materialize the aggregate assets in dagster dev); the index is published after each rebuild.")
    conn = duckdb.connect(str(copy), read_only=True, config=READER_CONFIG)
    load_extension(conn, "fts")
    return conn


def run_search(options: SearchOptions, warehouse_path: Path, out=None, err=None, team: bool = False) -> int:
    """Search the copy named after `warehouse_path` (the published anchor: config's Settings.published_anchor);
    `team` (a lake): say on stderr who published the copy and how long ago."""
    out, err = out or sys.stdout, err or sys.stderr
    if options.mode not in MODES:
        raise SearchError(f"--mode {options.mode!r}: use one of {', '.join(MODES)}")
    if options.limit < 1:
        raise SearchError(f"--limit {options.limit}: use 1 or more")
    if not options.query.strip():
        raise SearchError("the query is empty: say what to look for, e.g. star-pipeline search 'flaky login test'")
    _filters(options)  # dates are checked before the index is opened
    if team and not search_copy_path(warehouse_path).exists():
        raise SearchError(f"{search_copy_path(warehouse_path)}: the team's writer has published no search copy there yet "
                          "(it does after each rebuild: `star-pipeline build` or `make dev` on the machine.role: writer "
                          "machine). Every machine must read the same warehouse.published_path.")
    conn = open_search_copy(warehouse_path)
    try:
        if team:
            err.write(f"star-pipeline search: {publication_note(conn)}\n")
        hits = search(conn, options)
    finally:
        conn.close()
    if options.as_json:
        out.write(json.dumps({"hits": hits}, indent=2, ensure_ascii=False) + "\n")
        return 0
    if not hits:
        err.write(f"no match for {options.query!r}\n")
        return 0
    bold, plain = ("\033[1m", "\033[0m") if getattr(out, "isatty", lambda: False)() else ("**", "**")
    lines = []
    for n, hit in enumerate(hits, start=1):
        when = (hit["timestamp"] or "")[:16].replace("T", " ")
        lines.append(f"{n:>2}. {when}  {hit['source']}  {hit['project']}  {hit['machine']}  {hit['role'] or '-'}  "
                     f"score {hit['score']:.4f}")
        lines.append(f"    {highlight(hit['snippet'], options.query, bold, plain)}")
        lines.append(f"    {hit['resume'] or 'session ' + hit['session_id']}")
    out.write("\n".join(lines) + "\n")
    return 0
