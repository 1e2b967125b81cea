"""bench/ducklake.py's split of a corpus among three writers: disjoint, covering, whole sessions, balanced."""

from star_pipeline.bench.ducklake import session_unit, split_files


def test_a_session_and_its_subagent_files_are_one_unit():
    assert session_unit("claude/-bench-project-0/-home-u/abc.jsonl") == "claude/-bench-project-0/-home-u/abc"
    assert session_unit("claude/-bench-project-0/-home-u/abc/subagents/agent-1.jsonl") == \
        "claude/-bench-project-0/-home-u/abc"
    assert session_unit("codex/2026/03/01/rollout-x.jsonl") == "codex/2026/03/01/rollout-x"


def test_the_parts_are_disjoint_cover_every_file_keep_sessions_whole_and_are_balanced():
    sizes = {}
    for n in range(30):
        sizes[f"claude/p{n % 4}/s{n}.jsonl"] = 1000 + 37 * n
        for agent in range(n % 3):
            sizes[f"claude/p{n % 4}/s{n}/subagents/agent-{agent}.jsonl"] = 200 + n
    for n in range(7):
        sizes[f"codex/2026/03/0{n % 9 + 1}/rollout-{n}.jsonl"] = 5000 - 300 * n

    parts = split_files(sizes)

    assert len(parts) == 3
    assert sorted(key for part in parts for key in part) == sorted(sizes)  # every file, none twice
    owner = {session_unit(key): i for i, part in enumerate(parts) for key in part}
    assert all(owner[session_unit(key)] == i for i, part in enumerate(parts) for key in part)  # sessions whole
    totals = [sum(sizes[key] for key in part) for part in parts]
    largest_unit = max(sum(size for key, size in sizes.items() if session_unit(key) == unit) for unit in owner)
    assert max(totals) - min(totals) <= largest_unit


def test_fewer_sessions_than_writers_leave_a_part_empty():
    assert split_files({"claude/p/s.jsonl": 10, "claude/p/s/subagents/a.jsonl": 5}) == \
        [["claude/p/s.jsonl", "claude/p/s/subagents/a.jsonl"], [], []]
