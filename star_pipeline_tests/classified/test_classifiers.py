"""The classified layer end to end: versioned YAML classifiers as Dagster partitions.

Every test writes realistic transcript lines (Claude Code and Codex, as the
agents write them), materializes through the real Definitions and checks what a
user would read in the classified tables: the kind of each message, the family
of each tool call, secret findings that never leak the secret, versions that
coexist and re-run identically, the classifier-files sensor and the checks.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from types import SimpleNamespace
from pathlib import Path

import duckdb
import pytest
import yaml
from dagster import (
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    SensorResult,
    SkipReason,
    build_sensor_context,
    define_asset_job,
)

from star_pipeline_tests.conftest import REPO_ROOT, Sandbox, build_defs, materialize_all, query
from star_pipeline_tests.builders import (
    CWD,
    assistant,
    claude,
    codex_file,
    copied_into,
    cx,
    session_file,
    session_meta,
    tool_result,
    tool_use,
    turn_context,
    usage,
    user,
    write_jsonl,
)

DEFAULT_CLASSIFIERS = REPO_ROOT / "config" / "classifiers"
CLASSIFIER_NAMES = ("session_kinds", "message_kinds", "tool_practices", "secret_findings")
MESSAGE_OP = "classified__derived_message_kinds"
SECRET_OP = "classified__derived_secret_findings"
FULL_REFRESH = {"ops": {MESSAGE_OP: {"config": {"full_refresh": True}}}}


# -- helpers -----------------------------------------------------------------------
def file_version(path: Path) -> str:
    """`<classifier>-<first 8 hex of sha256 of the file's bytes>`, computed independently of the product."""
    return f"{path.stem}-{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}"


def copy_classifiers(sandbox: Sandbox, tmp_path: Path) -> Path:
    folder = tmp_path / "classifiers"
    folder.mkdir()
    for path in DEFAULT_CLASSIFIERS.glob("*.yaml"):
        shutil.copy(path, folder)
    sandbox.write_config(extra=f"classified:\n  classifiers_dir: {folder}\n")
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not found exactly once in {path}"
    path.write_text(text.replace(old, new))


def rename_slash_command(folder: Path) -> None:
    edit(folder / "message_kinds.yaml", "  - kind: slash_command\n", "  - kind: command\n")


def message_kind_rows(sandbox: Sandbox, version: str | None = None) -> list[tuple]:
    where, params = ("WHERE classifier_version = ?", [version]) if version else ("", [])
    return query(sandbox, f"""
        SELECT classifier_version, source, path, file_version, byte_offset, kind, matched_rule
        FROM classified.derived_message_kinds {where} ORDER BY ALL""", params)


def kinds_by_uuid(sandbox: Sandbox, version: str) -> dict[str, str]:
    return dict(query(sandbox, """
        SELECT m.uuid, k.kind FROM classified.derived_message_kinds k
        JOIN normalized.normalized_messages m USING (source, path, file_version, byte_offset)
        WHERE k.classifier_version = ? AND m.uuid IS NOT NULL""", [version]))


def revision(versions: dict[str, str]) -> str:
    """A revision of the classifiers folder as a partition key: the files' versions, '+'-joined, in this order."""
    return "+".join(versions[name] for name in CLASSIFIER_NAMES if name in versions)


def current_revision(folder: Path) -> str:
    return revision({name: file_version(folder / f"{name}.yaml") for name in CLASSIFIER_NAMES})


def step_of(classifier: str) -> str:
    return f"classified__derived_{classifier}"


def runs_of(result, classifier: str) -> list:
    """The runs of a PipelineResult in which the classifier's step ran."""
    return [r for r in result.results if any(e.step_key == step_of(classifier) for e in r.all_events)]


def version_runs(result, classifier: str, instance=None) -> dict[str, bool]:
    """version -> whether the classifier's step succeeded, for each of its versions in the revisions of the
    runs of a PipelineResult (one revision: the partition tag; several: the registered ones of the range)."""
    outcomes = {}
    for run in runs_of(result, classifier):
        tags = run.dagster_run.tags
        if "dagster/partition" in tags:
            revisions = [tags["dagster/partition"]]
        else:
            registered = instance.get_dynamic_partitions("classifier_revisions")
            revisions = registered[registered.index(tags["dagster/asset_partition_range_start"]):
                                   registered.index(tags["dagster/asset_partition_range_end"]) + 1]
        failed = any(e.event_type == DagsterEventType.STEP_FAILURE and e.step_key == step_of(classifier)
                     for e in run.all_events)
        for key in revisions:
            for version in key.split("+"):
                if version.startswith(classifier + "-"):
                    outcomes[version] = not failed
    return outcomes


def check_outcomes(result, table: str) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations() if e.asset_key.path[-1] == table}


def user_error_messages(*results) -> list[str]:
    """The messages of the exceptions behind every failed step (Dagster's wrappers unwrapped)."""
    messages = []
    for event in (e for result in results for e in result.all_events):
        if event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            while error.cause is not None:
                error = error.cause
            messages.append(error.message)
    return messages


def tamper(sandbox: Sandbox, sql: str) -> None:
    conn = duckdb.connect(str(sandbox.warehouse))
    try:
        conn.execute(sql)
    finally:
        conn.close()


def run_logs(instance, result) -> list[str]:
    return [entry.user_message for r in result.results for entry in instance.all_logs(r.run_id)]


# -- fixture transcripts -----------------------------------------------------------
KINDS_SESSION = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
KINDS_CODEX = "019a1b2c-3d4e-7f60-8a1b-2c3d4e5f6a7b"
SLASH_UUID = "5f0c1a2e-0000-4000-8000-00000000a002"

