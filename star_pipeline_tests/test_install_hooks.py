"""`star-pipeline install-hooks`: merges idempotently, backs up, keeps other hooks, uninstalls."""

import json
import os
import subprocess
import sys
from pathlib import Path

from star_pipeline.agent_side.install_hooks import HOOK_EVENTS, install_hooks

STAR_PIPELINE = str(Path(sys.executable).with_name("star-pipeline"))


def read(path):
    return json.loads(Path(path).read_text())


def ours(settings, event):
    return [
        h["command"]
        for group in settings.get("hooks", {}).get(event, [])
        for h in group["hooks"]
        if "star-pipeline" in h["command"]
    ]


def test_install_into_existing_settings_keeps_everything_else(tmp_path, capsys):
    path = tmp_path / "settings.json"
    original = {
        "model": "opus",
        "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "my-linter"}]}]},
    }
    path.write_text(json.dumps(original))
    path.chmod(0o640)
    assert install_hooks(path, "/spool dir", executable="/opt/bin/star-pipeline") == 0
    settings = read(path)
    assert settings["model"] == "opus"
    assert settings["hooks"]["PreToolUse"][0] == original["hooks"]["PreToolUse"][0]
    for event in HOOK_EVENTS:
        assert ours(settings, event) == ["/opt/bin/star-pipeline hook --spool-dir '/spool dir'"]
    [backup] = tmp_path.glob("settings.json.star-pipeline-backup-*")
    assert read(backup) == original
    assert path.stat().st_mode & 0o777 == 0o640
    out = capsys.readouterr().out
    assert "added the star-pipeline hook to PreToolUse" in out and "backed up" in out


def test_second_run_changes_nothing(tmp_path, capsys):
    path = tmp_path / "settings.json"
    install_hooks(path, "/spool", executable="/opt/bin/star-pipeline")
    before = path.read_bytes()
    capsys.readouterr()
    install_hooks(path, "/spool", executable="/opt/bin/star-pipeline")
    assert path.read_bytes() == before
    assert "nothing changed" in capsys.readouterr().out
    assert not list(tmp_path.glob("settings.json.star-pipeline-backup-*"))  # no file existed before the first run


def test_moved_executable_updates_in_place(tmp_path):
    path = tmp_path / "settings.json"
    install_hooks(path, "/spool", executable="/old/star-pipeline")
    install_hooks(path, "/spool", executable="/new/star-pipeline")
    settings = read(path)
    assert all(ours(settings, e) == ["/new/star-pipeline hook --spool-dir /spool"] for e in HOOK_EVENTS)


def test_uninstall_removes_only_ours(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "notify-me"}]}]}}))
    install_hooks(path, "/spool", executable="/opt/bin/star-pipeline")
    install_hooks(path, "/spool", uninstall=True)
    assert read(path) == {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "notify-me"}]}]}}


