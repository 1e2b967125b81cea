"""`star-pipeline search`: words (BM25), meaning (embeddings) and both; one hit per session with the command
that resumes it; filters; clear errors; only new texts embedded; and no secret in any hit or in the
search copy's file."""

import io
import json

import pytest

from star_pipeline.cli import main
from star_pipeline.search.query import SearchOptions, run_search
from star_pipeline.storage.published_copies import search_copy_path
from star_pipeline_tests.builders import (
    CODEX_SESSION, assistant, codex_file, copied_into, cx, session_file, session_meta, turn_context, usage, user,
    write_jsonl,
)
from star_pipeline_tests.classified.test_classifiers import (
    EVERY_KIND, EVERY_KIND_SESSION, SECRET_STRINGS, write_secret_sessions,
)
from star_pipeline_tests.conftest import build_once, materialize_all, query

LOGIN = "1a2b3c4d-0000-4000-8000-00000000a001"
PASTA = "1a2b3c4d-0000-4000-8000-00000000a002"
DEPLOY = "1a2b3c4d-0000-4000-8000-00000000a003"


def talk(sandbox, session: str, ts: float, prompt: str, reply: str) -> None:
    write_jsonl(session_file(sandbox, session), [
        user(session, ts, prompt),
        assistant(session, ts + 1, f"msg_{session[-4:]}", f"req_{session[-4:]}", usage(3, 20),
                  content=[{"type": "text", "text": reply}]),
    ])


def write_searchable(sandbox) -> None:
    talk(sandbox, LOGIN, 0, "The login test fails on CI since yesterday, please fix it",
         "Fixed the failing login test: the session cookie expired too early.")
    talk(sandbox, PASTA, 86400, "Write a recipe page for spaghetti carbonara", "Added recipes/carbonara.md with the steps.")
    talk(sandbox, DEPLOY, 2 * 86400, "Deploy the staging server with docker compose", "Staging is up on port 8080.")
    write_jsonl(codex_file(sandbox, CODEX_SESSION), [
        session_meta(CODEX_SESSION), turn_context(1, "gpt-5-codex"),
        cx(2, "response_item", {"type": "message", "role": "user",
                                "content": [{"type": "input_text", "text": "Tune the flaky login test retries"}]}),
    ])


@pytest.fixture
def searchable(sandbox):
    """Three Claude sessions (a login test, a recipe, a deploy) and a Codex one, built: for tests that change it."""
    write_searchable(sandbox)
    assert materialize_all(sandbox).success
    return sandbox


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """The same, built once for the tests that only search it."""
    return build_once(tmp_path_factory, "searched", write_searchable)


def hits(sandbox, text: str, **options) -> list[dict]:
    out = io.StringIO()
    assert run_search(SearchOptions(text, as_json=True, **options), sandbox.warehouse, out=out) == 0
    return json.loads(out.getvalue())["hits"]


def test_words_meaning_and_both_find_the_session_and_how_to_resume_it(searched):
    searchable = searched
    lexical = hits(searchable, "login test", mode="lexical")
    assert {h["session_id"] for h in lexical} == {LOGIN, CODEX_SESSION}  # one hit per session, never the pasta
    claude = next(h for h in lexical if h["source"] == "claude_code")
    assert claude["resume"] == f"claude --resume {LOGIN}" and claude["project"] == "/home/u/proj"
    assert next(h for h in lexical if h["source"] == "codex")["resume"] == f"codex resume {CODEX_SESSION}"
    assert "login test" in claude["snippet"].lower()
    # no word in common with the session it means
    assert hits(searchable, "authentication unit check broken", mode="semantic", limit=1)[0]["session_id"] in (LOGIN, CODEX_SESSION)
    assert hits(searchable, "italian cooking", mode="semantic", limit=1)[0]["session_id"] == PASTA
    assert hits(searchable, "authentication unit check broken", mode="lexical") == []
    hybrid = hits(searchable, "fix login test", limit=3)
    assert hybrid[0]["session_id"] == LOGIN and len(hybrid) == 3


def test_filters_by_source_project_and_dates(searched):
    searchable = searched
    assert {h["source"] for h in hits(searchable, "login test", source="codex")} == {"codex"}
    assert hits(searchable, "login test", project="proj", source="claude_code")[0]["session_id"] == LOGIN
    assert hits(searchable, "login test", project="/elsewhere") == []
    days = {h["session_id"] for h in hits(searchable, "staging deploy recipe login", since="20260302", until="2026-03-02")}
    assert days == {PASTA}


def test_bad_arguments_and_a_missing_index_say_what_to_do(sandbox, capsys, monkeypatch):
    monkeypatch.setenv("STAR_PIPELINE_CONFIG", str(sandbox.config_path))
    assert main(["search", "login"]) == 2
    err = capsys.readouterr().err
    assert "no search index yet" in err and "star-pipeline build" in err
    talk(sandbox, LOGIN, 0, "The login test fails", "Fixed.")
    assert materialize_all(sandbox).success
    assert main(["search", "login", "--since", "2026-13-01"]) == 2
    assert "--since '2026-13-01': not a date" in capsys.readouterr().err
    assert main(["search", "   "]) == 2
    assert main(["search", "login", "--limit", "0"]) == 2
    assert main(["search", "login"]) == 0
    assert "claude --resume" in capsys.readouterr().out