# uuid -> expected kind, in file order
CLAUDE_KINDS = {
    "5f0c1a2e-0000-4000-8000-00000000a001": "human_prompt",
    SLASH_UUID: "slash_command",
    "5f0c1a2e-0000-4000-8000-00000000a003": "interruption",
    "5f0c1a2e-0000-4000-8000-00000000a004": "context_injection",  # isMeta
    "5f0c1a2e-0000-4000-8000-00000000a005": "context_injection",  # <system-reminder>
    "5f0c1a2e-0000-4000-8000-00000000a006": "assistant_tool_use",
    "5f0c1a2e-0000-4000-8000-00000000a007": "tool_result",
    "5f0c1a2e-0000-4000-8000-00000000a008": "compaction_summary",
    "5f0c1a2e-0000-4000-8000-00000000a009": "assistant_text",
    "5f0c1a2e-0000-4000-8000-00000000a010": "event",  # progress
}
# line number -> expected kind
CODEX_KINDS = {
    1: "event",  # session_meta
    2: "event",  # turn_context
    3: "context_injection",  # developer message
    4: "context_injection",  # <environment_context> user message
    5: "human_prompt",
    6: "assistant_text",
    7: "assistant_tool_use",  # function_call
    8: "tool_result",  # function_call_output
}


def write_kinds_session(sandbox: Sandbox) -> Path:
    s = KINDS_SESSION
    u = list(CLAUDE_KINDS)
    return write_jsonl(session_file(sandbox, s), [
        user(s, 0, "The login test fails on CI, can you look?", uuid=u[0]),
        user(s, 1, "<command-name>/review</command-name>\n            <command-message>review</command-message>\n"
                   "            <command-args></command-args>", uuid=u[1]),
        user(s, 2, [{"type": "text", "text": "[Request interrupted by user]"}], uuid=u[2]),
        user(s, 3, "Caveat: The messages below were generated by the user while running local commands. "
                   "DO NOT respond to these messages.", isMeta=True, uuid=u[3]),
        user(s, 4, [{"type": "text", "text": "<system-reminder>\nThe file src/login.py was modified by the user."
                                             "\n</system-reminder>"}], uuid=u[4]),
        assistant(s, 5, "msg_01KindsAA", "req_011KindsAA", usage(3, 40, cr=1200), uuid=u[5],
                  content=[tool_use("toolu_01KindsRead", "Read", file_path=f"{CWD}/src/login.py")]),
        user(s, 6, [tool_result("toolu_01KindsRead", "def login(): ...")], uuid=u[6],
             toolUseResult={"type": "text", "file": {"filePath": f"{CWD}/src/login.py", "numLines": 1}}),
        user(s, 7, "This session is being continued from a previous conversation that ran out of context. "
                   "The conversation is summarized below: ...", isCompactSummary=True, isVisibleInTranscriptOnly=True,
             uuid=u[7]),
        assistant(s, 8, "msg_01KindsBB", "req_011KindsBB", usage(5, 60, cr=1500), uuid=u[8],
                  content=[{"type": "text", "text": "The test expects a trailing slash."}]),
        claude("progress", s, 9, uuid=u[9], data={"type": "hook_progress", "hookEvent": "PostToolUse",
                                                  "hookName": "PostToolUse:Read", "command": "echo ok"},
               toolUseID="toolu_01KindsRead", parentToolUseID="toolu_01KindsRead"),
    ])


def write_kinds_rollout(sandbox: Sandbox) -> Path:
    c = KINDS_CODEX
    return write_jsonl(codex_file(sandbox, c), [
        session_meta(c, 0),
        turn_context(1, "gpt-5-codex"),
        cx(2, "response_item", {"type": "message", "role": "developer", "content": [
            {"type": "input_text", "text": "<permissions instructions>\nFilesystem sandboxing: workspace-write\n"
                                           "</permissions instructions>"}]}),
        cx(3, "response_item", {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "<environment_context>\n  <cwd>/w</cwd>\n  <shell>bash</shell>\n"
                                           "</environment_context>"}]}),
        cx(4, "response_item", {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "run the tests and fix what fails"}]}),
        cx(5, "response_item", {"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "Running the test suite."}]}),
        cx(6, "response_item", {"type": "function_call", "name": "shell", "call_id": "call_cargoTest01",
                                "arguments": json.dumps({"command": ["bash", "-lc", "cargo test"], "workdir": "/w"})}),
        cx(7, "response_item", {"type": "function_call_output", "call_id": "call_cargoTest01",
                                "output": json.dumps({"output": "test result: ok. 12 passed",
                                                      "metadata": {"exit_code": 0, "duration_seconds": 3.1}})}),
    ])


TOOLS_SESSION = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"
TOOL_CALLS = {  # call id -> (tool name, input, expected family)
    "toolu_01PracRead": ("Read", {"file_path": f"{CWD}/src/app.py"}, "file_read"),
    "toolu_01PracEdit": ("Edit", {"file_path": f"{CWD}/src/app.py", "old_string": "a", "new_string": "b"},
                         "file_edit"),
    "toolu_01PracGrep": ("Grep", {"pattern": "def login", "path": CWD, "output_mode": "content"}, "search"),
    "toolu_01PracGlob": ("Glob", {"pattern": "**/*.py"}, "discovery"),
    "toolu_01PracTask": ("Task", {"description": "find callers", "prompt": "Find every caller of login()",
                                  "subagent_type": "Explore"}, "delegation"),
    "toolu_01PracTodo": ("TodoWrite", {"todos": [{"content": "fix login", "status": "in_progress",
                                                  "activeForm": "Fixing login"}]}, "planning"),
    "toolu_01PracWeb": ("WebFetch", {"url": "https://docs.python.org/3/", "prompt": "summarize"}, "web"),
    "toolu_01PracCommit": ("Bash", {"command": "git commit -m x", "description": "Commit"}, "commit_workflow"),
    "toolu_01PracPytest": ("Bash", {"command": "pytest -q", "description": "Run tests"}, "test_run"),
    "toolu_01PracMake": ("Bash", {"command": "make build", "description": "Build"}, "build"),
    "toolu_01PracRg": ("Bash", {"command": "rg foo", "description": "Search"}, "search"),
    "toolu_01PracSkill": ("Skill", {"skill": "code-review"}, "code_review"),
}
CODEX_CALL_FAMILIES = {"call_cargoTest01": "test_run"}


