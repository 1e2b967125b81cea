"""The benchmark corpus generator: deterministic, and faithful enough that every line normalizes."""

import hashlib
from pathlib import Path

from star_pipeline.bench.generate import generate
from star_pipeline_tests.conftest import materialize_all, query


def digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.jsonl"))}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    generate(tmp_path / "a", 1)
    generate(tmp_path / "b", 1)
    generate(tmp_path / "c", 1, seed=8)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_a_bigger_corpus_stays_within_the_span_of_days(sandbox):
    """Sessions past the span start again from its first day: a heavier user, not a longer history."""
    generate(sandbox.root / "gen", 1, span_days=0.25)  # about 5 sessions and rollouts, 2 per 6-hour round
    sandbox.write_config(claude_roots=[sandbox.root / "gen" / "claude" / "projects"],
                         codex_roots=[sandbox.root / "gen" / "codex" / "sessions"])
    materialize_all(sandbox)
    (first, last, sessions), = query(sandbox, "SELECT min(first_event_ts), max(first_event_ts), count(*) "
                                              "FROM normalized.normalized_sessions WHERE file_kind = 'main'")
    assert sessions >= 3
    assert first.isoformat().startswith("2026-03-01T09:00") and (last - first).total_seconds() < 6 * 3600


def test_generated_corpus_is_parsed_without_errors_and_has_the_traps(sandbox):
    written = generate(sandbox.root / "gen", 1.5)
    assert all(size > 0 for size in written.values())
    sandbox.write_config(claude_roots=[sandbox.root / "gen" / "claude" / "projects"],
                         codex_roots=[sandbox.root / "gen" / "codex" / "sessions"])
    sandbox.spool_dir = sandbox.root / "gen" / "spool"
    text = sandbox.config_path.read_text().replace(str(sandbox.root / "spool"), str(sandbox.spool_dir))
    sandbox.config_path.write_text(text)
    materialize_all(sandbox)
    assert query(sandbox, "SELECT count(*) FROM normalized.normalized_parse_errors") == [(0,)]
    # split messages: more assistant lines than API calls; Codex re-emits: more token_count events than calls
    lines, calls = query(sandbox, "SELECT (SELECT count(*) FROM normalized.normalized_messages WHERE record_type = 'assistant'), "
                                  "(SELECT count(*) FROM normalized.normalized_usage WHERE source = 'claude_code')")[0]
    assert lines > calls > 0
    events, codex_calls = query(sandbox, "SELECT (SELECT count(*) FROM normalized.normalized_messages WHERE subtype = 'token_count'), "
                                         "(SELECT count(*) FROM normalized.normalized_usage WHERE source = 'codex')")[0]
    assert events > codex_calls > 0
    assert query(sandbox, "SELECT count(*) > 0 FROM normalized.normalized_hook_events")[0][0]
    assert query(sandbox, "SELECT count(*) FROM normalized.normalized_sessions WHERE file_kind = 'subagent'")[0][0] > 0
