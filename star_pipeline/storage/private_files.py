"""Every file the project creates is readable by its owner only.

Warehouse, spill files, spool, published copies and Dagster's run history all
hold transcript text (or previews and paths derived from it). Each process the
project starts (the command line, dagster dev's code servers and runs) creates
files under umask 077; folders created by earlier versions, or by Dagster before
this process started, are closed with `restrict_tree`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

OWNER_ONLY_UMASK = 0o077


def owner_only_umask() -> None:
    """Files and folders this process creates from now on: 0600 and 0700 at most."""
    os.umask(OWNER_ONLY_UMASK)


def restrict_tree(root: Path | str) -> int:
    """Remove group and other permissions from `root` and everything below it (symbolic links are
    not followed); returns how many entries changed. Missing or unreadable entries are skipped."""
    changed = 0
    root = Path(root)
    if not root.is_dir():
        return 0
    for folder, dirs, files in os.walk(root):
        for name in [folder, *(os.path.join(folder, d) for d in dirs), *(os.path.join(folder, f) for f in files)]:
            try:
                mode = os.lstat(name).st_mode
                if stat.S_ISLNK(mode) or not mode & 0o077:
                    continue
                os.chmod(name, stat.S_IMODE(mode) & ~0o077)
                changed += 1
            except OSError:
                continue
    return changed