def write_tools_session(sandbox: Sandbox) -> Path:
    s = TOOLS_SESSION
    records = [user(s, 0, "Fix the login bug, run the tests and commit.")]
    for i, (call_id, (name, tool_input, _family)) in enumerate(TOOL_CALLS.items()):
        records.append(assistant(s, 10 * i + 1, f"msg_01Prac{i:02d}", f"req_011Prac{i:02d}", usage(2, 30, cr=900),
                                 content=[{"type": "tool_use", "id": call_id, "name": name, "input": tool_input}]))
        records.append(user(s, 10 * i + 2, [tool_result(call_id, "ok")]))
    return write_jsonl(session_file(sandbox, s), records)


# Secrets: fake, but shaped exactly like the real ones.
AWS_KEY = "AKIAQWERTYUIOPASDFGH"  # AKIA + 16 uppercase alnum
ANTHROPIC_KEY = "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa_-AbCdEfGhIjKl"
GITHUB_TOKEN = "ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5"  # ghp_ + 36 alnum
PEM_HEADER = "-----BEGIN RSA PRIVATE KEY-----"
PEM_BODY = "MIIEpAIBAAKCAQEA7bq3Xw9Zr5tYq2Lm4Nc8Kp6Vd1Hs0Fg3JwQ"
PEM = f"{PEM_HEADER}\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----"
ENV_SECRET = "abcdef123456789"
ENV_LINE = f"export API_TOKEN={ENV_SECRET}"
SECRET_STRINGS = (AWS_KEY, ANTHROPIC_KEY, GITHUB_TOKEN, PEM_BODY, ENV_SECRET)
# kind -> the whole regex match (what secret_length / char_offset describe)
SECRET_MATCHES = {
    "aws_access_key_id": AWS_KEY,
    "anthropic_api_key": ANTHROPIC_KEY,
    "github_token": GITHUB_TOKEN,
    "private_key_block": PEM_HEADER,
    "env_assignment": f"API_TOKEN={ENV_SECRET}",
}

SECRETS_SESSION = "3c4d5e6f-7a8b-4c9d-8e0f-2a3b4c5d6e7f"
SECRET_PROMPT = (f"Déployez avec ces clés : AWS {AWS_KEY}, Anthropic {ANTHROPIC_KEY} and GitHub {GITHUB_TOKEN}.\n"
                 f"{PEM}\n{ENV_LINE}\n")
SECRET_COMMAND = (f"aws-vault add ci --key {AWS_KEY} && curl -H 'x-api-key: {ANTHROPIC_KEY}' "
                  f"-H 'Authorization: token {GITHUB_TOKEN}' https://api.example.com && "
                  f"printf '%s' '{PEM}' > id_rsa && {ENV_LINE}")
SECRET_INPUT = {"command": SECRET_COMMAND, "description": "Configure deploy credentials"}
SECRET_OUTPUT = f"Stored key {AWS_KEY} (anthropic {ANTHROPIC_KEY}, github {GITHUB_TOKEN})\n{PEM}\n{ENV_LINE}\n"

# One sample of every kind the shipped secret_findings.yaml knows, each on a line of its own.
EVERY_KIND = {
    "aws_access_key_id": AWS_KEY,
    "aws_secret_access_key": "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "anthropic_api_key": ANTHROPIC_KEY,
    "openai_api_key": "sk-proj-Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8L9",
    "github_token": GITHUB_TOKEN,
    "google_api_key": "AIza" + "SyD4f5G6h7J8k9L0zXcVbNmQwErTyUiOpAs",
    "slack_token": "xoxb-2048123456-4096987654-Zy9Xw8Vu7Ts6",
    "private_key_block": PEM_HEADER,
    "bearer_token": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl",
    "env_assignment": f"API_TOKEN={ENV_SECRET}",
    "password": 'PASSWORD="Corr3ctHorse!"',
}
EVERY_KIND_SESSION = "6f7a8b9c-0d1e-4f2a-9b3c-5d6e7f8a9b0c"
EVERY_KIND_PROMPT = "\n".join(f"{kind}, {secret}" for kind, secret in EVERY_KIND.items())  # not "kind: ": "password: x" is a password

REPEAT_SESSION = "4d5e6f7a-8b9c-4d0e-9f1a-3b4c5d6e7f8a"
REPEAT_PROMPT = f"Old key {AWS_KEY} was rotated. Wait, no: {AWS_KEY} is still live."
HEREDOC_SESSION = "5e6f7a8b-9c0d-4e1f-8a2b-4c5d6e7f8a9b"
HEREDOC_COMMAND = f"cat > .env <<'EOF'\nAPI_TOKEN={ENV_SECRET}\n{AWS_KEY}\nEOF"
CODEX_SHELL = "019a2b3c-4d5e-7f60-9a1b-2c3d4e5f6a7b"


