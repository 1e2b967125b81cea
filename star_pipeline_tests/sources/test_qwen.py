"""Qwen Code: inclusive counts made non-overlapping, each call once though logged twice, calls made
inside a tool counted from their telemetry line alone, files without telemetry from their replies."""

from star_pipeline_tests.builders import qwen, qwen_assistant, qwen_file, qwen_telemetry, write_jsonl
from star_pipeline_tests.conftest import materialize_all, materialize_usage, query

S1 = "4a3f5e0f-328a-4f01-9dfe-667121bffe6a"
S2 = "9a578cd0-ad2c-423c-8f19-95412a2d81af"


def usage(sandbox) -> list[tuple]:
    return query(sandbox, "SELECT session_id, request_id, input_tokens, output_tokens, cache_read_input_tokens, "
                          "reasoning_output_tokens, model FROM normalized.normalized_usage WHERE source = 'qwen' "
                          "ORDER BY session_id, event_ts")


def test_each_call_once_non_overlapping_and_the_calls_made_inside_a_tool_too(sandbox):
    write_jsonl(qwen_file(sandbox, S1), [
        qwen("user", S1, 0, message={"role": "user", "parts": [{"text": "profit brain"}]}),
        # one call, logged by telemetry 50 ms before its reply: cached inside prompt, thoughts inside candidates
        qwen_telemetry(S1, 1.00, "chatcmpl-a", prompt=16009, candidates=234, cached=5000, thoughts=37),
        qwen_assistant(S1, 1.05, prompt=16009, candidates=234, cached=5000, thoughts=37),
        # a call a web_fetch tool made: only its telemetry line
        qwen_telemetry(S1, 2.00, "chatcmpl-b", prompt=8000, candidates=500),
        qwen_telemetry(S1, 3.00, "chatcmpl-a", prompt=16009, candidates=234, cached=5000, thoughts=37),  # logged again
    ])
    # an older file without telemetry: its replies are the calls
    write_jsonl(qwen_file(sandbox, S2), [
        qwen("user", S2, 10, message={"role": "user", "parts": [{"text": "hi"}]}),
        qwen_assistant(S2, 11, prompt=11656, candidates=9),
    ])
    materialize_all(sandbox)

    assert usage(sandbox) == [
        (S1, "chatcmpl-a", 16009 - 5000, 234, 5000, 37, "coder-model"),
        (S1, "chatcmpl-b", 8000, 500, 0, 0, "coder-model"),
        (S2, query(sandbox, "SELECT uuid FROM normalized.normalized_messages WHERE source = 'qwen' "
                            "AND record_type = 'assistant' AND session_id = ?", [S2])[0][0], 11656, 9, 0, 0, "coder-model"),
    ]


def test_a_reply_without_telemetry_counts_its_thoughts_inside_its_output(sandbox):
    """Qwen's candidatesTokenCount already holds the thoughts (total = prompt + candidates): a file without
    telemetry counts its replies, and a reply's output is its candidates, thoughts reported apart, not added."""
    write_jsonl(qwen_file(sandbox, S2), [
        qwen("user", S2, 10, message={"role": "user", "parts": [{"text": "why does it fail"}]}),
        qwen_assistant(S2, 11, prompt=12000, candidates=900, cached=8000, thoughts=600),
    ])
    assert materialize_usage(sandbox, "qwen").success

    assert [row[2:6] for row in usage(sandbox)] == [(12000 - 8000, 900, 8000, 600)]
