"""Cline, Roo Code and Kilo Code: each api_req_started (and deleted_api_reqs) message of a task's latest
ui_messages.json is one call, with the cost Cline recorded; a task rewritten whole with more messages stores
only what changed; the three extensions are found in every editor's user dir; a broken task file is a parse
error of its own."""

import json

import pytest

from star_pipeline_tests.builders import (
    CLINE_MODEL,
    CLINE_TASK,
    CWD,
    cline_ask,
    cline_request,
    cline_say,
    cline_task_file,
    write_cline_task,
)
from star_pipeline_tests.conftest import materialize_all, query
from star_pipeline_tests.reports.test_report import report

GROK = "x-ai/grok-code-fast-1"


def calls(sandbox, source: str = "cline") -> list[tuple]:
    return query(sandbox, "SELECT session_id, model, input_tokens, output_tokens, cache_creation_input_tokens, "
                          "cache_read_input_tokens, recorded_cost_usd FROM normalized.normalized_usage "
                          "WHERE source = ? ORDER BY event_ts", [source])


def test_a_task_rewritten_with_more_messages_stores_only_the_new_pieces_and_counts_each_request_once(sandbox):
    path = cline_task_file(sandbox)
    prompt = cline_say(0, "text", "fix the failing test")
    write_cline_task(path, [prompt, cline_request(1)])  # the request still streaming: no tokens yet
    materialize_all(sandbox)
    assert calls(sandbox) == [(CLINE_TASK, CLINE_MODEL, 0, 0, 0, 0, None)]

    write_cline_task(path, [
        prompt,
        cline_request(1, (100, 20, 0, 5000), 0.01),  # the same request, its stream ended
        cline_say(2, "text", "The test expects a list."),
        cline_say(3, "user_feedback", "go on"),
        cline_request(4, (50, 10, 300, 5300), 0.02),
        cline_say(5, "completion_result", "Fixed."),
    ])
    materialize_all(sandbox)

    assert calls(sandbox) == [(CLINE_TASK, CLINE_MODEL, 100, 20, 0, 5000, 0.01),
                              (CLINE_TASK, CLINE_MODEL, 50, 10, 300, 5300, 0.02)]
    # the second version stored its frame, the finished request and the four new messages, not the prompt again
    assert query(sandbox, "SELECT list(line_number ORDER BY line_number) FROM raw.cline_files f "
                          "JOIN raw.cline_lines l USING (path, file_version) WHERE f.file_version = 2") == [([0, 2, 3, 4, 5, 6],)]
    assert query(sandbox, "SELECT cost_usd, recorded_cost_usd, cost_source, project_id FROM aggregate.fact_token_usage "
                          "WHERE source = 'cline' ORDER BY event_ts") == [(0.01, 0.01, "recorded", CWD), (0.02, 0.02, "recorded", CWD)]
    assert query(sandbox, "SELECT role, message_text FROM normalized.normalized_messages WHERE source = 'cline' "
                          "AND file_version = 2 AND line_number = 3") == [("assistant", "The test expects a list.")]
    # reports show the recorded cost (auto), the one priced from the tokens (calculate) or only the recorded one
    computed = query(sandbox, "SELECT sum(computed_cost_usd) FROM aggregate.fact_token_usage WHERE source = 'cline'")[0][0]
    assert computed is not None and abs(computed - 0.03) > 1e-6  # the price table's Sonnet 4.5 is not what Cline paid
    totals = {mode: json.loads(report(sandbox, "daily", "-j", "--source", "cline", "-m", mode).stdout)["totals"]["totalCost"]
              for mode in ("auto", "calculate", "display")}
    assert totals == pytest.approx({"auto": 0.03, "calculate": computed, "display": 0.03})


def test_failed_retried_and_deleted_requests_count_as_the_latest_version_holds_them(sandbox):
    path = cline_task_file(sandbox)
    first = [
        cline_say(0, "text", "fix it"),
        cline_request(1, (1000, 100, 0, 0), 0.5),
        cline_request(2, (0, 0, 0, 0), 0, cancelReason="streaming_failed"),  # a failed request keeps its row, zero
        cline_ask(2.5, "api_req_failed", "Bad Request"),
        cline_say(3, "api_req_retried"),
        cline_say(3.5, "error_retry", '{"attempt":1}'),
        cline_request(4, (2000, 200, 0, 0), 1.0),
        cline_say(5, "text", "Done."),
    ]
    write_cline_task(path, first)
    materialize_all(sandbox)
    assert [(c[2], c[3], c[6]) for c in calls(sandbox)] == [(1000, 100, 0.5), (0, 0, 0), (2000, 200, 1.0)]

    # the user restores the checkpoint after the first request: the later messages are deleted and Cline
    # records their sums in a deleted_api_reqs message; the shorter file leaves stored pieces beyond its end
    write_cline_task(path, first[:2] + [
        cline_request(6, (2000, 200, 0, 0), 1.0, say="deleted_api_reqs"),
        cline_request(7, (10, 1, 0, 0), 0.001),
    ])
    materialize_all(sandbox)

    assert [(c[2], c[3], c[6]) for c in calls(sandbox)] == [(1000, 100, 0.5), (2000, 200, 1.0), (10, 1, 0.001)]
    assert query(sandbox, "SELECT sum(cost_usd) FROM aggregate.fact_token_usage WHERE source = 'cline'") == [(1.501,)]