def test_a_new_session_embeds_only_its_own_texts(searchable, monkeypatch):
    from star_pipeline.storage import embeddings

    embedded = []
    real = embeddings.embed
    monkeypatch.setattr(embeddings, "embed", lambda model, texts: embedded.extend(texts) or real(model, texts))
    monkeypatch.setattr("star_pipeline.aggregate.search_embeddings.embed", embeddings.embed)
    indexed = query(searchable, "SELECT count(*) FROM aggregate.search_word_counts")[0][0]
    talk(searchable, "1a2b3c4d-0000-4000-8000-00000000a004", 3 * 86400, "Rename the config loader", "Renamed it.")
    assert materialize_all(searchable).success

    assert sorted(embedded) == sorted(["Renamed it.", "Rename the config loader"])
    assert query(searchable, "SELECT count(*) FROM aggregate.search_word_counts")[0][0] == indexed + 2  # words too
    assert query(searchable, "SELECT words FROM aggregate.search_word_counts WHERE text_hash = md5('Renamed it.')") == [(1,)]
    assert hits(searchable, "rename config loader", limit=1)[0]["session_id"].endswith("a004")


def copy_contents(sandbox) -> dict:
    """What a reader of the search copy can see, by document key rather than by the copy's own ids."""
    import duckdb

    from star_pipeline.aggregate.search_copy import HISTORY_TABLES

    with duckdb.connect(str(search_copy_path(sandbox.warehouse)), read_only=True) as conn:
        rows = lambda sql: sorted(conn.execute(sql).fetchall(), key=repr)  # noqa: E731
        key = "d.source, d.path, d.file_version, d.byte_offset"
        return {
            "documents": rows("SELECT * EXCLUDE (doc_id) FROM documents d"),
            "vectors": rows(f"SELECT {key}, v.vector FROM vectors v JOIN documents d USING (doc_id)"),
            "postings": rows(f"SELECT t.term, {key}, p.tf FROM postings p JOIN terms t USING (termid) JOIN documents d USING (doc_id)"),
            "document_frequencies": rows("SELECT term, df FROM terms WHERE df > 0"),
            "meta": conn.execute("SELECT documents, average_words, embedding_model FROM search_meta").fetchall(),
            **{table: rows(f"SELECT * FROM {table}") for table in HISTORY_TABLES},
        }


def test_a_rebuild_updates_the_copy_by_what_changed_and_it_equals_a_copy_written_whole(searchable):
    """A grown session, a new one and a resumed one (whose copies of the first session's messages become the
    ones searched): the copy is updated, keeps its other documents' ids, and reads exactly as a copy written
    whole from the same warehouse."""
    import duckdb

    def doc_ids():
        with duckdb.connect(str(search_copy_path(searchable.warehouse)), read_only=True) as conn:
            return dict(conn.execute("SELECT path || '@' || byte_offset, doc_id FROM documents").fetchall())

    before = doc_ids()
    write_jsonl(session_file(searchable, PASTA), [user(PASTA, 86400 + 60, "Add a vegetarian variant with mushrooms")],
                append=True)
    talk(searchable, "1a2b3c4d-0000-4000-8000-00000000a004", 3 * 86400, "Rename the config loader", "Renamed it.")
    resumed = "1a2b3c4d-0000-4000-8000-00000000a005"
    login = [json.loads(line) for line in session_file(searchable, LOGIN).read_text().splitlines()]
    write_jsonl(session_file(searchable, resumed), [copied_into(resumed, record) for record in login]
                + [user(resumed, 4 * 86400, "Now make the login test run twice as fast")])
    result = materialize_all(searchable)
    assert result.success
    written = result.asset_materializations_for_node("aggregate__published_search_copy")[0].metadata
    assert written["written"].value == "updated"
    assert written["documents_deleted"].value == 2  # the login session's two messages, searched in their copies now
    after = doc_ids()
    kept = {k: v for k, v in before.items() if k in after}
    assert len(kept) == len(before) - 2 and all(after[k] == v for k, v in kept.items())
    updated = copy_contents(searchable)
    assert hits(searchable, "vegetarian mushrooms", limit=1)[0]["session_id"] == PASTA

    search_copy_path(searchable.warehouse).unlink()
    result = materialize_all(searchable)
    assert result.asset_materializations_for_node("aggregate__published_search_copy")[0].metadata["written"].value == "whole"
    assert copy_contents(searchable) == updated


