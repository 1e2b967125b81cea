"""The code location loads, validates, and its asset graph matches the reviewed snapshot.

When the graph changes on purpose, regenerate the snapshot with
`STAR_PIPELINE_UPDATE_SNAPSHOTS=1 make test` and review the diff.
"""

import os
import subprocess
import sys
from pathlib import Path

from star_pipeline.sources import SOURCES
from star_pipeline_tests.conftest import REPO_ROOT, build_defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.txt"
DAGSTER = str(Path(sys.executable).with_name("dagster"))


def describe_graph(defs) -> str:
    graph = defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        deps = ",".join(sorted(d.to_user_string() for d in node.parent_keys))
        lines.append(f"asset {key.to_user_string()} group={node.group_name} pool={node.pools} deps=[{deps}]")
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        lines.append(f"check {check_key.asset_key.to_user_string()}:{check_key.name}")
    return "\n".join(lines) + "\n"


def test_asset_graph_matches_snapshot(sandbox):
    actual = describe_graph(build_defs(sandbox))
    if os.environ.get("STAR_PIPELINE_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(actual)
    assert actual == SNAPSHOT.read_text()


def test_every_warehouse_asset_and_check_is_in_the_single_writer_pool(sandbox):
    from star_pipeline.storage.resources import WAREHOUSE_POOL

    graph = build_defs(sandbox).resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).pools == {WAREHOUSE_POOL}, key
    pooled_checks = set()
    for assets_def in graph.assets_defs:
        if assets_def.node_def.pool == WAREHOUSE_POOL:
            pooled_checks |= set(assets_def.check_keys)
    assert graph.asset_check_keys and pooled_checks == set(graph.asset_check_keys)


def test_dagster_definitions_validate_passes(sandbox):
    proc = subprocess.run(
        [DAGSTER, "definitions", "validate", "-w", str(REPO_ROOT / "workspace.yaml")],
        cwd=sandbox.root,
        capture_output=True,
        text=True,
        env={**os.environ, "STAR_PIPELINE_CONFIG": str(sandbox.config_path)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation successful" in proc.stdout + proc.stderr


def test_malformed_config_fails_the_load_with_file_and_key(sandbox):
    sandbox.config_path.write_text(sandbox.config_path.read_text() + "bogus_section: 1\n")
    proc = subprocess.run(
        [DAGSTER, "definitions", "validate", "-w", str(REPO_ROOT / "workspace.yaml")],
        cwd=sandbox.root,
        capture_output=True,
        text=True,
        env={**os.environ, "STAR_PIPELINE_CONFIG": str(sandbox.config_path)},
    )
    assert proc.returncode != 0
    assert f"{sandbox.config_path}: unknown key 'bogus_section'" in proc.stdout + proc.stderr


def test_the_code_server_loads_the_definitions_and_ticks_without_pyarrow_or_numpy(sandbox):
    """`make dev` keeps a code server running that loads the definitions and runs the sensors, which never open
    the warehouse: pyarrow and numpy (40 MiB of its memory, BENCHMARKS.md "Idle cost of make dev") are
    imported by the steps that use them, in each run's own process."""
    code = (
        "import sys; from dagster import build_sensor_context; from star_pipeline.definitions import defs; "
        "defs.get_sensor_def('claude_code_files_sensor').evaluate_tick(build_sensor_context()); "
        "print(','.join(m for m in ('pyarrow', 'numpy', 'wordllama', 'plotly', 'mcp') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=sandbox.root, capture_output=True, text=True,
                          env={**os.environ, "STAR_PIPELINE_CONFIG": str(sandbox.config_path)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_dagster_yaml_limits_pools_to_one():
    import yaml

    config = yaml.safe_load((REPO_ROOT / "instance" / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1


def test_a_raw_only_machine_only_captures(sandbox):
    """machine.role: raw-only (a team member's machine on a DuckLake): its sensors start capture runs of its own
    files and nothing else; no schedule rebuilds anything there."""
    writer = build_defs(sandbox)
    assert {s.name for s in writer.schedules} == {"hourly_aggregate_rebuild", "nightly_invariant_sweep"}
    assert "after_ingest_sensor" in {s.name for s in writer.sensors}
    sandbox.config_path.write_text(sandbox.config_path.read_text() + "machine:\n  id: laptop-b\n  role: raw-only\n")
    member = build_defs(sandbox)
    assert list(member.schedules) == []
    names = {s.name for s in member.sensors}
    assert names == {f"{source.name}_files_sensor" for source in SOURCES}
    assert {s.job_name for s in member.sensors} == {"capture_raw"}