def test_roo_and_kilo_tasks_are_found_in_other_editors_user_dirs_with_the_model_from_task_metadata(sandbox):
    roo = cline_task_file(sandbox, "1772359300000", extension="rooveterinaryinc.roo-cline", user_dir=".config/Cursor")
    write_cline_task(roo, [cline_say(100, "text", "hi", model=None), cline_request(101, (10, 5, 0, 0), None, model=None)],
                     indent=2)
    (roo.parent / "task_metadata.json").write_text(
        '{"files_in_context": [], "model_usage": [{"ts": 1, "model_id": "claude-opus-4", "model_provider_id": "anthropic",'
        ' "mode": "code"}, {"ts": 2, "model_id": "' + GROK + '", "model_provider_id": "xai", "mode": "code"}]}')
    kilo = cline_task_file(sandbox, "1772359400000", extension="kilocode.kilo-code",
                           user_dir="Library/Application Support/Windsurf")
    write_cline_task(kilo, [cline_say(200, "text", "hi", model=None), cline_request(201, (7, 3, 0, 0), 0.0, model=None)])
    cline = cline_task_file(sandbox, "1772359500000", user_dir=".config/VSCodium")
    write_cline_task(cline, [cline_say(300, "text", "hi"), cline_request(301, (1, 1, 0, 0), 0.0)])
    materialize_all(sandbox)

    assert query(sandbox, "SELECT source, session_id, model, model_is_fallback, input_tokens FROM normalized.normalized_usage "
                          "ORDER BY source") == [
        ("cline", "1772359500000", CLINE_MODEL, False, 1),
        ("kilo", "1772359400000", "unknown", True, 7),
        ("roo", "1772359300000", GROK, True, 10),  # the last model task_metadata.json names
    ]
    # Roo's request recorded no cost: the computed one (its price, or none) stands in
    assert query(sandbox, "SELECT source, cost_source FROM aggregate.fact_token_usage ORDER BY source") == [
        ("cline", "recorded"), ("kilo", "recorded"), ("roo", "computed")]


def test_a_broken_task_file_is_a_parse_error_of_its_own(sandbox):
    sandbox.write_config(quiet_seconds=0)  # a file that is not whole JSON is taken as it is at once
    good = cline_task_file(sandbox)
    write_cline_task(good, [cline_say(0, "text", "fix it"), cline_request(1, (100, 10, 0, 0), 0.1)])
    broken = cline_task_file(sandbox, "1772359999000")
    broken.parent.mkdir(parents=True)
    broken.write_text('[{"ts":1772359999000,"type":"say","say":"text","text":"hal')  # cut off mid-write, never finished
    materialize_all(sandbox)

    assert calls(sandbox) == [(CLINE_TASK, CLINE_MODEL, 100, 10, 0, 0, 0.1)]
    assert query(sandbox, "SELECT source, path, line_number FROM normalized.normalized_parse_errors") == [
        ("cline", str(broken), 0)]


def test_tool_calls_have_an_unknown_outcome_never_ok_and_a_call_still_streaming_has_none_yet(sandbox):
    """ui_messages.json ties no outcome to a call (no approval answer, no exit code, a failed API request is not a
    tool's): every complete tool or command message is a call with an unknown outcome, not counted as ok or failed;
    a partial one (the file written while it streamed) has no result yet, until the file holds it complete."""
    path = cline_task_file(sandbox)
    prompt = cline_say(0, "text", "run the tests")
    read = cline_say(2, "tool", json.dumps({"tool": "readFile", "path": "main.py", "content": "/p/main.py"}),
                     partial=False)
    command = cline_ask(4, "command", "pytest -q")
    output = cline_ask(5, "command_output", "1 failed, 3 passed")
    edit = {"tool": "editedExistingFile", "path": "main.py", "content": "@@ -1 +1 @@"}
    write_cline_task(path, [prompt, cline_request(1, (10, 5, 0, 0), 0), read, command, output,
                            cline_request(6, (10, 5, 0, 0), 0),
                            cline_ask(7, "api_req_failed", json.dumps({"message": "Bad Request"})),
                            cline_ask(8, "tool", json.dumps(edit), partial=True)])
    materialize_all(sandbox)

    def tool_calls():
        return query(sandbox, "SELECT call_id, tool_name, status, status_reason, is_error, exit_code "
                              "FROM normalized.normalized_tool_calls WHERE source = 'cline' ORDER BY called_at")

    ts = [str(message["ts"]) for message in (read, command, cline_ask(8, "tool"))]
    assert tool_calls() == [(ts[0], "readFile", "unknown", None, None, None),
                            (ts[1], "execute_command", "unknown", None, None, None),
                            (ts[2], "editedExistingFile", "pending", None, None, None)]

    write_cline_task(path, [prompt, cline_request(1, (10, 5, 0, 0), 0), read, command, output,
                            cline_request(6, (10, 5, 0, 0), 0),
                            cline_ask(7, "api_req_failed", json.dumps({"message": "Bad Request"})),
                            cline_ask(8, "tool", json.dumps(edit), partial=False)])
    materialize_all(sandbox)
    assert tool_calls()[2] == (ts[2], "editedExistingFile", "unknown", None, None, None)
