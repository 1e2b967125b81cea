"""The real files of ../shared/corpus/agents (skipped when absent): per UTC day and model, every agent
star_pipeline reads gives the reference's tokens (reference-<agent>-daily.json: ccusage's figures where
ccusage is right, the corrected ones where it is not; see that folder's README)."""

import json
import os

import pytest

from star_pipeline.sources import SOURCES
from star_pipeline_tests.conftest import SHARED_CORPUS, Sandbox, corpus_or_skip, materialize_all, query

AGENTS = sorted(s.name for s in SOURCES if (SHARED_CORPUS / "agents" / f"reference-{s.name}-daily.json").exists())


@pytest.fixture(scope="module")
def agents_warehouse(tmp_path_factory):
    corpus = corpus_or_skip() / "agents"
    box = Sandbox(tmp_path_factory.mktemp("agents"))
    box.write_config(claude_roots=[], codex_roots=[])
    saved = {name: os.environ.get(name) for name in ("HOME", "STAR_PIPELINE_CONFIG")}
    os.environ["HOME"] = str(corpus / "home")  # every agent's default folders, as on the machine that wrote them
    os.environ["STAR_PIPELINE_CONFIG"] = str(box.config_path)
    try:
        assert materialize_all(box).success
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
    return box, corpus


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
