"""The real Crush and Aider files of ../shared/corpus/agents2 (skipped when absent), built with that folder's home
as HOME and no configuration of the agents: both write into project folders (`home/projects/<repo>/`), which the
project folders' scan finds by itself. Per UTC day and model, the warehouse gives the reference's tokens and the
cost the files record (reference-<agent>-daily.json; the counting rules are that folder's README)."""

import json
import os

import pytest

from star_pipeline_tests.conftest import SHARED_CORPUS, Sandbox, corpus_or_skip, materialize_all, query

AGENTS = ("crush", "aider")


@pytest.fixture(scope="module")
def project_agents_warehouse(tmp_path_factory):
    corpus = corpus_or_skip() / "agents2"
    if not (corpus / "home").is_dir():
        pytest.skip("../shared/corpus/agents2 is not present")
    box = Sandbox(tmp_path_factory.mktemp("agents2-projects"))
    box.write_config(claude_roots=[], codex_roots=[])
    saved = {name: os.environ.get(name) for name in ("HOME", "STAR_PIPELINE_CONFIG")}
    os.environ["HOME"] = str(corpus / "home")
    os.environ["STAR_PIPELINE_CONFIG"] = str(box.config_path)
    try:
        assert materialize_all(box).success
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
    return box, corpus


@pytest.mark.parametrize("agent", AGENTS)
def test_every_day_and_model_equals_the_reference(project_agents_warehouse, agent):
    box, corpus = project_agents_warehouse
    reference = json.loads((corpus / f"reference-{agent}-daily.json").read_text())["daily"]
    expected = {(d["date"], d["model"]): (d["inputTokens"], d["outputTokens"], d["cacheCreationTokens"],
                                          d["cacheReadTokens"], d["reasoningOutputTokens"], round(d["costUSD"], 6))
                for d in reference}
    rows = query(box, """
        SELECT strftime(event_ts AT TIME ZONE 'UTC', '%Y-%m-%d'), model, sum(input_tokens), sum(output_tokens),
               sum(cache_creation_input_tokens), sum(cache_read_input_tokens), sum(reasoning_output_tokens),
               coalesce(sum(recorded_cost_usd), 0)
        FROM normalized.normalized_usage WHERE source = ? GROUP BY ALL""", [agent])
    assert {(day, model): (*(int(v) for v in values[:5]), round(values[5], 6)) for day, model, *values in rows} == expected


def test_the_corpus_files_are_left_as_they_were(project_agents_warehouse):
    """Reading a Crush database whose write-ahead log no connection holds writes nothing beside it (no -shm)."""
    _box, corpus = project_agents_warehouse
    assert not list((corpus / "home" / "projects").glob("*/.crush/crush.db-shm"))
