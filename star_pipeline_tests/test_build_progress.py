"""`star-pipeline build` shows its progress while it runs: per layer the steps done of the total and the rows
written, the time elapsed and an estimate of the time left, then the five slowest steps; bars that redraw in
place on a terminal, plain lines otherwise."""

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios
import time

from star_pipeline_tests.test_build import STAR_PIPELINE, build, write_session

LAYERS = ("raw", "normalized", "classified", "aggregate")
PROGRESS_LINE = re.compile(
    r"^  (?P<layer>\w+) (?P<done>\d+)/(?P<steps>\d+) steps, (?P<rows>[\d,]+) rows written: (?P<step>\S+) "
    r"(?P<how>took|FAILED after|skipped)(?: (?P<took>\S+ \S+(?: \S+ \S+)?))? \| all layers (?P<all_done>\d+)/"
    r"(?P<all_steps>\d+) steps, .+ elapsed(?:, about (?P<left>.+) left)?$")


def seconds(text: str) -> float:
    """`4.2 s`, `3 min 05 s` or `1 h 02 min` in seconds."""
    if m := re.fullmatch(r"([\d.]+) s", text):
        return float(m[1])
    if m := re.fullmatch(r"(\d+) min (\d+) s", text):
        return int(m[1]) * 60 + int(m[2])
    m = re.fullmatch(r"(\d+) h (\d+) min", text)
    assert m, f"not a duration: {text!r}"
    return int(m[1]) * 3600 + int(m[2]) * 60


def progress_lines(stdout: str) -> list[dict]:
    return [m.groupdict() for line in stdout.splitlines() if (m := PROGRESS_LINE.match(line))]


def slowest_steps(stdout: str) -> list[tuple[str, float]]:
    lines = stdout.splitlines()
    start = lines.index("  the 5 slowest steps:") + 1
    listed = [re.fullmatch(r"    +([\d.]+) s  (\S+)", line) for line in lines[start:start + 5]]
    assert all(listed), lines[start:start + 5]
    return [(m[2], float(m[1])) for m in listed]


