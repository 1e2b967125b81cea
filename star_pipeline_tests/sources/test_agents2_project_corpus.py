"""The real Crush and Aider files of ../shared/corpus/agents2 (skipped when absent), built with that folder's home
as HOME and no configuration of the agents: both write into project folders (`home/projects/<repo>/`), which the
project folders' scan finds by itself. Per UTC day and model, the warehouse gives the reference's tokens and the
cost the files record (reference-<agent>-daily.json; the counting rules are that folder's README)."""

import json

import pytest

from star_pipeline_tests.conftest import query

AGENTS = ("crush", "aider")


@pytest.mark.parametrize("agent", AGENTS)
def test_every_day_and_model_equals_the_reference(agents2_corpus_warehouse, agent):
    box, corpus = agents2_corpus_warehouse
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


def test_the_corpus_files_are_left_as_they_were(agents2_corpus_warehouse):
    """Reading a Crush database whose write-ahead log no connection holds writes nothing beside it (no -shm)."""
    _box, corpus = agents2_corpus_warehouse
    assert not list((corpus / "home" / "projects").glob("*/.crush/crush.db-shm"))
