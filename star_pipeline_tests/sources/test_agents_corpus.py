"""The real files of ../shared/corpus/agents (skipped when absent): per UTC day and model, every agent
star_pipeline reads gives the reference's tokens (reference-<agent>-daily.json: ccusage's figures where
ccusage is right, the corrected ones where it is not; see that folder's README)."""

import json

import pytest

from star_pipeline.sources import SOURCES
from star_pipeline_tests.conftest import SHARED_CORPUS, query

AGENTS = sorted(s.name for s in SOURCES if (SHARED_CORPUS / "agents" / f"reference-{s.name}-daily.json").exists())


@pytest.fixture(scope="module")
def agents_warehouse(agents_corpus_warehouse):
    return agents_corpus_warehouse  # conftest.py: built once per session, shared with test_tool_outcomes_corpus.py


@pytest.mark.parametrize("agent", AGENTS)
def test_every_day_and_model_equals_the_reference(agents_warehouse, agent):
    box, corpus = agents_warehouse
    expected = {(d["date"], d["model"]): (d["inputTokens"], d["outputTokens"], d["cacheCreationTokens"],
                                          d["cacheReadTokens"], d["reasoningOutputTokens"])
                for d in json.loads((corpus / f"reference-{agent}-daily.json").read_text())["daily"]}
    rows = query(box, """
        SELECT strftime(event_ts AT TIME ZONE 'UTC', '%Y-%m-%d'), model, sum(input_tokens), sum(output_tokens),
               sum(cache_creation_input_tokens), sum(cache_read_input_tokens), sum(reasoning_output_tokens)
        FROM normalized.normalized_usage WHERE source = ? GROUP BY ALL""", [agent])
    assert {(day, model): tuple(int(v) for v in values) for day, model, *values in rows} == expected