def test_stored_vectors_are_wordllamas_own_bit_for_bit():
    """embed() pools WordLlama's tokens itself (without WordLlama's padding, storage/embeddings.py): its vectors
    must stay WordLlama's `embed`, normalized, to the bit, or stored vectors would silently mix two versions.
    Texts of very different lengths in one batch (more than one group of 64, not in length order), an empty one,
    other scripts and one past the 2,000-character head."""
    from pathlib import Path

    import numpy as np
    import wordllama
    from wordllama import WordLlama

    from star_pipeline.storage.embeddings import EMBED_CHARS, embed

    texts = ["", "Rename the config loader", "naïve café: 東京の設定 🚀 ошибка", "fix the failing test " * 200,
             *(f"session {n}: " + "refactor the parser " * n for n in ((i * 37) % 120 for i in range(90)))]
    model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    theirs = np.asarray(model.embed([text[:EMBED_CHARS] for text in texts]), dtype=np.float32)
    norms = np.linalg.norm(theirs, axis=1, keepdims=True)
    ours = embed("wordllama", texts)
    assert ours.shape == theirs.shape
    assert ours.tobytes() == (theirs / np.where(norms == 0, 1, norms)).tobytes()


def test_no_secret_reaches_a_hit_or_the_search_copy(sandbox):
    write_secret_sessions(sandbox)
    assert materialize_all(sandbox).success

    found = hits(sandbox, "aws anthropic github deploy keys", mode="lexical", limit=10)
    every = [h for h in hits(sandbox, "openai_api_key slack_token bearer_token", mode="lexical")
             if h["session_id"] == EVERY_KIND_SESSION]
    assert found and every
    text = json.dumps(found + every)
    for kind, secret in EVERY_KIND.items():
        assert secret not in text
    assert "[secret:aws_access_key_id]" in text
    masked = query(sandbox, "SELECT message_text FROM aggregate.search_documents WHERE session_id = ?", [EVERY_KIND_SESSION])
    # each kind is masked; the private key's BEGIN line has no END line here, so the rest of the text (the
    # bearer and env lines after it) goes with it
    kinds = list(EVERY_KIND)
    for kind in kinds[: kinds.index("private_key_block") + 1]:
        assert f"[secret:{kind}]" in masked[0][0]
    assert masked[0][0].endswith("private_key_block, [secret:private_key_block]")
    copy = search_copy_path(sandbox.warehouse).read_bytes()
    for secret in [*(s for s in EVERY_KIND.values() if len(s) > 12), *SECRET_STRINGS]:  # a private key's body too
        assert secret.encode() not in copy
        assert secret not in text
    assert oct(search_copy_path(sandbox.warehouse).stat().st_mode & 0o777) == "0o600"


def test_the_check_notices_a_search_copy_that_lost_its_vectors(searchable):
    import duckdb

    from star_pipeline_tests.conftest import run_checks_alone

    def check():
        result = run_checks_alone(searchable, (["aggregate", "published_search_copy"], "search_copy_is_whole"))
        return {e.check_name: e for e in result.get_asset_check_evaluations()}["search_copy_is_whole"].passed

    assert check()
    copy = duckdb.connect(str(search_copy_path(searchable.warehouse)))
    copy.execute("DELETE FROM vectors WHERE doc_id = (SELECT min(doc_id) FROM vectors)")
    copy.close()
    assert not check()


def test_another_models_vectors_stay_until_deleted(searchable, capsys):
    import duckdb

    conn = duckdb.connect(str(searchable.warehouse))
    conn.execute("INSERT INTO aggregate.search_embeddings SELECT 'fastembed:old-model', text_hash, vector, pipeline_version "
                 "FROM aggregate.search_embeddings")
    conn.close()
    mine = query(searchable, "SELECT count(*) FROM aggregate.search_embeddings WHERE model = 'wordllama:l2_supercat_256'")[0][0]
    assert materialize_all(searchable).success  # a rebuild keeps the other model's vectors
    assert main(["embeddings", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"fastembed:old-model  {mine} vectors" in listed and "wordllama:l2_supercat_256" in listed and "configured" in listed
    assert main(["embeddings", "delete", "fastembed:old-model"]) == 0
    assert f"deleted {mine} vectors of fastembed:old-model" in capsys.readouterr().out
    assert query(searchable, "SELECT DISTINCT model FROM aggregate.search_embeddings") == [("wordllama:l2_supercat_256",)]
    assert main(["embeddings", "delete", "fastembed:old-model"]) == 2
    assert "no vectors of 'fastembed:old-model'" in capsys.readouterr().err


def test_words_of_any_script_and_numbers_are_found_by_their_words(sandbox):
    talk(sandbox, LOGIN, 0, "英作文の添削機能を作って", "添削機能を追加しました。")
    talk(sandbox, PASTA, 86400, "Почини сборку на сервере", "Сборка исправлена.")
    talk(sandbox, DEPLOY, 2 * 86400, "Staging listens on port 8080 now", "Done.")
    assert materialize_all(sandbox).success

    assert [h["session_id"] for h in hits(sandbox, "添削", mode="lexical")] == [LOGIN]  # no spaces between words
    assert [h["session_id"] for h in hits(sandbox, "сборку", mode="lexical")] == [PASTA]
    assert [h["session_id"] for h in hits(sandbox, "8080", mode="lexical")] == [DEPLOY]
