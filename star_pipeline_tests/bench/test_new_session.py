"""The new session `make bench` adds (issue 29's 3.5 MB and 50 KB ones), and what it reads from agentsview's output."""

import json
from pathlib import Path

from star_pipeline.bench.agentsview import synced_sessions, usage_total
from star_pipeline.bench.measure import pick_transcripts, renewed_session

SESSION_A = "11111111-2222-4333-8444-555555555555"
SESSION_B = "66666666-7777-4888-9999-aaaaaaaaaaaa"


def test_a_transcript_of_about_the_size_is_taken_alone():
    sizes = {Path("small"): 51_000, Path("big"): 3_000_000, Path("middle"): 2_000_000}
    assert pick_transcripts(sizes, 50 * 1024) == [Path("small")]


def test_without_one_of_about_the_size_the_largest_are_joined_until_they_reach_it():
    sizes = {Path("small"): 51_000, Path("big"): 3_000_000, Path("middle"): 2_000_000, Path("other"): 900_000}
    assert pick_transcripts(sizes, int(3.5 * 2**20)) == [Path("big"), Path("middle")]
    assert sorted(pick_transcripts(sizes, 10**9)) == sorted(sizes)  # all of them when all fall short


def transcript(folder: Path, session: str, lines: int) -> Path:
    path = folder / f"{session}.jsonl"
    rows = [{"type": "assistant", "sessionId": session, "uuid": f"{n:08x}-0000-4000-8000-{n:012x}",
             "message": {"id": f"msg_{session[:4]}{n}", "content": [{"type": "text", "text": "x" * 200}]},
             "requestId": f"req_{n}"} for n in range(lines)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_joined_transcripts_become_one_new_session_cut_at_a_line_end(tmp_path):
    sources = [transcript(tmp_path, SESSION_A, 40), transcript(tmp_path, SESSION_B, 40)]
    whole = sum(source.stat().st_size for source in sources)
    target = whole - 1000  # the cut falls inside the second transcript

    session, size = renewed_session(sources, tmp_path / "new", target)

    written = tmp_path / "new" / f"{session}.jsonl"
    data = written.read_bytes()
    assert size == len(data) <= target and data.endswith(b"\n") and size > whole - 1500
    rows = [json.loads(line) for line in data.splitlines()]  # every line whole
    assert {row["sessionId"] for row in rows} == {session} and session not in (SESSION_A, SESSION_B)
    originals = {json.loads(line)["uuid"] for source in sources for line in source.read_text().splitlines()}
    assert not originals & {row["uuid"] for row in rows}
    assert len({row["uuid"] for row in rows}) == len(rows)  # the two sources' ids stay apart
    old_messages = {f"msg_{source[:4]}{n}" for source in (SESSION_A, SESSION_B) for n in range(40)}
    assert not {row["message"]["id"] for row in rows} & old_messages


def test_a_first_line_longer_than_the_target_is_kept_whole(tmp_path):
    source = transcript(tmp_path, SESSION_A, 3)
    session, size = renewed_session([source], tmp_path / "new", 10)
    written = (tmp_path / "new" / f"{session}.jsonl").read_text().splitlines()
    assert len(written) == 1 and json.loads(written[0])["uuid"] and size == len(written[0]) + 1


def test_agentsview_outputs():
    assert synced_sessions("Preparing sync...\nSync complete: 36 sessions synced in 955ms\n") == 36
    assert synced_sessions("Sync complete: 1 session synced in 20ms") == 1
    assert synced_sessions("something else") is None
    totals = {"inputTokens": 4600, "outputTokens": 352266, "cacheCreationTokens": 1970757, "cacheReadTokens": 63149988,
              "totalCost": {"microdollars": 41243008}}
    assert usage_total({"totals": totals}) == 4600 + 352266 + 1970757 + 63149988
    assert usage_total({"totals": {"inputTokens": 1}}) is None
