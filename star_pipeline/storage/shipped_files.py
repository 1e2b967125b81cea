"""Where the files that ship beside the code are: the migrations and the default configuration.

Git keeps each once, at the top level of the checkout: `migrations/` (NNN_name.sql) and `config/`
(star_pipeline.yaml, pricing.yaml, classifiers/*.yaml). A wheel carries them inside the package, as
`star_pipeline/migrations/` and `star_pipeline/defaults/` (pyproject.toml's package-dir maps those two packages to
the two folders). So they are looked for beside the star_pipeline package that is running: at the top level of
its checkout when it runs from one (`pip install -e .`, PYTHONPATH, the tests), else inside the package (an
installed wheel, `pip install .`).

Found by path, not by importlib.resources: setuptools' editable install (84.2) does not import a mapped package
that has no __init__.py, and with one it would map to the checkout the venv was installed from, not to the
checkout on PYTHONPATH whose code is running. Standard library only: the hook imports this (through config.py).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # this file is star_pipeline/storage/shipped_files.py
"""The star_pipeline package that is running (a checkout's, or site-packages' for an installed copy)."""


def shipped_folder(in_checkout: str, in_package: str) -> Path:
    """`in_checkout` at the top level of the checkout this package runs from (the folder beside it that holds
    pyproject.toml), else the package's own `in_package` folder, where a wheel puts it."""
    checkout = PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / in_checkout).is_dir():
        return checkout / in_checkout
    return PACKAGE_DIR / in_package


MIGRATIONS_DIR = shipped_folder("migrations", "migrations")
"""The numbered SQL migrations (storage/migrations.py applies them)."""
DEFAULTS_DIR = shipped_folder("config", "defaults")
"""The default configuration: star_pipeline.yaml (config.py), pricing.yaml (aggregate/pricing.py) and the
default classifiers in classifiers/ (classified/)."""