def build_reading_lines_as_they_come(sandbox) -> tuple[int, list[tuple[float, str]]]:
    """Run a build; each stdout line with the time it arrived."""
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(sandbox.config_path)}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.Popen([STAR_PIPELINE, "build"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    arrived = [(time.monotonic(), line.rstrip("\n")) for line in proc.stdout]
    return proc.wait(timeout=300), arrived


def test_a_build_shows_each_layers_steps_and_rows_as_they_finish_and_its_five_slowest_steps(sandbox):
    write_session(sandbox.claude_root / "-home-u-proj", "s1", 25)
    returncode, arrived = build_reading_lines_as_they_come(sandbox)
    stdout = "\n".join(line for _, line in arrived)
    assert returncode == 0, stdout
    lines = progress_lines(stdout)
    steps = [line["step"] for line in lines]
    total = int(lines[0]["all_steps"])
    assert len(lines) == total == len(set(steps))  # one line per step finished, every planned step finished
    assert [int(line["all_done"]) for line in lines] == list(range(1, total + 1))
    assert all(line["how"] == "took" for line in lines)
    for layer in LAYERS:
        own = [line for line in lines if line["layer"] == layer]
        assert own, f"no progress line for the {layer} layer"
        assert [int(line["done"]) for line in own] == list(range(1, len(own) + 1))
        assert {int(line["steps"]) for line in own} == {len(own)}
        written = sum(int(n) for n in re.findall(rf"^  materialized {layer}/\S+(?: \[\S+\])?: (\d+) rows written$",
                                                  stdout, re.MULTILINE))
        assert int(own[-1]["rows"].replace(",", "")) == written
    raw_rows = int([line for line in lines if line["layer"] == "raw"][-1]["rows"].replace(",", ""))
    assert raw_rows == 25 + 1  # the session's 25 lines and its file's manifest row
    # printed as each step finished, not after its run: the first run's lines (raw and normalized) arrive spread
    # over the time its steps took
    first_run = [(at, m) for at, line in arrived if (m := PROGRESS_LINE.match(line)) and m["layer"] in LAYERS[:2]]
    later_steps = sum(seconds(m["took"]) for _, m in first_run[1:])
    assert first_run[-1][0] - first_run[0][0] >= 0.5 * later_steps > 0.2
    # with no earlier build's times, the estimate is the steps left times this build's mean step so far
    assert "time left: the steps left times this build's mean step so far" in stdout
    for k, line in enumerate(lines[:-1], start=1):
        mean_so_far = sum(seconds(done["took"]) for done in lines[:k]) / k
        assert abs(seconds(line["left"]) - (total - k) * mean_so_far) <= 0.05 * (total - k) + 0.6, line
    assert lines[-1]["left"] is None
    slowest = slowest_steps(stdout)
    took = {line["step"]: seconds(line["took"]) for line in lines}
    assert [s for _, s in slowest] == sorted((s for _, s in slowest), reverse=True)
    assert all(abs(took[step] - s) <= 0.051 for step, s in slowest)
    assert min(s for _, s in slowest) >= max(t for step, t in took.items() if step not in dict(slowest)) - 0.051
    assert stdout.splitlines()[-1].startswith("star-pipeline build: done in ")
    timings = sandbox.warehouse.with_name(sandbox.warehouse.name + ".build-timings.json")
    assert set(json.loads(timings.read_text())["step_seconds"]) == set(steps)
    assert timings.stat().st_mode & 0o077 == 0


def test_the_estimate_comes_from_the_last_successful_builds_step_times(sandbox):
    """Each step not done yet counts as long as it took in the last successful build (here: set to 10 minutes
    each); a step that build did not run counts as this build's mean step (seconds here, within the minute)."""
    write_session(sandbox.claude_root / "-home-u-proj", "s1", 5)
    assert build(sandbox).returncode == 0
    timings = sandbox.warehouse.with_name(sandbox.warehouse.name + ".build-timings.json")
    stored = json.loads(timings.read_text())
    steps = sorted(stored["step_seconds"])
    unknown = steps[0]
    stored["step_seconds"] = {step: 600.0 for step in steps if step != unknown}
    timings.write_text(json.dumps(stored))

    write_session(sandbox.claude_root / "-home-u-proj", "s2", 5)  # the same source's new session: the same steps
    proc = build(sandbox)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    total = len(steps)
    assert (f"time left: each step as long as in the last successful build that ran it ({total - 1} of {total} "
            "steps; the others as this build's mean step)") in proc.stdout
    lines = progress_lines(proc.stdout)
    assert len(lines) == total
    compared = 0
    for k, line in enumerate(lines, start=1):
        left = 600 * sum(1 for later in lines[k:] if later["step"] != unknown)
        if left >= 3600:  # shown to the minute, which the unknown step's few seconds do not change
            assert line["left"] == f"{left // 3600} h {left % 3600 // 60:02d} min", line
            compared += 1
    assert compared >= total - 6


def test_on_a_terminal_the_layers_bars_redraw_in_place(sandbox):
    write_session(sandbox.claude_root / "-home-u-proj", "s1", 25)
    env = {**os.environ, "STAR_PIPELINE_CONFIG": str(sandbox.config_path)}
    env.pop("DAGSTER_HOME", None)
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))  # rows, columns
    proc = subprocess.Popen([STAR_PIPELINE, "build"], stdout=secondary, stderr=subprocess.PIPE, env=env)
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the build ended and closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    proc.stderr.read()
    assert proc.wait(timeout=300) == 0
    text = shown.decode()
    assert "\x1b[1A" in text and "\x1b[2K" in text  # the cursor goes up and clears the bars to draw them again
    final = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text.rsplit("\x1b[2K", 1)[-1])  # the last frame, then the summary
    frame = {m[1]: (int(m[2]), int(m[3])) for m in re.finditer(r"^  (\w+(?: layers)?) +━+ +(\d+)/(\d+) +steps", final, re.MULTILINE)}
    assert set(frame) == {*LAYERS, "all layers"}, final
    assert all(done == steps for done, steps in frame.values())
    assert sum(steps for layer, (_, steps) in frame.items() if layer != "all layers") == frame["all layers"][1]
    assert not progress_lines(text.replace("\r\n", "\n"))  # no plain line per step on a terminal
    assert "the 5 slowest steps:" in final and "star-pipeline build: done in" in final
