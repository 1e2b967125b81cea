"""Crush and Aider write into the project folder: found there by the project folders' scan with no configuration
(`sources.project_roots` replacing it), Crush's rows read from the database and its write-ahead log together,
each session booked once as stored (its LAST call's tokens, its running cost), Aider's `> Tokens:` lines one
call each with the run's model, and a bad file of either beside good ones isolated."""

import io
import json
import shutil
import sqlite3

from star_pipeline.reports.report import ReportOptions, run_report
from star_pipeline.search.query import SearchOptions, run_search
from star_pipeline_tests.builders import new_uuid, session_file, user, write_jsonl
from star_pipeline_tests.conftest import materialize_all, query

CRUSH_SCHEMA = """
CREATE TABLE sessions (id TEXT PRIMARY KEY, parent_session_id TEXT, title TEXT NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0, prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0, cost REAL NOT NULL DEFAULT 0.0, updated_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL, summary_message_id TEXT);
CREATE TABLE messages (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, role TEXT NOT NULL, parts TEXT NOT NULL default '[]',
    model TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, finished_at INTEGER, provider TEXT);
CREATE TABLE files (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, path TEXT NOT NULL, content TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
"""
AUG_10 = 1754784000  # 2025-08-10 00:00:00 UTC


def parts(*items) -> str:
    return json.dumps([{"type": kind, "data": data} for kind, data in items])


