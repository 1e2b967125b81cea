"""What `star-pipeline build` shows while its Dagster runs go on, from their events as they happen.

Per layer (raw, normalized, classified, aggregate: the first part of an asset key) it counts the steps
done of the steps planned and the rows written (each materialization's `rows_written`), with the time
elapsed and an estimate of the time left: each step not done yet is expected to take as long as it did
in the last successful build that ran it (`<warehouse>.build-timings.json`, storage/build_state.py); a
step without such a time, as long as this build's mean step so far. On a terminal one bar per layer
redraws in place (rich, which Dagster itself depends on); otherwise one plain line per finished step,
so that logs and tests read line by line. Either way a failed step, a check that did not pass and a
file a capture could not read are printed when they happen, and the five slowest steps at the end.

The runs' events come from the instance's listener for each run (orchestration/in_process.py): the
in-process executor runs one step at a time in this thread, so each event is handled before the next.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from statistics import mean

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn
from rich.text import Text

LAYERS = ("raw", "normalized", "classified", "aggregate")
SLOWEST_SHOWN = 5


def step_error(error) -> str:
    """What a failed step says to a user: our own message when the warehouse explained the failure (DuckDB's
    error, the table, what to do), else the exception beneath Dagster's wrappers."""
    while error is not None:
        if error.cause is None or (error.cls_name or "") == "WarehouseWriteError":
            return error.message.strip()
        error = error.cause
    return ""


def problems_reported(metadata) -> list[str]:
    """What a raw capture could not read or had to skip, from its manifest's materialization metadata."""
    problems = []
    unreadable = metadata.get("unreadable_files")
    for path, reason in (unreadable.value if unreadable else {}).items():
        problems.append(f"could not read {path} ({reason}); what was stored of it is kept, the next run tries again")
    skipped = metadata.get("skipped")
    problems += [f"skipped {entry}" for entry in (skipped.value if skipped else [])]
    return problems


def steps_of(job) -> dict[str, str]:
    """Step key -> layer of every step a run of `job` executes: one step per node (an asset job has no graph
    nesting nor dynamic outputs), in the layer of the assets or checks it computes."""
    from dagster._core.definitions.dependency import NodeHandle

    steps = {}
    for node in job.graph.nodes:
        keys = job.asset_layer.get_selected_entity_keys_for_node(NodeHandle(node.name, None))
        layers = sorted({getattr(key, "asset_key", key).path[0] for key in keys})
        steps[node.name] = layers[0] if len(layers) == 1 and layers[0] in LAYERS else "other"
    return steps


def duration(seconds: float) -> str:
    """`4.2 s`, `3 min 05 s`, `1 h 02 min`: precise where it is short, readable where it is long."""
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