def write_secret_sessions(sandbox: Sandbox) -> None:
    s = SECRETS_SESSION
    write_jsonl(session_file(sandbox, s), [
        user(s, 0, SECRET_PROMPT),
        assistant(s, 1, "msg_01SecretAA", "req_011SecretAA", usage(4, 80, cr=2000),
                  content=[{"type": "tool_use", "id": "toolu_01SecretBash", "name": "Bash", "input": SECRET_INPUT}]),
        user(s, 2, [tool_result("toolu_01SecretBash", SECRET_OUTPUT)]),
        assistant(s, 3, "msg_01SecretBB", "req_011SecretBB", usage(4, 20, cr=2100),
                  content=[{"type": "text", "text": "Credentials configured."}]),
    ])
    r = REPEAT_SESSION
    write_jsonl(session_file(sandbox, r), [user(r, 0, REPEAT_PROMPT)])
    e = EVERY_KIND_SESSION
    write_jsonl(session_file(sandbox, e), [user(e, 0, EVERY_KIND_PROMPT)])
    h = HEREDOC_SESSION
    write_jsonl(session_file(sandbox, h), [
        user(h, 0, "Write the deploy credentials to .env"),
        assistant(h, 1, "msg_01HeredocAA", "req_011HeredocAA", usage(4, 50, cr=2000),
                  content=[tool_use("toolu_01HeredocBash", "Bash", command=HEREDOC_COMMAND,
                                    description="Write .env")]),
        user(h, 2, [tool_result("toolu_01HeredocBash", "")]),
    ])


def write_codex_shell_rollout(sandbox: Sandbox) -> None:
    c = CODEX_SHELL
    write_jsonl(codex_file(sandbox, c, stamp="2026-03-01T11-00-00"), [
        session_meta(c, 3600),
        turn_context(3601, "gpt-5-codex"),
        cx(3602, "response_item", {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "find the TODOs and commit the fix"}]}),
        cx(3603, "response_item", {"type": "function_call", "name": "shell", "call_id": "call_rgTodo01",
                                   "arguments": json.dumps({"command": ["bash", "-lc", "rg foo"], "workdir": "/w"})}),
        cx(3604, "response_item", {"type": "function_call_output", "call_id": "call_rgTodo01",
                                   "output": json.dumps({"output": "src/a.rs:3: foo", "metadata": {"exit_code": 0}})}),
        cx(3605, "response_item", {"type": "function_call", "name": "shell", "call_id": "call_gitCommit01",
                                   "arguments": json.dumps({"command": ["bash", "-lc", "git commit -m x"],
                                                            "workdir": "/w"})}),
        cx(3606, "response_item", {"type": "function_call_output", "call_id": "call_gitCommit01",
                                   "output": json.dumps({"output": "[main 3f2a9c1] x", "metadata": {"exit_code": 0}})}),
    ])


@dataclass
class Built:
    sandbox: Sandbox
    instance: DagsterInstance
    result: object  # PipelineResult


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """One warehouse built once from every fixture transcript, with the shipped classifiers."""
    box = Sandbox(tmp_path_factory.mktemp("classified_corpus"))
    box.write_config()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STAR_PIPELINE_CONFIG", str(box.config_path))
        mp.delenv("DAGSTER_HOME", raising=False)
        write_kinds_session(box)
        write_kinds_rollout(box)
        write_tools_session(box)
        write_secret_sessions(box)
        write_codex_shell_rollout(box)
        instance = DagsterInstance.ephemeral()
        result = materialize_all(box, instance=instance)
        yield Built(box, instance, result)


def current_version(name: str) -> str:
    return file_version(DEFAULT_CLASSIFIERS / f"{name}.yaml")


# == 1-2: versions side by side ======================================================
def test_two_versions_side_by_side_and_rerun_identical(sandbox, tmp_path):
    folder = copy_classifiers(sandbox, tmp_path)
    write_kinds_session(sandbox)
    instance = DagsterInstance.ephemeral()

    materialize_all(sandbox, instance=instance)
    v1 = file_version(folder / "message_kinds.yaml")
    assert v1 == current_version("message_kinds")
    first = message_kind_rows(sandbox)
    assert {r[0] for r in first} == {v1}
    assert len(first) == len(CLAUDE_KINDS)

    rename_slash_command(folder)
    v2 = file_version(folder / "message_kinds.yaml")
    assert v2 != v1 and v2.startswith("message_kinds-") and len(v2) == len("message_kinds-") + 8
    second = materialize_all(sandbox, instance=instance)
    assert version_runs(second, "message_kinds", instance) == {v1: True, v2: True}
    assert [r.dagster_run.job_name for r in second.results] == ["ingest_and_normalize", "classify_and_rebuild"]

    both = message_kind_rows(sandbox)
    assert {r[0] for r in both} == {v1, v2}
    assert message_kind_rows(sandbox, v1) == first  # the old version's rows are untouched
    old, new = kinds_by_uuid(sandbox, v1), kinds_by_uuid(sandbox, v2)
    assert old[SLASH_UUID] == "slash_command" and new[SLASH_UUID] == "command"
    assert {k: v for k, v in old.items() if k != SLASH_UUID} == {k: v for k, v in new.items() if k != SLASH_UUID}
    assert old == CLAUDE_KINDS

    third = materialize_all(sandbox, instance=instance)
    assert version_runs(third, "message_kinds", instance) == {v1: True, v2: True}
    assert message_kind_rows(sandbox) == both  # no duplicates, same kinds
    assert query(sandbox, "SELECT classifier_version, count(*) FROM classified.derived_message_kinds GROUP BY 1 "
                          "ORDER BY 1") == sorted([(v1, len(CLAUDE_KINDS)), (v2, len(CLAUDE_KINDS))])
    assert all(check_outcomes(third, "derived_message_kinds").values())


