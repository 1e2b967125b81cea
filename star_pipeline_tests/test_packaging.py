"""The package carries everything it runs on: a wheel holds every SQL file, migration and default
configuration of the tree, and the dashboard's templates, style sheet and script, so `pip install .` works
without the checkout."""

import subprocess
import sys
import zipfile

import pytest

from star_pipeline_tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_the_wheel_holds_every_sql_migration_and_default_file(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO_ROOT)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("star_pipeline-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    package = REPO_ROOT / "star_pipeline"
    data = {str(p.relative_to(REPO_ROOT)) for pattern in ("*.sql", "*.yaml", "*.html", "*.css", "*.js")
            for p in package.rglob(pattern)}
    assert {"star_pipeline/migrations/001_meta.sql", "star_pipeline/defaults/star_pipeline.yaml",
            "star_pipeline/defaults/classifiers/message_kinds.yaml", "star_pipeline/sources/codex/usage.sql",
            "star_pipeline/dashboard/templates/session.html", "star_pipeline/dashboard/static/dashboard.js"} <= data
    assert data <= shipped, sorted(data - shipped)
