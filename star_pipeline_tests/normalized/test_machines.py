"""Two machines in one warehouse, through the normalized layer.

A transcript path captured on two machines is one session file (a synced copy): the normalized
layer reads one machine's lines per path (the smallest machine id), so its tokens count once,
whichever machine captured it first. Different paths on different machines all count.
"""

from __future__ import annotations

from star_pipeline_tests.builders import SLUG, assistant, usage, user, write_jsonl
from star_pipeline_tests.conftest import Sandbox, materialize_all, query
from star_pipeline_tests.raw.test_machines import on_machine

S1 = "11111111-57a5-4f26-b12d-d022ee4e51b7"
S2 = "22222222-57a5-4f26-b12d-d022ee4e51b7"


def calls(session: str, *tokens: tuple[int, int], start: int = 0) -> list[dict]:
    """A user prompt, then one assistant API call per (input, output) pair."""
    records = [user(session, start)] if start == 0 else []
    for n, (inp, out) in enumerate(tokens, start=start):
        records.append(assistant(session, 10 + n, f"msg_{session[:8]}_{n}", f"req_{session[:8]}_{n}", usage(inp, out)))
    return records


def usage_totals(box: Sandbox) -> list[tuple]:
    return query(box, "SELECT session_id, count(*), sum(input_tokens), sum(output_tokens) "
                      "FROM normalized.normalized_usage GROUP BY ALL ORDER BY 1")


def sessions(box: Sandbox) -> list[tuple]:
    return query(box, "SELECT session_id, machine_id, record_count FROM normalized.normalized_sessions "
                      "WHERE file_kind = 'main' ORDER BY 1")


def test_a_path_on_two_machines_counts_once_when_the_smaller_id_arrives_later(sandbox):
    path = sandbox.claude_root / SLUG / f"{S1}.jsonl"
    write_jsonl(path, calls(S1, (100, 10), (200, 20)))
    beta, alpha = on_machine(sandbox, "beta"), on_machine(sandbox, "alpha")
    materialize_all(beta)
    assert usage_totals(beta) == [(S1, 2, 300, 30)]
    assert sessions(beta) == [(S1, "beta", 3)]
    write_jsonl(path, calls(S1, (400, 40), start=2), append=True)  # alpha's copy has synced one call more

    materialize_all(alpha)  # alpha < beta: alpha's copy of the path is now the one read

    assert query(alpha, "SELECT machine_id, count(*) FROM raw.claude_code_lines GROUP BY ALL ORDER BY 1") == [
        ("alpha", 4), ("beta", 3)]  # raw keeps both
    assert usage_totals(alpha) == [(S1, 3, 700, 70)]  # the union of the calls, not 300 + 700
    assert sessions(alpha) == [(S1, "alpha", 4)]
    assert query(alpha, "SELECT DISTINCT machine_id FROM normalized.normalized_messages") == [("alpha",)]
    materialize_all(beta)  # beta runs again (nothing new): nothing changes
    assert usage_totals(beta) == [(S1, 3, 700, 70)] and sessions(beta) == [(S1, "alpha", 4)]


def test_a_path_on_two_machines_counts_once_when_the_larger_id_arrives_later(sandbox):
    path = sandbox.claude_root / SLUG / f"{S1}.jsonl"
    write_jsonl(path, calls(S1, (100, 10)))
    alpha, beta = on_machine(sandbox, "alpha"), on_machine(sandbox, "beta")
    materialize_all(alpha)
    write_jsonl(path, calls(S1, (200, 20), start=1), append=True)
    materialize_all(beta)  # beta's copy is further along, but alpha's stays the one read
    assert usage_totals(beta) == [(S1, 1, 100, 10)]
    write_jsonl(path, [], append=True)
    materialize_all(alpha)  # alpha's own copy catches up (the same file grew on alpha)
    assert usage_totals(alpha) == [(S1, 2, 300, 30)] and sessions(alpha) == [(S1, "alpha", 3)]


def test_different_paths_on_two_machines_all_count(sandbox, tmp_path):
    root_a, root_b = tmp_path / "a" / "projects", tmp_path / "b" / "projects"
    write_jsonl(root_a / SLUG / f"{S1}.jsonl", calls(S1, (100, 10), (200, 20)))
    write_jsonl(root_b / SLUG / f"{S2}.jsonl", calls(S2, (5000, 500)))
    a = on_machine(sandbox, "laptop-a", claude_roots=[root_a])
    b = on_machine(sandbox, "laptop-b", claude_roots=[root_b])
    materialize_all(b)
    materialize_all(a)
    assert usage_totals(a) == [(S1, 2, 300, 30), (S2, 1, 5000, 500)]
    assert sessions(a) == [(S1, "laptop-a", 3), (S2, "laptop-b", 2)]