def test_old_version_reruns_from_its_stored_text_after_the_file_changed(sandbox, tmp_path):
    folder = copy_classifiers(sandbox, tmp_path)
    write_kinds_session(sandbox)
    instance = DagsterInstance.ephemeral()
    original_text = (folder / "message_kinds.yaml").read_text()
    materialize_all(sandbox, instance=instance)
    v1 = file_version(folder / "message_kinds.yaml")
    before = message_kind_rows(sandbox, v1)
    assert query(sandbox, "SELECT classifier_name, config_text FROM meta_classifier_configs "
                          "WHERE classifier_version = ?", [v1]) == [("message_kinds", original_text)]

    first_revision = current_revision(folder)
    rename_slash_command(folder)
    # Re-classify every message with the OLD version: its rules can only come from meta_classifier_configs now.
    job = build_defs(sandbox).resolve_job_def("classify")
    rerun = job.execute_in_process(instance=instance, partition_key=first_revision, run_config=FULL_REFRESH,
                                   raise_on_error=False)
    assert rerun.success
    assert f"{v1}: classifying every item" in [e.user_message for e in instance.all_logs(rerun.run_id)]
    assert message_kind_rows(sandbox, v1) == before
    assert kinds_by_uuid(sandbox, v1)[SLASH_UUID] == "slash_command"
    assert all(e.passed for e in rerun.get_asset_check_evaluations())

    # A version registered but never materialized cannot be recovered once its file changed: a clear error.
    edit(folder / "message_kinds.yaml", "  - kind: command\n", "  - kind: slash\n")
    lost = file_version(folder / "message_kinds.yaml")
    lost_revision = current_revision(folder)
    instance.add_dynamic_partitions("classifier_revisions", [lost_revision])
    edit(folder / "message_kinds.yaml", "  - kind: slash\n", "  - kind: slash_cmd\n")
    failed = job.execute_in_process(instance=instance, partition_key=lost_revision, raise_on_error=False)
    assert not failed.success
    assert version_runs(SimpleNamespace(results=[failed]), "message_kinds") == {lost: False}
    assert version_runs(SimpleNamespace(results=[failed]), "secret_findings") == {current_version("secret_findings"): True}
    (message,) = user_error_messages(failed)
    assert lost in message and "never materialized" in message and str(folder / "message_kinds.yaml") in message


# == 3: the sensor ================================================================
def test_classifier_files_sensor_registers_each_new_version_once(sandbox, tmp_path, monkeypatch):
    folder = copy_classifiers(sandbox, tmp_path)
    assert not sandbox.warehouse.exists()
    sensor = build_defs(sandbox).get_sensor_def("classifier_files_sensor")
    instance = DagsterInstance.ephemeral()

    def no_duckdb(*args, **kwargs):
        raise AssertionError("the classifier-files sensor opened DuckDB")

    monkeypatch.setattr(duckdb, "connect", no_duckdb)

    # Before any ingest has succeeded there is nothing to classify: versions are registered, no run requested.
    first = sensor(build_sensor_context(instance=instance))
    assert isinstance(first, SensorResult) and first.run_requests == []
    expected = {name: file_version(folder / f"{name}.yaml") for name in CLASSIFIER_NAMES}
    additions = {(a.partitions_def_name, tuple(a.partition_keys)) for a in first.dynamic_partitions_requests}
    assert additions == {("classifier_revisions", (revision(expected),))}

    for addition in first.dynamic_partitions_requests:
        instance.add_dynamic_partitions(addition.partitions_def_name, list(addition.partition_keys))
    second = sensor(build_sensor_context(instance=instance))
    assert isinstance(second, SkipReason)

    from dagster import DagsterRunStatus
    from dagster._core.test_utils import create_run_for_test

    create_run_for_test(instance, job_name="ingest_and_normalize", status=DagsterRunStatus.SUCCESS)
    edit(folder / "tool_practices.yaml", "  - family: web\n", "  - family: internet\n")
    third = sensor(build_sensor_context(instance=instance))
    assert isinstance(third, SensorResult)
    new_version = file_version(folder / "tool_practices.yaml")
    assert new_version != expected["tool_practices"]
    new_revision = revision({**expected, "tool_practices": new_version})
    assert [(r.partition_key, sorted(k.path[-1] for k in r.asset_selection)) for r in third.run_requests] == [
        (new_revision, sorted(f"derived_{name}" for name in CLASSIFIER_NAMES))]
    assert [(a.partitions_def_name, list(a.partition_keys)) for a in third.dynamic_partitions_requests] == [
        ("classifier_revisions", [new_revision])]
    assert not sandbox.warehouse.exists() and not sandbox.warehouse.parent.exists()


# == 4-6: what the shipped classifiers say about realistic transcripts =====================
def test_message_kinds_of_claude_and_codex_lines(corpus):
    version = current_version("message_kinds")
    claude_kinds = kinds_by_uuid(corpus.sandbox, version)
    assert {uuid: claude_kinds.get(uuid) for uuid in CLAUDE_KINDS} == CLAUDE_KINDS
    codex = dict(query(corpus.sandbox, """
        SELECT m.line_number, k.kind FROM classified.derived_message_kinds k
        JOIN normalized.normalized_messages m USING (source, path, file_version, byte_offset)
        WHERE k.classifier_version = ? AND m.path = ?""", [version, str(codex_file(corpus.sandbox, KINDS_CODEX))]))
    assert codex == CODEX_KINDS
    # every normalized message has exactly one kind in this version
    (messages,), = query(corpus.sandbox, "SELECT count(*) FROM normalized.normalized_messages")
    assert query(corpus.sandbox, """
        SELECT count(*), count(DISTINCT (source, path, file_version, byte_offset))
        FROM classified.derived_message_kinds WHERE classifier_version = ?""", [version]) == [(messages, messages)]


def tool_families(corpus) -> dict[str, str]:
    return dict(query(corpus.sandbox, "SELECT call_id, family FROM classified.derived_tool_practices "
                                      "WHERE classifier_version = ?", [current_version("tool_practices")]))


def test_tool_practice_families(corpus):
    families = tool_families(corpus)
    expected = {call_id: family for call_id, (_, _, family) in TOOL_CALLS.items()} | CODEX_CALL_FAMILIES
    assert {call_id: families.get(call_id) for call_id in expected} == expected


def test_codex_shell_commands_are_classified_by_the_script_they_run(corpus):
    families = tool_families(corpus)
    assert {"call_rgTodo01": families["call_rgTodo01"], "call_gitCommit01": families["call_gitCommit01"]} == {
        "call_rgTodo01": "search", "call_gitCommit01": "commit_workflow"}


