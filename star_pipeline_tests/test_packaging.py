"""The package carries everything it runs on, and git keeps each file once.

The migrations and the default configuration live at the top level of the checkout (migrations/, config/) and
nowhere else in git; a wheel holds them inside the package (star_pipeline/migrations/, star_pipeline/defaults/),
beside every file of star_pipeline/, so `pip install .` works without the checkout. The wheel is built from a
copy of the files git tracks, as `pip install .` from an archive of the repository would build it."""

import shutil
import subprocess
import sys
import textwrap
import zipfile

import pytest

from star_pipeline_tests.conftest import REPO_ROOT

# top-level folder in git -> where a wheel puts it (pyproject.toml's package-dir)
SHIPPED_FOLDERS = {"migrations": "star_pipeline/migrations", "config": "star_pipeline/defaults"}


def tracked_files(*paths: str) -> list[str]:
    """The files git tracks under `paths` (relative to the checkout); skips the test outside a git checkout."""
    listed = subprocess.run(["git", "-C", str(REPO_ROOT), "ls-files", "-z", "--", *paths], capture_output=True)
    if listed.returncode != 0:
        pytest.skip(f"{REPO_ROOT} is not a git checkout: {listed.stderr.decode(errors='replace').strip()}")
    return [name for name in listed.stdout.decode().split("\0") if name]


def test_migrations_and_config_are_at_the_top_level_and_nowhere_else_in_git():
    assert "migrations/001_meta.sql" in tracked_files("migrations")
    assert {"config/star_pipeline.yaml", "config/pricing.yaml", "config/classifiers/message_kinds.yaml"} <= set(
        tracked_files("config"))
    for folder in SHIPPED_FOLDERS.values():
        assert tracked_files(folder) == [], (
            f"{folder}/ is the wheel's copy of a top-level folder; keep its files in "
            f"{[top for top, shipped in SHIPPED_FOLDERS.items() if shipped == folder][0]}/ only")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built from a copy of the files git tracks (their working-tree contents)."""
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "source"
    for name in tracked_files():
        if (REPO_ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp), str(source)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (path,) = tmp.glob("star_pipeline-*.whl")
    return path


@pytest.mark.slow
def test_the_wheel_holds_every_file_of_the_package_and_of_migrations_and_config(wheel):
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = set(tracked_files("star_pipeline"))
    for top, inside in SHIPPED_FOLDERS.items():
        expected |= {inside + name[len(top):] for name in tracked_files(top)}
    assert {"star_pipeline/migrations/001_meta.sql", "star_pipeline/defaults/star_pipeline.yaml",
            "star_pipeline/defaults/pricing.yaml", "star_pipeline/defaults/classifiers/message_kinds.yaml",
            "star_pipeline/sources/codex/usage.sql", "star_pipeline/dashboard/templates/session.html",
            "star_pipeline/storage/shipped_files.py"} <= expected
    assert expected <= shipped, sorted(expected - shipped)


INSTALLED_COPY_READS = textwrap.dedent("""\
    import json, sys
    from star_pipeline.aggregate.pricing import PRICING_PATH
    from star_pipeline.config import DEFAULT_CONFIG_PATH, load_settings
    from star_pipeline.storage.migrations import discover
    from star_pipeline.storage.warehouse import open_connection
    settings = load_settings(sys.argv[1])
    conn = open_connection(settings.warehouse_path)
    tables = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw'").fetchone()[0]
    conn.close()
    print(json.dumps({"package": __import__("star_pipeline").__file__, "defaults": str(DEFAULT_CONFIG_PATH),
                      "classifiers": str(settings.classifiers_dir), "pricing": str(PRICING_PATH),
                      "migrations": [m.name for m in discover()], "raw_tables": tables}))
""")


@pytest.mark.slow
def test_an_installed_wheel_reads_its_own_migrations_and_defaults(wheel, tmp_path):
    """Installed outside the checkout and run from elsewhere, the package finds the files inside itself."""
    import json

    site = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                                str(wheel)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    config = tmp_path / "config.yaml"
    config.write_text(f"warehouse:\n  path: {tmp_path / 'warehouse.duckdb'}\n")
    ran = subprocess.run([sys.executable, "-c", INSTALLED_COPY_READS, str(config)], cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(site)},
                         capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    seen = json.loads(ran.stdout)
    package = site / "star_pipeline"
    assert seen["package"] == str(package / "__init__.py")
    assert seen["defaults"] == str(package / "defaults" / "star_pipeline.yaml")
    assert seen["classifiers"] == str(package / "defaults" / "classifiers")
    assert seen["pricing"] == str(package / "defaults" / "pricing.yaml")
    assert seen["migrations"] == sorted(path.name for path in (REPO_ROOT / "migrations").glob("*.sql"))
    assert seen["raw_tables"] > 0  # the migrations made the raw layer's tables