class BuildProgress:
    """The live view of one build: `planned` with the jobs it will run, then every event of their runs;
    a context manager (the terminal's bars are drawn between enter and exit)."""

    def __init__(self, out, previous_seconds: dict[str, float], *, live: bool) -> None:
        self.out = out
        self.previous = previous_seconds  # step key -> its duration in the last successful build that ran it
        self.live = live
        self.layer_of: dict[str, str] = {}  # every planned step -> its layer
        self.steps_per_layer: dict[str, int] = defaultdict(int)
        self.done_per_layer: dict[str, int] = defaultdict(int)
        self.rows_per_layer: dict[str, int] = defaultdict(int)
        self.running: dict[str, float] = {}  # step key -> when it started (the event's time)
        self.seconds: dict[str, float] = {}  # finished step -> how long it took
        self.started = time.monotonic()
        self.layer_began: dict[str, float] = {}  # layer -> when its first step started (monotonic)
        self.layer_ended: dict[str, float] = {}  # layer -> when its last step finished
        self._bars = None
        self._tasks: dict[str, object] = {}
        self._failed_to_show = False

    # the build's side

    def __enter__(self) -> BuildProgress:
        self.started = time.monotonic()
        if self.live:
            self._bars = Progress(
                TextColumn("  {task.description:<10}"), BarColumn(bar_width=30), MofNCompleteColumn(),
                TextColumn("steps {task.fields[rows]:>12,} rows"), _Elapsed(self), _NoteOrTimeLeft(self),
                console=Console(file=self.out, highlight=False),
                redirect_stderr=sys.stderr.isatty(),  # Dagster's INFO lines then print above the bars, not through them
                refresh_per_second=4,
            )
            self._bars.start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._bars is not None:
            self._refresh()
            self._bars.stop()
            self._bars = None

    def note(self, message: str) -> None:
        """A line for the reader: above the bars on a terminal, else in order with the progress lines."""
        if self._bars is not None:
            self._bars.console.print(f"  {message}", markup=False, highlight=False, soft_wrap=True)
        else:
            print(f"  {message}", file=self.out, flush=True)

    def planned(self, jobs) -> None:
        """Every job the build will run, before the first starts: the steps each layer counts towards."""
        for job in jobs:
            try:
                steps = steps_of(job)
            except Exception as exc:  # Dagster's job layout changed: its steps are counted as they start
                self._could_not_show(exc)
                continue
            for step, layer in steps.items():
                if step not in self.layer_of:
                    self.layer_of[step] = layer
                    self.steps_per_layer[layer] += 1
        known = sum(step in self.previous for step in self.layer_of)
        if known:
            others = "" if known == len(self.layer_of) else "; the others as this build's mean step"
            self.note(f"time left: each step as long as in the last successful build that ran it ({known} of "
                      f"{len(self.layer_of)} steps{others})")
        else:
            self.note("time left: the steps left times this build's mean step so far (no earlier build's step times)")
        if self._bars is not None:
            for layer in [*LAYERS, "other"]:
                if self.steps_per_layer.get(layer) and layer not in self._tasks:
                    self._tasks[layer] = self._bars.add_task(layer, total=self.steps_per_layer[layer], rows=0, note="",
                                                             layer=layer)
            self._tasks["all"] = self._bars.add_task("all layers", total=len(self.layer_of), rows=0, note="", layer=None)

    def slowest(self, count: int = SLOWEST_SHOWN) -> list[tuple[str, float]]:
        return sorted(self.seconds.items(), key=lambda item: -item[1])[:count]

    def print_slowest(self) -> None:
        if not self.seconds:
            return
        print(f"  the {min(SLOWEST_SHOWN, len(self.seconds))} slowest steps:", file=self.out)
        for step, seconds in self.slowest():
            print(f"    {seconds:8.2f} s  {step}", file=self.out)

    # the runs' side

    def event(self, entry) -> None:
        """One event of a run, as it is stored. Never raises: showing progress must not fail a build."""
        if not entry.is_dagster_event:
            return
        try:
            self._handle(entry.get_dagster_event(), entry.timestamp)
        except Exception as exc:
            self._could_not_show(exc)

    def _could_not_show(self, exc: Exception) -> None:
        """A bug in this module: said once; the build goes on, and so do the lines of later events."""
        if not self._failed_to_show:
            self._failed_to_show = True
            self.note(f"(the progress display failed: {type(exc).__name__}: {exc}; the counts may be wrong)")

    def _handle(self, event, at: float) -> None:
        from dagster import DagsterEventType

        kind = event.event_type
        if kind == DagsterEventType.STEP_START:
            self.running[event.step_key] = at
            self.layer_began.setdefault(self._layer(event.step_key), time.monotonic())
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            self._materialized(event.event_specific_data.materialization)
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            self._checked(event.event_specific_data)
        elif kind == DagsterEventType.STEP_FAILURE:
            self.note(f"step {event.step_key} FAILED: {step_error(event.event_specific_data.error)}")
            self._finished(event.step_key, at, "FAILED after")
        elif kind == DagsterEventType.STEP_SUCCESS:
            self._finished(event.step_key, at, "took")
        elif kind == DagsterEventType.STEP_SKIPPED:
            self._finished(event.step_key, at, "skipped")
        else:
            return
        self._refresh()

    def _layer(self, step: str) -> str:
        if step not in self.layer_of:  # not in the plan (cannot happen with asset jobs): count it anyway
            self.layer_of[step] = "other"
            self.steps_per_layer["other"] += 1
            if self._bars is not None:
                if "other" not in self._tasks:
                    self._tasks["other"] = self._bars.add_task("other", total=0, rows=0, note="", layer="other")
                self._bars.update(self._tasks["other"], total=self.steps_per_layer["other"])
                self._bars.update(self._tasks["all"], total=len(self.layer_of))
        return self.layer_of[step]

    def _materialized(self, materialization) -> None:
        rows = materialization.metadata.get("rows_written")
        layer = materialization.asset_key.path[0]
        if rows is not None and isinstance(rows.value, int):
            self.rows_per_layer[layer if layer in LAYERS else "other"] += rows.value
        if not self.live:
            partition = f" [{materialization.partition}]" if materialization.partition else ""
            self.note(f"materialized {materialization.asset_key.to_user_string()}{partition}: "
                      f"{rows.value if rows else '?'} rows written")
        for problem in problems_reported(materialization.metadata):
            self.note(f"  {problem}")

    def _checked(self, evaluation) -> None:
        # a non-blocking check (unknown_models_listed) warns; only blocking ones fail the build
        status = "passed" if evaluation.passed else ("FAILED" if evaluation.blocking else "WARNING")
        if evaluation.passed and self.live:
            return
        self.note(f"check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} {status}")
        if not evaluation.passed and evaluation.description:
            self.note(f"  {evaluation.description}")

    def _finished(self, step: str, at: float, how: str) -> None:
        layer = self._layer(step)
        began = self.running.pop(step, None)
        if began is not None:
            self.seconds[step] = max(0.0, at - began)
        self.done_per_layer[layer] += 1
        if self.done_per_layer[layer] >= self.steps_per_layer[layer]:
            self.layer_ended[layer] = time.monotonic()
        if self.live:
            return
        took = f" {duration(self.seconds[step])}" if step in self.seconds and how != "skipped" else ""
        done = sum(self.done_per_layer.values())
        left = self.seconds_left() if done < len(self.layer_of) else None
        print(f"  {layer} {self.done_per_layer[layer]}/{self.steps_per_layer[layer]} steps, "
              f"{self.rows_per_layer[layer]:,} rows written: {step} {how}{took} | all layers "
              f"{done}/{len(self.layer_of)} steps, {duration(time.monotonic() - self.started)} "
              f"elapsed{'' if left is None else f', about {duration(left)} left'}", file=self.out, flush=True)

    def seconds_left(self, now: float | None = None) -> float | None:
        """The estimate: every unfinished step as long as in the last successful build that ran it, else as this
        build's mean step; less what a running step has already taken. None before there is any basis.
        (The bars' refresh thread calls it too: it reads copies, which the GIL takes whole.)"""
        now = time.time() if now is None else now
        finished, running = dict(self.seconds), dict(self.running)
        mean_so_far = mean(finished.values()) if finished else None
        left = 0.0
        for step in list(self.layer_of):
            if step in finished:
                continue
            expected = self.previous.get(step, mean_so_far)
            if expected is None:
                return None
            left += max(0.0, expected - (now - running[step])) if step in running else expected
        return left

    def _refresh(self) -> None:
        if self._bars is None:
            return
        for layer, task in self._tasks.items():
            if layer == "all":
                continue
            running = [step for step in self.running if self.layer_of.get(step) == layer]
            self._bars.update(task, completed=self.done_per_layer[layer], rows=self.rows_per_layer[layer],
                              note=running[0] if running else "")
        self._bars.update(self._tasks["all"], completed=sum(self.done_per_layer.values()),
                          rows=sum(self.rows_per_layer.values()))


class _Elapsed(ProgressColumn):
    """A layer's time from its first step's start to its last step's end (blank before it starts); the whole
    build's on the `all layers` line."""

    def __init__(self, progress: BuildProgress) -> None:
        super().__init__()
        self.progress = progress

    def render(self, task) -> Text:
        layer, now = task.fields.get("layer"), time.monotonic()
        if layer is None:
            return Text(f"{duration(now - self.progress.started):>10}", style="progress.elapsed")
        began = self.progress.layer_began.get(layer)
        if began is None:
            return Text(" " * 10)
        return Text(f"{duration(self.progress.layer_ended.get(layer, now) - began):>10}", style="progress.elapsed")


class _NoteOrTimeLeft(ProgressColumn):
    """A layer's running step; on the `all layers` line, the time left, estimated at every redraw (a long
    step counts down)."""

    def __init__(self, progress: BuildProgress) -> None:
        super().__init__()
        self.progress = progress

    def render(self, task) -> Text:
        if task.fields.get("layer") is not None:
            return Text(task.fields.get("note", ""))
        left = self.progress.seconds_left() if not task.finished else None
        return Text("" if left is None else f"about {duration(left)} left")