def test_malformed_settings_are_left_untouched(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    proc = subprocess.run(
        [STAR_PIPELINE, "install-hooks", "--settings", str(path), "--spool-dir", "/s"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert str(path) in proc.stderr and "Nothing was changed" in proc.stderr
    assert path.read_text() == "{not json"


def test_installed_command_really_spools(tmp_path):
    path = tmp_path / "settings.json"
    spool = tmp_path / "spool"
    proc = subprocess.run(
        [STAR_PIPELINE, "install-hooks", "--settings", str(path), "--spool-dir", str(spool)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    command = ours(read(path), "PostToolUse")[0]
    subprocess.run(command, shell=True, input=b'{"hook_event_name":"PostToolUse"}', check=True)
    assert len(list(spool.glob("hook-events-*.jsonl"))) == 1


def test_the_hook_names_the_entry_point_found_on_path_so_a_moved_checkout_keeps_it(tmp_path, monkeypatch):
    from star_pipeline.agent_side.install_hooks import install_hooks

    monkeypatch.setenv("PATH", f"{Path(STAR_PIPELINE).parent}{os.pathsep}{os.environ['PATH']}")
    path = tmp_path / "settings.json"
    assert install_hooks(path, "/spool") == 0
    commands = {h["command"] for groups in json.loads(path.read_text())["hooks"].values() for g in groups for h in g["hooks"]}
    assert commands == {"star-pipeline hook --spool-dir /spool"}  # no path into a checkout


STATUSLINE_FILE = "/w/warehouse.duckdb.statusline.jsonl"
OURS = {"type": "command", "command": f"/opt/bin/star-pipeline statusline --file {STATUSLINE_FILE}", "padding": 0}


def test_statusline_is_set_once_and_updated_in_place(tmp_path, capsys):
    path = tmp_path / "settings.json"
    assert install_hooks(path, "/spool", executable="/opt/bin/star-pipeline", statusline=STATUSLINE_FILE) == 0
    assert read(path)["statusLine"] == OURS
    assert "set the status line" in capsys.readouterr().out
    before = path.read_bytes()
    assert install_hooks(path, "/spool", executable="/opt/bin/star-pipeline", statusline=STATUSLINE_FILE) == 0
    assert path.read_bytes() == before and "nothing changed" in capsys.readouterr().out
    settings = read(path)  # a setting the user added to our status line survives a moved executable
    settings["statusLine"]["refreshInterval"] = 5
    path.write_text(json.dumps(settings))
    install_hooks(path, "/spool", executable="/new/star-pipeline", statusline=STATUSLINE_FILE)
    assert read(path)["statusLine"] == {**OURS, "command": f"/new/star-pipeline statusline --file {STATUSLINE_FILE}",
                                        "refreshInterval": 5}
    install_hooks(path, "/spool", uninstall=True)
    assert read(path) == {}


def install_cli(path, *flags):
    return subprocess.run([STAR_PIPELINE, "install-hooks", "--settings", str(path), "--spool-dir", "/s", *flags],
                          capture_output=True, text=True)


def test_someone_elses_statusline_is_never_replaced_silently(sandbox, tmp_path):
    path = tmp_path / "settings.json"
    theirs = {"model": "opus", "statusLine": {"type": "command", "command": "npx -y ccusage statusline"}}
    path.write_text(json.dumps(theirs))
    proc = install_cli(path, "--statusline")
    assert proc.returncode == 2
    assert "npx -y ccusage statusline" in proc.stderr and "--force" in proc.stderr and "Nothing was changed" in proc.stderr
    assert read(path) == theirs and not list(tmp_path.glob("settings.json.star-pipeline-backup-*"))
    assert install_cli(path, "--force").returncode == 2  # --force alone says what it is for
    assert read(path) == theirs

    assert install_hooks(path, "/s", uninstall=True) == 0  # uninstalling leaves their status line
    assert read(path)["statusLine"] == theirs["statusLine"]

    proc = install_cli(path, "--statusline", "--force")
    assert proc.returncode == 0, proc.stderr
    assert "npx -y ccusage statusline" in proc.stdout  # what was replaced is named
    settings = read(path)
    assert settings["statusLine"]["command"].endswith(" statusline --file " + str(sandbox.warehouse) + ".statusline.jsonl")
    backups = sorted(tmp_path.glob("settings.json.star-pipeline-backup-*"))
    assert read(backups[-1])["statusLine"] == theirs["statusLine"]


def test_installed_statusline_command_really_prints_a_line(sandbox, tmp_path):
    path = tmp_path / "settings.json"
    assert install_cli(path, "--statusline").returncode == 0
    command = read(path)["statusLine"]["command"]
    proc = subprocess.run(command, shell=True, input=b'{"session_id": "s", "model": {"display_name": "Opus"}}',
                          capture_output=True, check=True)
    assert proc.stdout.decode().startswith("🤖 Opus | 💰 no star-pipeline data yet")  # nothing built in the sandbox