def secret_rows(corpus, session: str) -> list[tuple]:
    return query(corpus.sandbox, """
        SELECT f.field, f.kind, f.occurrence, f.char_offset, f.secret_length, f.fingerprint
        FROM classified.derived_secret_findings f
        JOIN normalized.normalized_messages m USING (source, path, file_version, byte_offset)
        WHERE f.classifier_version = ? AND m.session_id = ? ORDER BY m.byte_offset, f.field, f.char_offset""",
        [current_version("secret_findings"), session])


def test_secret_findings_locate_each_secret_and_fingerprint_it(corpus):
    rows = secret_rows(corpus, SECRETS_SESSION)
    fields = {
        "message_text": SECRET_PROMPT,
        # tool inputs are scanned as their JSON text with the string escapes undone (lines stay lines)
        "tool_input": json.dumps(SECRET_INPUT, separators=(",", ":")).replace("\\n", "\n"),
        "tool_result": SECRET_OUTPUT,
    }
    assert sorted((field, kind) for field, kind, *_ in rows) == sorted(
        (field, kind) for field in fields for kind in SECRET_MATCHES)  # one row per secret per field
    for field, kind, occurrence, offset, length, _ in rows:
        assert occurrence == 1
        text = fields[field]
        assert (offset, length) == (text.index(SECRET_MATCHES[kind]), len(SECRET_MATCHES[kind])), (field, kind)
    fingerprints = {}
    for field, kind, *_, fingerprint in rows:
        fingerprints.setdefault(kind, set()).add(fingerprint)
    # the same secret in three places has one fingerprint; different secrets have different ones
    assert all(len(prints) == 1 for prints in fingerprints.values()), fingerprints
    assert len({next(iter(p)) for p in fingerprints.values()}) == len(SECRET_MATCHES)
    # salted: not the plain hash of the secret, which anyone could compute from a guess
    for kind, prints in fingerprints.items():
        plain = hashlib.sha256(SECRET_MATCHES[kind].encode()).hexdigest()
        assert next(iter(prints)) not in plain


def test_every_kind_of_secret_the_shipped_patterns_name_is_found_where_it_is(corpus):
    shipped = {p["kind"] for p in yaml.safe_load((REPO_ROOT / "config" / "classifiers" / "secret_findings.yaml").read_text())["patterns"]}
    assert shipped == set(EVERY_KIND)  # a new pattern gets a sample here
    rows = secret_rows(corpus, EVERY_KIND_SESSION)
    found = {kind: EVERY_KIND_PROMPT[offset:offset + length] for field, kind, _, offset, length, _ in rows}
    assert found == EVERY_KIND


# Where transcript text is kept: raw lines, and the text the normalized layer extracts once for every reader.
TEXT_COLUMNS = {
    "normalized.normalized_messages.message_text", "normalized.normalized_messages.tool_input",
    "normalized.normalized_messages.tool_result", "normalized.normalized_messages.tool_blocks",
    "normalized.normalized_tool_calls.command",
}


def test_secrets_stay_in_raw_and_the_normalized_text(corpus):
    conn = duckdb.connect(str(corpus.sandbox.warehouse), read_only=True)
    try:
        columns = conn.execute("""
            SELECT table_schema, table_name, column_name FROM information_schema.columns
            WHERE table_catalog = current_database() ORDER BY ALL""").fetchall()

        def tables_holding(secret: str, schemas) -> set[str]:
            found = set()
            for schema, table, column in columns:
                if schema in schemas:
                    hit = conn.execute(
                        f'SELECT count(*) FROM "{schema}"."{table}" WHERE contains(CAST("{column}" AS VARCHAR), ?)',
                        [secret]).fetchone()[0]
                    if hit:
                        found.add(f"{schema}.{table}.{column}")
            return found

        every_schema = {c[0] for c in columns}
        assert {"raw", "normalized", "classified", "main"} <= every_schema
        for secret in SECRET_STRINGS:
            assert tables_holding(secret, {"raw"}), f"the scan cannot see {secret} even in raw"
            assert tables_holding(secret, every_schema - {"raw"}) <= TEXT_COLUMNS, secret
    finally:
        conn.close()

    events = "\n".join(str(event) for event in corpus.result.all_events)
    logs = "\n".join(str(entry) for r in corpus.result.results for entry in corpus.instance.all_logs(r.run_id))
    assert SECRETS_SESSION in events  # the stringified events do carry table previews
    for secret in SECRET_STRINGS:
        assert secret not in events and secret not in logs, secret


def test_a_repeated_secret_has_the_offset_of_each_occurrence(corpus):
    rows = secret_rows(corpus, REPEAT_SESSION)
    first = REPEAT_PROMPT.index(AWS_KEY)
    second = REPEAT_PROMPT.index(AWS_KEY, first + 1)
    assert [(kind, occurrence, offset) for _, kind, occurrence, offset, *_ in rows] == [
        ("aws_access_key_id", 1, first), ("aws_access_key_id", 2, second)]


def test_secrets_at_the_start_of_a_line_of_a_bash_command_are_found(corpus):
    found = {(field, kind) for field, kind, *_ in secret_rows(corpus, HEREDOC_SESSION)}
    assert {("tool_input", "env_assignment"), ("tool_input", "aws_access_key_id")} <= found


# == 7: incremental ===================================================================
def snapshot(sandbox: Sandbox, table: str) -> list[tuple]:
    return query(sandbox, f"SELECT * FROM classified.{table} ORDER BY ALL")


