"""Factory Droid: a session's usage is the running total its settings file holds; rewritten after every
call, it counts once, as last written, thinking tokens inside output, the model as ccusage names it."""

import json

from star_pipeline_tests.builders import at, droid_folder, droid_message, write_droid_settings
from star_pipeline_tests.conftest import materialize_all, query

SESSION = "052cb8d0-4616-488a-99fe-bfbbbe9429b3"


def test_the_last_running_total_counts_once(sandbox):
    folder = droid_folder(sandbox)
    folder.mkdir(parents=True)
    lines = [{"type": "session_start", "id": SESSION, "title": "Update the comment", "cwd": "/home/u/proj", "version": 2},
             droid_message(1, "user", [{"type": "text", "text": "Update the first comment"}]),
             droid_message(2, "assistant", [{"type": "tool_use", "id": "call_1", "name": "Read",
                                             "input": {"file_path": "/home/u/proj/index.ts"}}]),
             droid_message(3, "user", [{"type": "tool_result", "tool_use_id": "call_1", "content": "// DROID2"}])]
    (folder / f"{SESSION}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    settings = folder / f"{SESSION}.settings.json"
    write_droid_settings(settings, "custom:BYOK-GPT-5-MINI-0", (1200, 300, 0, 9000, 100), lock_ts=2)
    assert materialize_all(sandbox).success
    write_droid_settings(settings, "custom:BYOK-GPT-5-MINI-0", (6743, 1450, 0, 42496, 1088), lock_ts=2)
    assert materialize_all(sandbox).success

    assert query(sandbox, "SELECT session_id, model, strftime(event_ts AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%g'), "
                          "input_tokens, output_tokens, cache_read_input_tokens, reasoning_output_tokens "
                          "FROM normalized.normalized_usage WHERE source = 'droid'") == [
        (SESSION, "byok-gpt-5-mini-0", at(2)[:-1], 6743, 1450 + 1088, 42496, 1088)]
    assert query(sandbox, "SELECT tool_name, status, target_path FROM normalized.normalized_tool_calls "
                          "WHERE source = 'droid'") == [("Read", "unknown", "/home/u/proj/index.ts")]  # no is_error: no outcome
    assert query(sandbox, "SELECT project_cwd FROM normalized.normalized_sessions WHERE source = 'droid'") == [("/home/u/proj",)]
