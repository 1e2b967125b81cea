"""`star-pipeline hook`: one line per payload, owner-only files, always exit 0, no heavy imports."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from star_pipeline.agent_side.hook import run_hook, spool_line
from star_pipeline_tests.conftest import SHARED_CORPUS

STAR_PIPELINE = str(Path(sys.executable).with_name("star-pipeline"))


def spooled(spool_dir: Path) -> list[dict]:
    lines = []
    for path in sorted(spool_dir.glob("hook-events-*.jsonl")):
        lines += [json.loads(line) for line in path.read_bytes().splitlines()]
    return lines


def test_payload_is_spooled_verbatim_with_received_at(tmp_path):
    payload = b'{"session_id":"s1","hook_event_name":"PostToolUse","tool_name":"Bash","duration_ms":12,"x":"\\ud83d"}'
    proc = subprocess.run([STAR_PIPELINE, "hook", "--spool-dir", str(tmp_path / "spool")], input=payload, capture_output=True)
    assert proc.returncode == 0 and proc.stdout == b"" and proc.stderr == b""
    [path] = (tmp_path / "spool").glob("hook-events-*.jsonl")
    line = path.read_bytes()
    assert line.endswith(payload + b"}\n")
    record = json.loads(line)
    assert record["payload"]["tool_name"] == "Bash" and record["received_at"].endswith("Z")
    from star_pipeline.storage.machine_id import default_machine_id

    # the machine's name (machine.id's default) in the file name: two machines' spools never share a path
    assert path.name == f"hook-events-{default_machine_id()}-{record['received_at'][:10]}.jsonl"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "spool").st_mode & 0o777 == 0o700


def test_pretty_printed_payload_stays_one_line(tmp_path):
    payload = json.dumps({"hook_event_name": "Stop", "message": "two\nlines"}, indent=2).encode()
    line = spool_line(payload, "2026-01-01T00:00:00.000000Z")
    assert line.count(b"\n") == 1 and json.loads(line)["payload"]["message"] == "two\nlines"


def test_non_json_and_invalid_utf8_payloads_are_kept_as_text(tmp_path):
    for payload in (b"not json at all", b'{"a": "\xff\xfe"}', b""):
        assert run_hook(str(tmp_path), stdin=__import__("io").BytesIO(payload)) == 0
    records = spooled(tmp_path)
    assert [r.get("payload_text") for r in records] == ["not json at all", '{"a": "\\xff\\xfe"}', ""]


def test_errors_never_fail_the_agent_and_are_logged(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the spool folder should be")
    env = {**os.environ, "HOME": str(tmp_path)}
    proc = subprocess.run(
        [STAR_PIPELINE, "hook", "--spool-dir", str(blocker / "spool")], input=b"{}", capture_output=True, env=env
    )
    assert proc.returncode == 0 and proc.stderr == b""
    error_log = tmp_path / ".local/share/star_pipeline/hook-errors.log"
    assert error_log.exists() and "NotADirectoryError" in error_log.read_text().splitlines()[-1]


def test_concurrent_hooks_write_whole_lines(tmp_path):
    spool = tmp_path / "spool"
    big = json.dumps({"hook_event_name": "PostToolUse", "tool_response": "x" * 200_000})

    def fire(i):
        subprocess.run([STAR_PIPELINE, "hook", "--spool-dir", str(spool)], input=big.replace("PostToolUse", f"E{i}").encode())

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = sorted(r["payload"]["hook_event_name"] for r in spooled(spool))
    assert names == sorted(f"E{i}" for i in range(12))


def test_hook_imports_neither_dagster_nor_duckdb(tmp_path):
    code = (
        "import sys, io; from star_pipeline.cli import main; "
        "sys.stdin = io.TextIOWrapper(io.BytesIO(b'{}')); "
        f"main(['hook', '--spool-dir', {str(tmp_path)!r}]); "
        "heavy = [m for m in ('dagster', 'duckdb', 'yaml', 'pyarrow') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""
    assert len(spooled(tmp_path)) == 1


def test_real_payload_samples_spool_and_parse_back(tmp_path):
    samples = SHARED_CORPUS / "hooks"
    if not samples.is_dir():
        import pytest

        pytest.skip("../shared/corpus is not present")
    sent = []
    for path in sorted(samples.glob("*.json")):
        for payload in json.loads(path.read_text()):
            sent.append(payload)
            run_hook(str(tmp_path), stdin=__import__("io").BytesIO(json.dumps(payload).encode()))
    assert [r["payload"] for r in spooled(tmp_path)] == sent
