"""Shared test fixtures: an isolated config, warehouse and source folders per test."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_CORPUS = REPO_ROOT.parent / "shared" / "corpus"


class Sandbox:
    """A temporary home for one test: config file, warehouse path and source folders."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.claude_root = root / "claude" / "projects"
        self.codex_root = root / "codex" / "sessions"
        self.spool_dir = root / "spool"
        self.warehouse = root / "warehouse" / "warehouse.duckdb"
        self.config_path = root / "star_pipeline.yaml"
        self.home = root / "home"  # HOME while the test runs: the other agents' default folders are under it

    def write_config(self, *, quiet_seconds: float = 600, claude_roots=None, codex_roots=None, extra: str = "",
                     agent_roots: dict | None = None, lock_timeout_seconds: float = 5) -> Path:
        """A config over the sandbox's folders; `agent_roots` (roots key -> folders) for the other agents,
        which otherwise read their default folders under the test's own HOME (see `private_home`).
        `lock_timeout_seconds`: short, so a test of a held lock fails fast; longer where processes that
        start at once wait for each other by design (a lake's first migration)."""
        claude = claude_roots if claude_roots is not None else [self.claude_root]
        codex = codex_roots if codex_roots is not None else [self.codex_root]
        agent_lines = "".join(f"  {key}: {[str(p) for p in roots]}\n" for key, roots in (agent_roots or {}).items())
        self.config_path.write_text(
            textwrap.dedent(
                f"""\
                warehouse:
                  path: {self.warehouse}
                  lock_timeout_seconds: {lock_timeout_seconds:g}
                  memory_limit: 1GB
                sources:
                  claude_code_roots: {[str(p) for p in claude]}
                  codex_roots: {[str(p) for p in codex]}
                  hook_spool_dir: {self.spool_dir}
                """
            )
            + agent_lines
            + textwrap.dedent(
                f"""\
                raw:
                  partial_line_quiet_seconds: {quiet_seconds}
                """
            )
            + extra
        )
        return self.config_path


@pytest.fixture(autouse=True, scope="session")
def private_home(tmp_path_factory):
    """The whole session runs with HOME in a temporary folder and no agent folder variables, so that an
    agent's default folders (~/.qwen, ~/.kimi ...) are never the machine's own, nor is the user's configuration
    file (XDG_CONFIG_HOME unset: ~/.config under that HOME). pip keeps its cache."""
    saved = dict(os.environ)
    os.environ.setdefault("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
    os.environ["HOME"] = str(tmp_path_factory.mktemp("home"))
    for name in [n for n in os.environ if n.endswith(("_DATA_DIR", "_CONFIG_DIR", "_SESSIONS_DIR")) or
                 n in ("CODEX_HOME", "COPILOT_HOME", "GOOSE_PATH_ROOT", "PI_CODING_AGENT_DIR", "XDG_CONFIG_HOME",
                       "STAR_PIPELINE_CONFIG", "STAR_PIPELINE_SPOOL_DIR")]:
        del os.environ[name]
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Sandbox:
    box = Sandbox(tmp_path)
    box.write_config()
    return use_sandbox(box, monkeypatch)


def build_defs(sandbox: Sandbox):
    """Definitions for the sandbox's config (fresh, not the module-level `defs`)."""
    from star_pipeline.config import load_settings
    from star_pipeline.definitions import build_definitions

    return build_definitions(load_settings(sandbox.config_path))


def materialize_all(sandbox: Sandbox, *, raise_on_error: bool = True, instance=None):
    """Run every layer and check in-process against the sandbox warehouse, as `star-pipeline build` does.

    Returns a PipelineResult (ingest run first, then one run per classifier version).
    """
    from dagster import DagsterInstance

    from star_pipeline.orchestration.in_process import run_pipeline
    from star_pipeline.config import load_settings

    outcome = run_pipeline(
        build_defs(sandbox), instance or DagsterInstance.ephemeral(), load_settings(sandbox.config_path).classifiers_dir
    )
    if raise_on_error and not outcome.success:
        failures = [e.message for e in outcome.all_events if e.is_failure]
        raise AssertionError(f"pipeline failed: {failures}")
    return outcome


def materialize_usage(sandbox: Sandbox, source: str):
    """Capture one source's files and normalize them up to normalized_usage, nothing above (no checks, no
    classifiers, no aggregate): for a test of a source's usage rules, in about a third of `materialize_all`'s time."""
    from dagster import AssetKey, DagsterInstance

    job = build_defs(sandbox).resolve_implicit_global_asset_job_def()
    subset = job.get_subset(
        asset_selection={AssetKey(["raw", f"{source}_lines"]), AssetKey(["raw", f"{source}_files"]),
                         *(AssetKey(["normalized", table]) for table in
                           ("normalized_messages", "normalized_parse_errors", "normalized_usage"))},
        asset_check_selection=set(),
    )
    return subset.execute_in_process(instance=DagsterInstance.ephemeral())


def run_checks_alone(sandbox: Sandbox, *checks: tuple[list[str], str]):
    """Run only these asset checks ((asset key path, check name) pairs), no materialization: as from the
    UI's check button or the nightly sweep. Returns the run's result; failures do not raise."""
    from dagster import AssetCheckKey, AssetKey, DagsterInstance

    job = build_defs(sandbox).resolve_implicit_global_asset_job_def()
    subset = job.get_subset(
        asset_selection=set(),
        asset_check_selection={AssetCheckKey(AssetKey(asset), name) for asset, name in checks},
    )
    return subset.execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=False)