def test_appended_messages_are_classified_incrementally_and_match_a_full_refresh(sandbox):
    s = "6f7a8b9c-0d1e-4f2a-9b3c-5d6e7f8a9b0c"
    path = write_jsonl(session_file(sandbox, s), [
        user(s, 0, f"Deploy with {GITHUB_TOKEN}"),
        assistant(s, 1, "msg_01IncrAA", "req_011IncrAA", usage(3, 10, cr=800)),
    ])
    instance = DagsterInstance.ephemeral()
    materialize_all(sandbox, instance=instance)
    kinds_v, secrets_v = current_version("message_kinds"), current_version("secret_findings")
    old_kinds, old_secrets = snapshot(sandbox, "derived_message_kinds"), snapshot(sandbox, "derived_secret_findings")
    assert len(old_kinds) == 2 and len(old_secrets) == 1

    write_jsonl(path, [
        user(s, 10, "[Request interrupted by user]"),
        user(s, 11, f"Use this one instead: {AWS_KEY} (and the old {GITHUB_TOKEN})"),
        assistant(s, 12, "msg_01IncrBB", "req_011IncrBB", usage(3, 10, cr=900),
                  content=[tool_use("toolu_01IncrBash", "Bash", command="pytest -q")]),
    ], append=True)
    second = materialize_all(sandbox, instance=instance)
    logs = run_logs(instance, second)
    assert f"{kinds_v}: classifying new items only" in logs and f"{secrets_v}: classifying new items only" in logs
    assert check_outcomes(second, "derived_message_kinds") == {
        "derived_message_kinds_one_row_per_item_per_version": True,
        "derived_message_kinds_every_item_classified": True,
        "derived_message_kinds_rerun_identical": True,
    }
    kinds = query(sandbox, """
        SELECT m.line_number, k.kind FROM classified.derived_message_kinds k
        JOIN normalized.normalized_messages m USING (source, path, file_version, byte_offset) ORDER BY 1""")
    assert kinds == [(1, "human_prompt"), (2, "assistant_text"), (3, "interruption"), (4, "human_prompt"),
                     (5, "assistant_tool_use")]
    new_kinds = snapshot(sandbox, "derived_message_kinds")
    assert set(old_kinds) <= set(new_kinds)
    secrets = query(sandbox, """
        SELECT m.line_number, f.kind, f.fingerprint FROM classified.derived_secret_findings f
        JOIN normalized.normalized_messages m USING (source, path, file_version, byte_offset) ORDER BY 1, 2""")
    assert [(line, kind) for line, kind, _ in secrets] == [
        (1, "github_token"), (4, "aws_access_key_id"), (4, "github_token")]
    assert secrets[0][2] == secrets[2][2]
    new_secrets = snapshot(sandbox, "derived_secret_findings")

    refreshed = build_defs(sandbox).resolve_job_def("classify").execute_in_process(
        instance=instance, partition_key=current_revision(DEFAULT_CLASSIFIERS),
        run_config={"ops": {op: {"config": {"full_refresh": True}} for op in (MESSAGE_OP, SECRET_OP)}})
    assert refreshed.success
    for version in (kinds_v, secrets_v):
        assert f"{version}: classifying every item" in [e.user_message for e in instance.all_logs(refreshed.run_id)]
    assert snapshot(sandbox, "derived_message_kinds") == new_kinds
    assert snapshot(sandbox, "derived_secret_findings") == new_secrets


TOOL_OP = "classified__derived_tool_practices"


def test_tool_practices_classify_the_calls_of_changed_files_and_match_a_full_refresh(sandbox):
    """A second run classifies only the calls named in files with new messages (written by key), and
    ends with the rows a full refresh gives; a call whose row changes with the new lines (its result
    arrives in another file) is among them."""
    s, resumed = "7a8b9c0d-1e2f-4a3b-8c4d-6e7f8a9b0c1d", "8b9c0d1e-2f3a-4b4c-9d5e-7f8a9b0c1d2e"
    call = assistant(s, 1, "msg_01PracAA", "req_011PracAA", usage(3, 10),
                     content=[tool_use("toolu_01PracAA", "Bash", command="pytest -q")])
    write_jsonl(session_file(sandbox, s), [user(s, 0, "Run the tests."), call])
    instance = DagsterInstance.ephemeral()
    materialize_all(sandbox, instance=instance)
    version = current_version("tool_practices")
    assert [family for _, family in query(sandbox, "SELECT call_id, family FROM classified.derived_tool_practices")] \
        == ["test_run"]

    write_jsonl(session_file(sandbox, resumed), [
        copied_into(resumed, call), user(resumed, 2, [tool_result("toolu_01PracAA", "3 passed")]),
        assistant(resumed, 3, "msg_01PracBB", "req_011PracBB", usage(3, 10),
                  content=[tool_use("toolu_01PracBB", "Bash", command="git commit -m 'fix'")]),
    ])
    second = materialize_all(sandbox, instance=instance)
    assert f"{version}: classifying new items only" in run_logs(instance, second)
    assert check_outcomes(second, "derived_tool_practices") == dict.fromkeys(CHECK_NAMES, True)
    written = query(sandbox, "SELECT write_mode, rows_written FROM meta_load_log "
                             "WHERE asset_key = 'classified/derived_tool_practices' ORDER BY started_at")
    assert written == [("replace_partition", 1), ("upsert", 2)]
    incremental = snapshot(sandbox, "derived_tool_practices")

    refreshed = build_defs(sandbox).resolve_job_def("classify").execute_in_process(
        instance=instance, partition_key=current_revision(DEFAULT_CLASSIFIERS),
        run_config={"ops": {TOOL_OP: {"config": {"full_refresh": True}}}})
    assert refreshed.success
    assert f"{version}: classifying every item" in [e.user_message for e in instance.all_logs(refreshed.run_id)]
    assert snapshot(sandbox, "derived_tool_practices") == incremental
    assert len(incremental) == 2


