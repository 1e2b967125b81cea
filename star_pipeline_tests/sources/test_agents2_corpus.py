"""The real files of ../shared/corpus/agents2 (skipped when absent): a build with that folder as HOME and no
configuration gives, per agent, UTC day and model, the reference's tokens and the cost the files record
(reference-<agent>-daily.json; see that folder's README)."""

import json

import pytest

from star_pipeline_tests.conftest import query

# The agents of agents2 star_pipeline reads (roo and kilo: empty references, no files).
AGENTS = (
    "cline",
    "roo",
    "kilo",
    "pi",
)


@pytest.mark.parametrize("agent", AGENTS)
def test_every_day_and_model_equals_the_reference(agents2_corpus_warehouse, agent):
    box, corpus = agents2_corpus_warehouse
    expected = {(d["date"], d["model"]): (d["inputTokens"], d["outputTokens"], d["cacheCreationTokens"],
                                          d["cacheReadTokens"], d["reasoningOutputTokens"], round(d["costUSD"], 9))
                for d in json.loads((corpus / f"reference-{agent}-daily.json").read_text())["daily"]}
    rows = query(box, """
        SELECT strftime(event_ts AT TIME ZONE 'UTC', '%Y-%m-%d'), model, sum(input_tokens), sum(output_tokens),
               sum(cache_creation_input_tokens), sum(cache_read_input_tokens), sum(reasoning_output_tokens),
               round(coalesce(sum(cost_usd), 0), 9)
        FROM aggregate.fact_token_usage WHERE source = ? GROUP BY ALL""", [agent])
    assert {(day, model): (*(int(v) for v in values[:5]), values[5]) for day, model, *values in rows} == expected
