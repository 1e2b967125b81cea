"""Amp: a thread with a usage ledger counts one call per ledger event (title generation too), its cache
from the message the event accounts for; a thread without one counts each assistant usage; a thread
rewritten with more messages counts every call once, as last written."""

from star_pipeline_tests.builders import (
    OPUS,
    amp_file,
    amp_ledger_event,
    amp_message,
    amp_usage,
    write_amp_thread,
)
from star_pipeline_tests.conftest import materialize_all, query

LEDGER = "T-6b45efa0-1bae-4277-9991-293950d0ab14"
PLAIN = "T-019ca1f6-7f21-77b5-a308-65416ebbdf48"
SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-3-5-haiku-20241022"


def usage(sandbox) -> list[tuple]:
    return query(sandbox, "SELECT session_id, model, input_tokens, output_tokens, cache_creation_input_tokens, "
                          "cache_read_input_tokens FROM normalized.normalized_usage WHERE source = 'amp' "
                          "ORDER BY session_id, event_ts")


def ask(n: int) -> dict:
    return amp_message(n, "user", [{"type": "text", "text": "hi"}])


def test_ledger_events_with_the_message_cache_or_else_the_messages_never_both(sandbox):
    write_amp_thread(amp_file(sandbox, LEDGER), LEDGER, [
        ask(0), amp_message(1, "assistant", [{"type": "text", "text": "Hello"}], usage=amp_usage(1, 9, 63, 1948, 13000, SONNET)),
    ], ledger=[amp_ledger_event(0.5, "title-generation", HAIKU, 590, 27, 0),
               amp_ledger_event(1, "inference", SONNET, 9, 63, 1)])
    write_amp_thread(amp_file(sandbox, PLAIN), PLAIN, [
        ask(0),
        amp_message(1, "assistant", [{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "/p/jokes.csv"}}],
                    usage=amp_usage(2, 3, 70, 1601, 13248)),
        amp_message(2, "user", [{"type": "tool_result", "toolUseID": "toolu_1", "run": {"status": "done", "result": "1: id"}}]),
        amp_message(3, "assistant", [{"type": "text", "text": "Added."}], usage=amp_usage(3, 1, 84, 420, 14849)),
    ])
    materialize_all(sandbox)

    assert usage(sandbox) == [
        (PLAIN, OPUS, 3, 70, 1601, 13248),
        (PLAIN, OPUS, 1, 84, 420, 14849),
        (LEDGER, HAIKU, 590, 27, 0, 0),
        (LEDGER, SONNET, 9, 63, 1948, 13000),
    ]
    assert query(sandbox, "SELECT tool_name, status, target_path FROM normalized.normalized_tool_calls "
                          "WHERE source = 'amp'") == [("Read", "ok", "/p/jokes.csv")]


def test_a_thread_rewritten_with_more_messages_counts_each_call_once_as_last_written(sandbox):
    path = amp_file(sandbox, PLAIN)
    streaming = amp_message(1, "assistant", [{"type": "text", "text": "on"}], usage=amp_usage(1, 3, 10, 1601, 13248))
    write_amp_thread(path, PLAIN, [ask(0), streaming | {"state": {"type": "streaming"}}], v=1)
    materialize_all(sandbox)
    done = amp_message(1, "assistant", [{"type": "text", "text": "one"}], usage=amp_usage(1, 3, 70, 1601, 13248))
    write_amp_thread(path, PLAIN, [ask(0), done, ask(2), amp_message(3, "assistant", [{"type": "text", "text": "two"}],
                                                                     usage=amp_usage(3, 1, 84, 420, 14849))], v=2)
    materialize_all(sandbox)

    assert usage(sandbox) == [(PLAIN, OPUS, 3, 70, 1601, 13248), (PLAIN, OPUS, 1, 84, 420, 14849)]
    assert query(sandbox, "SELECT count(*) FROM raw.amp_files") == [(2,)]