def test_run_pipeline_accepts_a_full_refresh_of_one_classifier(sandbox):
    from star_pipeline.orchestration.in_process import run_pipeline
    from star_pipeline.config import load_settings

    write_kinds_session(sandbox)
    instance = DagsterInstance.ephemeral()
    materialize_all(sandbox, instance=instance)
    before = snapshot(sandbox, "derived_message_kinds")
    outcome = run_pipeline(build_defs(sandbox), instance, load_settings(sandbox.config_path).classifiers_dir,
                           run_config=FULL_REFRESH)
    assert outcome.success
    assert snapshot(sandbox, "derived_message_kinds") == before


# == 8: a malformed classifier ===========================================================
def break_rule_four(folder: Path) -> None:
    """Rule 4 of message_kinds.yaml (slash_command) tests a field that does not exist."""
    edit(folder / "message_kinds.yaml",
         "    when: {record_type: user, text: {matches: '^\\s*<(command-name",
         "    when: {record_type: user, txt: {matches: '^\\s*<(command-name")


def test_a_malformed_classifier_fails_its_own_run_naming_file_and_rule(sandbox, tmp_path):
    folder = copy_classifiers(sandbox, tmp_path)
    break_rule_four(folder)
    write_kinds_session(sandbox)
    write_tools_session(sandbox)
    result = materialize_all(sandbox, raise_on_error=False)

    broken = file_version(folder / "message_kinds.yaml")
    assert version_runs(result, "message_kinds") == {broken: False}
    (message,) = user_error_messages(*runs_of(result, "message_kinds"))
    assert str(folder / "message_kinds.yaml") in message and "rule 4" in message and "'txt'" in message
    for name in ("session_kinds", "tool_practices", "secret_findings"):
        assert version_runs(result, name) == {file_version(folder / f"{name}.yaml"): True}
    # every tool call (those of the tools session and the Read of the kinds session) got its family
    assert query(sandbox, "SELECT count(*) FROM classified.derived_tool_practices") == [(len(TOOL_CALLS) + 1,)]
    assert query(sandbox, "SELECT count(*) FROM classified.derived_session_kinds") == [(2,)]
    assert query(sandbox, "SELECT count(*) FROM meta_load_log WHERE asset_key = 'classified/derived_message_kinds' "
                          "AND status = 'success'") == [(0,)]


def test_fixing_a_malformed_classifier_makes_the_next_build_succeed(sandbox, tmp_path):
    folder = copy_classifiers(sandbox, tmp_path)
    pristine = (folder / "message_kinds.yaml").read_text()
    break_rule_four(folder)
    write_kinds_session(sandbox)
    instance = DagsterInstance.ephemeral()
    assert not materialize_all(sandbox, instance=instance, raise_on_error=False).success
    (folder / "message_kinds.yaml").write_text(pristine)
    fixed = materialize_all(sandbox, instance=instance, raise_on_error=False)
    runs = version_runs(fixed, "message_kinds", instance)
    assert file_version(folder / "message_kinds.yaml") in runs
    assert all(runs.values()), user_error_messages(*runs_of(fixed, "message_kinds"))


# == 9: the checks catch a table that lies ====================================================
CHECK_NAMES = ("derived_tool_practices_one_row_per_item_per_version", "derived_tool_practices_every_item_classified",
               "derived_tool_practices_rerun_identical")


def run_tool_practice_checks(sandbox: Sandbox, instance) -> dict[str, bool]:
    """Run only the checks of derived_tool_practices (a rebuild would repair the table first)."""
    checks_job = define_asset_job("tool_practice_checks",
                                  selection=AssetSelection.checks_for_assets(["classified", "derived_tool_practices"]))
    defs = Definitions.merge(build_defs(sandbox), Definitions(jobs=[checks_job]))
    result = defs.resolve_job_def("tool_practice_checks").execute_in_process(instance=instance, raise_on_error=False)
    outcomes = check_outcomes(result, "derived_tool_practices")
    assert set(outcomes) == set(CHECK_NAMES)
    return outcomes


def test_tool_practice_checks_fail_when_the_table_lies(sandbox):
    write_tools_session(sandbox)
    instance = DagsterInstance.ephemeral()
    built = materialize_all(sandbox, instance=instance)
    assert check_outcomes(built, "derived_tool_practices") == dict.fromkeys(CHECK_NAMES, True)
    assert run_tool_practice_checks(sandbox, instance) == dict.fromkeys(CHECK_NAMES, True)
    pristine = snapshot(sandbox, "derived_tool_practices")

    def restore():
        tamper(sandbox, "DELETE FROM classified.derived_tool_practices")
        conn = duckdb.connect(str(sandbox.warehouse))
        try:
            conn.executemany("INSERT INTO classified.derived_tool_practices VALUES (?, ?, ?, ?, ?)", pristine)
        finally:
            conn.close()

    tamper(sandbox, "INSERT INTO classified.derived_tool_practices "
                    "SELECT * FROM classified.derived_tool_practices WHERE call_id = 'toolu_01PracRead'")
    outcomes = run_tool_practice_checks(sandbox, instance)
    assert outcomes["derived_tool_practices_one_row_per_item_per_version"] is False
    assert outcomes["derived_tool_practices_every_item_classified"] is True

    restore()
    tamper(sandbox, "DELETE FROM classified.derived_tool_practices WHERE call_id = 'toolu_01PracEdit'")
    outcomes = run_tool_practice_checks(sandbox, instance)
    assert outcomes["derived_tool_practices_every_item_classified"] is False
    assert outcomes["derived_tool_practices_one_row_per_item_per_version"] is True

    restore()
    tamper(sandbox, "UPDATE classified.derived_tool_practices SET family = 'web' WHERE call_id = 'toolu_01PracGrep'")
    assert run_tool_practice_checks(sandbox, instance) == {
        "derived_tool_practices_one_row_per_item_per_version": True,
        "derived_tool_practices_every_item_classified": True,
        "derived_tool_practices_rerun_identical": False,
    }
