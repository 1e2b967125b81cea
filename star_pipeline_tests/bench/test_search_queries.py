"""The labelled search queries of the benchmark (star_pipeline/bench/search_queries.yaml): well formed, and
every session they name exists in the real corpus (../shared/corpus, when present) - no warehouse build."""

from pathlib import Path

import pytest
import yaml

QUERIES = Path(__file__).parents[2] / "star_pipeline" / "bench" / "search_queries.yaml"
CORPUS = Path(__file__).parents[2].parent / "shared" / "corpus"
TRANSCRIPTS = ("claude", "codex", "agents/home")  # not the ccusage/reference JSON beside them


def entries() -> list[dict]:
    return yaml.safe_load(QUERIES.read_text(encoding="utf-8"))


def test_every_query_has_words_and_at_least_one_session():
    queries = entries()
    assert isinstance(queries, list) and len(queries) >= 20
    for entry in queries:
        assert isinstance(entry, dict) and set(entry) <= {"query", "sessions", "note"}, entry
        assert isinstance(entry.get("query"), str) and entry["query"].strip(), entry
        sessions = entry.get("sessions")
        assert isinstance(sessions, list) and sessions, entry
        assert all(isinstance(s, str) and s.strip() for s in sessions), entry
        assert len(set(sessions)) == len(sessions), entry
    texts = [e["query"].strip().lower() for e in queries]
    assert len(set(texts)) == len(texts), "a query is listed twice"


def test_every_listed_session_is_in_the_corpus():
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    files = [p for folder in TRANSCRIPTS for p in sorted((CORPUS / folder).rglob("*")) if p.is_file()]
    names = "\n".join(str(p.relative_to(CORPUS)) for p in files).encode()
    contents = b"\n".join(p.read_bytes() for p in files)
    missing = sorted({s for e in entries() for s in e["sessions"]
                      if s.encode() not in names and s.encode() not in contents})
    assert not missing, f"not in any file of {CORPUS}: {missing}"
