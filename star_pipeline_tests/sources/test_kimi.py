"""Kimi CLI: every StatusUpdate is a call (input without cache), a sub-agent's nested ones too, in the
same session, each message_id once; the files name no model."""

from star_pipeline_tests.builders import kimi_event, kimi_file, kimi_status, kimi_subagent, write_jsonl
from star_pipeline_tests.conftest import materialize_all, query

S = "b1ea4a04-95d9-43a8-98ce-189f553b08ca"


def test_top_level_and_sub_agent_calls_each_once(sandbox):
    write_jsonl(kimi_file(sandbox, S), [
        {"type": "metadata", "protocol_version": "1.3"},
        kimi_event(0, "TurnBegin", {"user_input": [{"type": "text", "text": "fix the referrals"}]}),
        kimi_status(1, "chatcmpl-top", input_other=5143, output=55, cache_read=5376),
        kimi_event(2, "ToolCall", {"type": "function", "id": "tool_task1",
                                   "function": {"name": "Task", "arguments": '{"description": "rewrite db calls"}'}}),
        kimi_subagent(3, "tool_task1", kimi_status(3, "chatcmpl-sub", input_other=5728, output=259, cache_read=4352)),
        kimi_subagent(4, "tool_task1", kimi_status(4, "chatcmpl-sub", input_other=5728, output=259, cache_read=4352)),
        kimi_event(5, "ToolResult", {"tool_call_id": "tool_task1", "return_value": {"is_error": False, "output": "done"}}),
    ])
    materialize_all(sandbox)

    rows = query(sandbox, "SELECT request_id, agent_id, is_sidechain, input_tokens, output_tokens, cache_read_input_tokens, "
                          "model, model_is_fallback, session_id FROM normalized.normalized_usage WHERE source = 'kimi' "
                          "ORDER BY event_ts")
    assert rows == [
        ("chatcmpl-top", None, False, 5143, 55, 5376, "kimi-for-coding", True, S),
        ("chatcmpl-sub", "tool_task1", True, 5728, 259, 4352, "kimi-for-coding", True, S),
    ]
    assert query(sandbox, "SELECT status FROM normalized.normalized_tool_calls WHERE source = 'kimi'") == [("ok",)]