def crush_project(folder, *, close: bool = True):
    """A Crush database in WAL mode whose rows are only in its -wal (as Crush leaves it: no checkpoint), in
    `folder`/.crush; the connection is returned open when `close` is False (Crush running)."""
    path = folder / ".crush" / "crush.db"
    path.parent.mkdir(parents=True)
    written = path if not close else folder / "scratch.db"
    db = sqlite3.connect(written, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.executescript(CRUSH_SCHEMA)
    db.execute("INSERT INTO sessions VALUES ('s1', NULL, 'Fix the parser', 4, 1500, 40, 0.25, ?, ?, NULL)",
               [AUG_10 + 7200, AUG_10 + 60])
    db.execute("INSERT INTO sessions VALUES ('s2', NULL, 'New Session', 0, 0, 0, 0.0, ?, ?, NULL)", [AUG_10, AUG_10])
    rows = [("m1", "user", parts(("text", {"text": "fix the parser"})), "", 100),
            ("m2", "assistant", parts(("text", {"text": "Reading it."}),
                                      ("tool_call", {"id": "c1", "name": "view", "input": '{"file_path":"/p/parser.py"}'})),
             "gpt-5", 200),
            ("m3", "tool", parts(("tool_result", {"tool_call_id": "c1", "name": "view", "content": "def parse(): ...",
                                                  "is_error": False})), "", 300),
            ("m4", "assistant", parts(("text", {"text": "Done: AKIAIOSFODNN7EXAMPLE was in the config."})),
             "gemini-2.5-pro", 400)]
    for message_id, role, body, model, offset in rows:
        db.execute("INSERT INTO messages VALUES (?, 's1', ?, ?, ?, ?, ?, NULL, 'openai')",
                   [message_id, role, body, model, AUG_10 + offset, AUG_10 + offset])
    db.execute("INSERT INTO files VALUES ('f1', 's1', '/p/.env', 'API_KEY=do-not-store', 0, 1, 1)")
    if close:  # as a committed project holds it: the database and its log as Crush left them, no -shm
        shutil.copyfile(written, path)
        shutil.copyfile(f"{written}-wal", f"{path}-wal")
        db.close()
        written.unlink()
        assert (folder / ".crush" / "crush.db-wal").stat().st_size > 0  # the rows are in the log only
        return None
    return db


AIDER_HISTORY = """
# aider chat started at 2025-05-04 23:30:00

> /usr/bin/aider --model openai/qwen3:32b  
> Aider v0.82.2  
> Main model: openai/qwen3:32b with diff edit format  
> Weak model: openai/qwen3:4b  

#### explain the calculator  

It adds numbers.

> Tokens: 2.4k sent, 749 received.  

#### /model gemini/gemini-2.5-pro  

> Main model: gemini/gemini-2.5-pro with diff-fenced edit format  

#### and now?  

Still adds numbers.

> Tokens: 12k sent, 1.1k cache write, 800 cache hit, 1.0k received. Cost: $0.0170 message, $0.0170 session.  

# aider chat started at 2025-05-05 08:00:00

> Model: openai/qwen3:32b with whole edit format  

#### hi  

Hello.

> Tokens: 950 sent, 12 received. Cost: $0.0011 message, $0.0011 session.  
"""


def test_project_folders_are_found_without_configuration(sandbox):
    crush_project(sandbox.home / "projects" / "blog")
    (sandbox.home / "code" / "calc").mkdir(parents=True)
    (sandbox.home / "code" / "calc" / ".aider.chat.history.md").write_text(AIDER_HISTORY)
    # under a skipped folder, and deeper than the scan goes: not found
    (sandbox.home / "node_modules" / "pkg").mkdir(parents=True)
    (sandbox.home / "node_modules" / "pkg" / ".aider.chat.history.md").write_text(AIDER_HISTORY)
    deep = sandbox.home / "a" / "b" / "c" / "d" / "e"
    deep.mkdir(parents=True)
    (deep / ".aider.chat.history.md").write_text(AIDER_HISTORY)
    assert materialize_all(sandbox).success

    # Crush: each session once, as stored: its last call's tokens, its running cost, at updated_at, with its last
    # assistant message's model; a session with no tokens and no cost is no call
    assert query(sandbox, """
        SELECT session_id, model, strftime(event_ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M'), input_tokens, output_tokens,
               recorded_cost_usd FROM normalized.normalized_usage WHERE source = 'crush'""") == [
        ("s1", "gemini-2.5-pro", "2025-08-10 02:00", 1500, 40, 0.25)]
    texts = query(sandbox, "SELECT role, message_text, cwd FROM normalized.normalized_messages WHERE source = 'crush' "
                           "AND record_type = 'messages' ORDER BY event_ts")
    assert [(role, text) for role, text, _cwd in texts] == [
        ("user", "fix the parser"), ("assistant", "Reading it."), ("tool", ""),
        ("assistant", "Done: AKIAIOSFODNN7EXAMPLE was in the config.")]
    assert {cwd for _role, _text, cwd in texts} == {str(sandbox.home / "projects" / "blog")}
    assert query(sandbox, "SELECT tool_name, target_path FROM normalized.normalized_tool_calls WHERE source = 'crush'") == [
        ("view", "/p/parser.py")]
    # the files table (whole source files, where credentials sit) is never stored
    assert query(sandbox, "SELECT count(*) FROM raw.crush_lines WHERE decode(line_bytes) LIKE '%do-not-store%'") == [(0,)]
    # the agent's folder is left as it was: no -shm beside a database nobody has open
    assert not (sandbox.home / "projects" / "blog" / ".crush" / "crush.db-shm").exists()

    # Aider: one call per Tokens line, counts as printed (2.4k = 2,400), the model of the run in use then
    # (a /model switch changes it), on the run's start day as written, the cost of its `$x message` part
    assert query(sandbox, """
        SELECT strftime(event_ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M'), model, input_tokens, output_tokens,
               cache_creation_input_tokens, cache_read_input_tokens, recorded_cost_usd
        FROM normalized.normalized_usage WHERE source = 'aider' ORDER BY byte_offset""") == [
        ("2025-05-04 23:30", "openai/qwen3:32b", 2400, 749, 0, 0, None),
        ("2025-05-04 23:30", "gemini/gemini-2.5-pro", 12000, 1000, 1100, 800, 0.017),
        ("2025-05-05 08:00", "openai/qwen3:32b", 950, 12, 0, 0, 0.0011)]
    assert query(sandbox, "SELECT DISTINCT path FROM normalized.normalized_usage WHERE source = 'aider'") == [
        (str(sandbox.home / "code" / "calc" / ".aider.chat.history.md"),)]
    assert query(sandbox, "SELECT count(DISTINCT session_id) FROM normalized.normalized_messages WHERE source = 'aider' "
                          "AND record_type = 'user'") == [(2,)]  # two runs
    assert ("explain the calculator",) in query(
        sandbox, "SELECT message_text FROM normalized.normalized_messages WHERE source = 'aider' AND role = 'user'")
    # secrets are classified, and search finds both agents' sessions with the secret masked
    assert query(sandbox, "SELECT source, kind FROM classified.derived_secret_findings") == [("crush", "aws_access_key_id")]
    out = io.StringIO()
    assert run_search(SearchOptions("config", as_json=True, mode="lexical"), sandbox.warehouse, out=out) == 0
    assert [(h["source"], h["session_id"]) for h in json.loads(out.getvalue())["hits"]] == [("crush", "s1")]
    assert "AKIAIOSFODNN7EXAMPLE" not in out.getvalue()
    out = io.StringIO()
    assert run_search(SearchOptions("calculator", as_json=True, mode="lexical"), sandbox.warehouse, out=out) == 0
    assert {h["source"] for h in json.loads(out.getvalue())["hits"]} == {"aider"}
    # a report with their rows says how each agent records usage; one without them says nothing of it
    def report_notes(**options) -> str:
        err = io.StringIO()
        assert run_report(ReportOptions("daily", as_json=True, **options), sandbox.warehouse, out=io.StringIO(), err=err) == 0
        return err.getvalue()
    everything = report_notes()
    assert "LAST call only" in everything and "rounded for display" in everything
    assert "LAST call only" in report_notes(source="crush") and "rounded" not in report_notes(source="crush")
    assert "star-pipeline report: Crush" not in report_notes(since="2025-09-01")  # no rows of either in the range
    assert "star-pipeline report: Aider" not in report_notes(since="2025-09-01")
    # the scan's result is kept beside the warehouse, owner-only
    cache = sandbox.warehouse.parent / "project_folders.json"
    assert json.loads(cache.read_text())["folders"] == [str(sandbox.home / "code" / "calc"),
                                                        str(sandbox.home / "projects" / "blog")]
    assert cache.stat().st_mode & 0o077 == 0


def test_project_roots_replace_the_home_scan_and_crushs_own_list_is_read(sandbox):
    crush_project(sandbox.home / "projects" / "blog")
    elsewhere = sandbox.root / "work" / "calc"
    elsewhere.mkdir(parents=True)
    (elsewhere / ".aider.chat.history.md").write_text(AIDER_HISTORY)
    # a Crush project the scan does not reach, listed in Crush's projects.json (through a link: stored by its
    # real path, as every file found is)
    listed = sandbox.root / "srv" / "api"
    crush_project(listed)
    (sandbox.root / "link").symlink_to(sandbox.root / "srv")
    index = sandbox.home / ".local" / "share" / "crush" / "projects.json"
    index.parent.mkdir(parents=True)
    index.write_text(json.dumps({"projects": [{"path": str(sandbox.root / "link" / "api"),
                                               "data_dir": str(sandbox.root / "link" / "api" / ".crush"),
                                               "last_accessed": "2025-08-10T02:00:00Z"}]}))
    sandbox.write_config(extra="", agent_roots={"project_roots": [sandbox.root / "work"]})
    assert materialize_all(sandbox).success
    assert query(sandbox, "SELECT source, path, count(*) FROM normalized.normalized_usage GROUP BY ALL ORDER BY 1") == [
        ("aider", str(elsewhere / ".aider.chat.history.md"), 3), ("crush", str(listed / ".crush" / "crush.db"), 1)]


def test_a_running_crush_is_read_with_its_log_and_a_bad_file_of_each_agent_is_isolated(sandbox):
    live = crush_project(sandbox.home / "projects" / "live", close=False)  # Crush holds it open: its -shm exists
    broken = sandbox.home / "projects" / "broken" / ".crush" / "crush.db"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    (sandbox.home / "projects" / "calc").mkdir(parents=True)
    (sandbox.home / "projects" / "calc" / ".aider.chat.history.md").write_text(AIDER_HISTORY)
    garbled = sandbox.home / "projects" / "garbled" / ".aider.chat.history.md"
    garbled.parent.mkdir(parents=True)
    garbled.write_bytes(b"# aider chat started at 2025-05-06 10:00:00\n\xff\xfe\x00garbage\n> Tokens: 1\xffk sent\n")
    try:
        assert materialize_all(sandbox).success
        assert query(sandbox, "SELECT source, count(*) FROM normalized.normalized_usage GROUP BY ALL ORDER BY 1") == [
            ("aider", 3), ("crush", 1)]
        # the database that is not one is recorded as unreadable, and nothing of it is stored
        assert query(sandbox, "SELECT capture_error IS NOT NULL FROM raw.crush_files WHERE path LIKE '%/broken/%'") == [(True,)]
        # the garbled lines are parse errors, kept; the good lines of that file are read
        assert query(sandbox, "SELECT count(*) FROM normalized.normalized_parse_errors WHERE source = 'aider'") == [(2,)]
    finally:
        live.close()


def test_the_folder_of_another_agents_session_is_looked_at(sandbox):
    """A project outside the home folder's scan (here: outside home) is found through the cwd a Claude Code
    session recorded there, from the run after that session's: the step that publishes the reports' copy
    notes the sessions' folders for the scan, which never opens the warehouse."""
    project = sandbox.root / "srv" / "work" / "calc"
    project.mkdir(parents=True)
    (project / ".aider.chat.history.md").write_text(AIDER_HISTORY)
    session = new_uuid()
    write_jsonl(session_file(sandbox, session), [user(session, 0, cwd=str(project / "src"))])
    assert materialize_all(sandbox).success
    assert query(sandbox, "SELECT count(*) FROM normalized.normalized_usage WHERE source = 'aider'") == [(0,)]
    assert materialize_all(sandbox).success
    assert query(sandbox, "SELECT count(*) FROM normalized.normalized_usage WHERE source = 'aider'") == [(3,)]
