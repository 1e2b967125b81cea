"""On ../shared/corpus (real files), per UTC day and model token sums equal ccusage 20.0.24's JSON beside it.

The one documented exception (corpus/README.md): ccusage's own `daily` report
contradicts its `session` report for claude-haiku-4-5-20251001 on 2026-04-09;
the dedup rule gives the session report's 1,053 + 2,190 = 3,243 output tokens.
"""

import json

from star_pipeline_tests.conftest import query

KNOWN_CCUSAGE_SELF_CONTRADICTION = {("2026-04-09", "claude-haiku-4-5-20251001"): {"outputTokens": 3243}}


def daily_usage(box, source):
    rows = query(
        box,
        "SELECT strftime(event_ts AT TIME ZONE 'UTC', '%Y-%m-%d'), model, sum(input_tokens), sum(output_tokens), "
        "sum(cache_creation_input_tokens), sum(cache_read_input_tokens), sum(reasoning_output_tokens) "
        "FROM normalized.normalized_usage WHERE source = ? GROUP BY ALL",
        [source],
    )
    return {
        (day, model): {
            "inputTokens": i,
            "outputTokens": o,
            "cacheCreationTokens": cc,
            "cacheReadTokens": cr,
            "reasoningOutputTokens": r,
        }
        for day, model, i, o, cc, cr, r in rows
    }


def test_claude_daily_tokens_equal_ccusage(corpus_warehouse):
    box, corpus = corpus_warehouse
    reference = json.loads((corpus / "ccusage-claude-daily.json").read_text())
    expected = {}
    for day in reference["daily"]:
        for model in day["modelBreakdowns"]:
            cell = {k: model[k] for k in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")}
            cell.update(KNOWN_CCUSAGE_SELF_CONTRADICTION.get((day["date"], model["modelName"]), {}))
            expected[(day["date"], model["modelName"])] = cell
    actual = {k: {f: v[f] for f in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")}
              for k, v in daily_usage(box, "claude_code").items()}
    assert actual == expected


def test_codex_daily_tokens_equal_ccusage(corpus_warehouse):
    box, corpus = corpus_warehouse
    reference = json.loads((corpus / "ccusage-codex-daily.json").read_text())
    expected = {
        (day["date"], model): {k: cell[k] for k in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens", "reasoningOutputTokens")}
        for day in reference["daily"]
        for model, cell in day["models"].items()
    }
    assert daily_usage(box, "codex") == expected


def test_claude_session_totals_equal_ccusage_session_report(corpus_warehouse):
    """Per session (subagent files included in their parent), all four token sums equal ccusage's session report."""
    box, corpus = corpus_warehouse
    reference = json.loads((corpus / "ccusage-claude-session.json").read_text())["sessions"]
    fields = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")
    expected = {s["sessionId"]: tuple(s[f] for f in fields) for s in reference}
    rows = query(
        box,
        "SELECT session_id, sum(input_tokens), sum(output_tokens), sum(cache_creation_input_tokens), "
        "sum(cache_read_input_tokens) FROM normalized.normalized_usage WHERE source = 'claude_code' GROUP BY 1",
    )
    assert {sid: tuple(v) for sid, *v in rows} == expected


def test_every_corpus_line_is_normalized_or_a_parse_error(corpus_warehouse):
    box, _ = corpus_warehouse
    raw = query(box, "SELECT (SELECT count(*) FROM raw.claude_code_lines WHERE part_number = 1) "
                     "+ (SELECT count(*) FROM raw.codex_lines WHERE part_number = 1)")[0][0]  # lines, not their parts
    normalized = query(box, "SELECT count(*) FROM normalized.normalized_messages")[0][0]
    errors = query(box, "SELECT count(*) FROM normalized.normalized_parse_errors WHERE source <> 'hook_spool'")[0][0]
    assert raw == normalized + errors and raw > 0