@contextlib.contextmanager
def held_by_another_process(db: Path | str, scratch: Path):
    """A second process holding the DuckDB file `db` open (its writer lock) until the block ends; yields it."""
    ready = scratch / "holder-ready"
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, pathlib, time; c = duckdb.connect({str(db)!r}); "
                               f"pathlib.Path({str(ready)!r}).touch(); time.sleep(60)"])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        yield holder
    finally:
        holder.kill()
        holder.wait()


def query(sandbox: Sandbox, sql: str, params=None):
    import duckdb

    conn = duckdb.connect(str(sandbox.warehouse), read_only=True)
    try:
        return conn.execute(sql, params or []).fetchall()
    finally:
        conn.close()


def corpus_or_skip() -> Path:
    if not SHARED_CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return SHARED_CORPUS



def build_once(tmp_path_factory, name: str, write) -> Sandbox:
    """A sandbox whose sources `write(sandbox)` fills, built: for a module-scoped fixture whose tests only read it
    (they set its environment with `use_sandbox`)."""
    box = Sandbox(tmp_path_factory.mktemp(name))
    box.write_config()
    with pytest.MonkeyPatch.context() as patch:
        use_sandbox(box, patch)
        write(box)
        assert materialize_all(box).success
    return box


def use_sandbox(box: Sandbox, monkeypatch) -> Sandbox:
    """Point the commands at `box` (its config, its HOME, no DAGSTER_HOME), as the `sandbox` fixture does."""
    monkeypatch.setenv("STAR_PIPELINE_CONFIG", str(box.config_path))
    monkeypatch.setenv("HOME", str(box.home))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return box

@pytest.fixture(scope="session")
def corpus_warehouse(tmp_path_factory):
    """A warehouse built once per test session from ../shared/corpus (skipped when it is absent): (sandbox, corpus)."""
    corpus = corpus_or_skip()
    box = Sandbox(tmp_path_factory.mktemp("corpus"))
    box.write_config(claude_roots=[corpus / "claude" / "projects"], codex_roots=[corpus / "codex" / "sessions"])
    old = os.environ.get("STAR_PIPELINE_CONFIG")
    os.environ["STAR_PIPELINE_CONFIG"] = str(box.config_path)
    try:
        assert materialize_all(box).success
    finally:
        if old is None:
            os.environ.pop("STAR_PIPELINE_CONFIG")
        else:
            os.environ["STAR_PIPELINE_CONFIG"] = old
    return box, corpus


@pytest.fixture(scope="session")
def agents_corpus_warehouse(tmp_path_factory):
    """A warehouse built once per test session from ../shared/corpus/agents/home, the eight other agents' files read
    from their default folders (skipped when absent): (sandbox, that corpus folder)."""
    corpus = corpus_or_skip() / "agents"
    box = Sandbox(tmp_path_factory.mktemp("agents"))
    box.write_config(claude_roots=[], codex_roots=[])
    return built_with_home(box, corpus / "home"), corpus


@pytest.fixture(scope="session")
def agents2_corpus_warehouse(tmp_path_factory):
    """A warehouse built once per test session from ../shared/corpus/agents2/home as HOME and no configuration of
    the agents (every agent reads its default folders; skipped when absent): (sandbox, that corpus folder)."""
    corpus = corpus_or_skip() / "agents2"
    if not corpus.is_dir():
        pytest.skip(f"{corpus} is absent")
    box = Sandbox(tmp_path_factory.mktemp("agents2"))
    box.write_config()  # the warehouse and spool in the sandbox; no agent's roots: every agent reads its defaults
    return built_with_home(box, corpus / "home"), corpus


def built_with_home(box: Sandbox, home: Path) -> Sandbox:
    """`box` built with `home` as HOME (every agent's default folders, as on the machines that wrote them)."""
    saved = {name: os.environ.get(name) for name in ("HOME", "STAR_PIPELINE_CONFIG")}
    os.environ["HOME"] = str(home)
    os.environ["STAR_PIPELINE_CONFIG"] = str(box.config_path)
    try:
        assert materialize_all(box).success
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
    return box


os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="session")
def postgres_cluster():
    """A PostgreSQL cluster for the DuckLake tests (star_pipeline/bench/local_postgres.py), started once per session.
    Skipped when PostgreSQL is not installed, except under CI (CI=true), where that is a failure."""
    from star_pipeline.bench import local_postgres

    try:
        cluster = local_postgres.start()
    except local_postgres.PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_catalog(postgres_cluster, request) -> str:
    """A `warehouse.catalog` string naming a new, empty database of the session's cluster."""
    name = "lake_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    return postgres_cluster.create_database(f"{name}_{os.getpid()}_{int(time.monotonic() * 1000) % 100000}")
