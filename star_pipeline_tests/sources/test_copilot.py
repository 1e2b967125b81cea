"""GitHub Copilot CLI: a run's usage at its shutdown, per model, with the cache taken out of the input;
compactions counted apart and booked to the session's model; a run killed before its shutdown has none."""

from star_pipeline_tests.builders import copilot_event, copilot_file, copilot_shutdown, write_jsonl
from star_pipeline_tests.conftest import materialize_all, query

S = "252d6b6b-aaad-4790-8254-7ada091ee9fc"
KILLED = "9a493a94-a307-489e-8bc7-d16f4afcd992"


def test_shutdown_totals_per_model_and_compactions_apart(sandbox):
    write_jsonl(copilot_file(sandbox, S), [
        copilot_event(0, "session.start", {"sessionId": S, "copilotVersion": "1.0.60", "selectedModel": "claude-haiku-4.5",
                                           "context": {"cwd": "/home/u/proj", "branch": "main"}}),
        copilot_event(1, "user.message", {"content": "fix the typos"}),
        copilot_event(40, "session.compaction_complete", {"success": True, "requestId": "req-compact",
                      "compactionTokensUsed": {"input": 176397, "output": 1807, "cachedInput": 0}}),
        copilot_shutdown(600, {"claude-haiku-4.5": (1884297, 6391, 1495724, 0, 0),
                               "claude-sonnet-4.6": (363143, 2314, 321789, 37826, 328)}),
        copilot_event(700, "session.resume", {}),
        copilot_shutdown(800, {}),  # a resumed run that made no call
    ])
    write_jsonl(copilot_file(sandbox, KILLED), [
        copilot_event(0, "session.start", {"sessionId": KILLED, "selectedModel": "claude-sonnet-4.6"}),
        copilot_event(1, "assistant.message", {"model": "claude-sonnet-4.6", "content": "on it", "outputTokens": 12}),
    ])
    materialize_all(sandbox)

    rows = query(sandbox, "SELECT model, input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens, "
                          "reasoning_output_tokens FROM normalized.normalized_usage WHERE source = 'copilot' "
                          "ORDER BY event_ts, model")
    assert rows == [
        ("claude-haiku-4.5", 176397, 1807, 0, 0, 0),  # the compaction, at its own time, the session's model
        ("claude-haiku-4.5", 1884297 - 1495724, 6391, 0, 1495724, 0),
        ("claude-sonnet-4.6", 363143 - 321789 - 37826, 2314, 37826, 321789, 328),
    ]
