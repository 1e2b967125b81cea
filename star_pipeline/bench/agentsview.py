"""agentsview 0.46.1 (Go, SQLite + FTS) as a baseline `make bench` measures in the same run as star_pipeline.

It is installed into the bench's own environment (a venv under the user's cache folder,
`~/.cache/star_pipeline/bench/agentsview-0.46.1`), never into the project's. Each corpus gets its own data
folder and an empty HOME, so agentsview reads only that corpus (CLAUDE_PROJECTS_DIR, CODEX_SESSIONS_DIR), never
the machine's own agents, and runs without its daemon, telemetry or update check.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from star_pipeline.bench.measure import timed

VERSION = "0.46.1"
_SYNCED = re.compile(r"Sync complete: (\d+) sessions? synced")


def cache_folder() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "star_pipeline" / "bench"


def install(cache: Path | None = None) -> tuple[Path | None, str]:
    """The agentsview binary (made once: a venv under `cache` with `pip install agentsview==VERSION`), or None and
    why it is unavailable."""
    venv = (cache or cache_folder()) / f"agentsview-{VERSION}"
    python = venv / "bin" / "python"
    try:
        if not python.exists():
            venv.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            print(f"agentsview: installing {VERSION} into {venv} ...", flush=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        found = subprocess.run([str(python), "-c", "import agentsview, pathlib; "
                                "print(pathlib.Path(agentsview.__file__).parent / 'bin' / 'agentsview')"],
                               capture_output=True, text=True)
        if found.returncode != 0:
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"agentsview=={VERSION}"],
                           check=True, capture_output=True, timeout=900)
            found = subprocess.run([str(python), "-c", "import agentsview, pathlib; "
                                    "print(pathlib.Path(agentsview.__file__).parent / 'bin' / 'agentsview')"],
                                   capture_output=True, text=True, check=True)
        binary = Path(found.stdout.strip())
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR)  # as the package's own launcher does
        version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60)
        if version.returncode != 0 or VERSION not in version.stdout:
            return None, f"{binary} --version answered {version.stdout.strip() or version.stderr.strip()!r}"
        return binary, ""
    except subprocess.CalledProcessError as exc:
        output = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
        last = [line for line in output.splitlines() if line.strip()][-1:] or [f"exit status {exc.returncode}"]
        return None, f"`{' '.join(map(str, exc.cmd))}` failed: {last[0].strip()}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{exc}"


def synced_sessions(output: str) -> int | None:
    """How many sessions a `sync` says it synced (its line "Sync complete: N sessions synced in ...")."""
    match = _SYNCED.search(output)
    return int(match.group(1)) if match else None


def usage_total(report: dict) -> int | None:
    """Total tokens of a `usage daily --json` report (its totals: input, output, cache creation and cache read)."""
    totals = report.get("totals") or {}
    parts = [totals.get(key) for key in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")]
    return sum(parts) if all(isinstance(part, int) for part in parts) else None


@dataclass
class Agentsview:
    """agentsview over one corpus, with its own data folder (its SQLite store) and an empty HOME under `folder`."""

    binary: Path
    folder: Path
    claude_projects: Path
    codex_sessions: Path | None = None

    def env(self) -> dict[str, str]:
        home, data = self.folder / "home", self.folder / "data"
        for made in (home, data):
            made.mkdir(parents=True, exist_ok=True, mode=0o700)
        env = {**os.environ, "HOME": str(home), "AGENTSVIEW_DATA_DIR": str(data), "AGENTSVIEW_NO_DAEMON": "1",
               "AGENTSVIEW_TELEMETRY_ENABLED": "0", "DO_NOT_TRACK": "1", "AGENTSVIEW_DISABLE_UPDATE_CHECK": "1",
               "CLAUDE_PROJECTS_DIR": str(self.claude_projects),
               "CODEX_SESSIONS_DIR": str(self.codex_sessions or home / "no-codex")}
        env.pop("XDG_CONFIG_HOME", None)
        env.pop("XDG_DATA_HOME", None)
        return env

    def sync(self) -> tuple[float, int | None, int | None]:
        """`agentsview sync`: wall seconds, peak RSS (KiB) and the sessions it says it synced."""
        elapsed, peak, proc = timed([str(self.binary), "sync"], env=self.env())
        output = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"agentsview sync failed: {output.strip()[-1500:]}")
        return elapsed, peak, synced_sessions(output)

    def daily(self) -> tuple[float, int | None, int | None]:
        """`agentsview usage daily` over all history from its store (no sync first, as our report reads the built
        warehouse): wall seconds, peak RSS (KiB) and the Claude Code total tokens it reports."""
        elapsed, peak, proc = timed([str(self.binary), "usage", "daily", "--json", "--all", "--offline", "--no-sync",
                                     "--timezone", "UTC", "--agent", "claude"], env=self.env())
        try:
            total = usage_total(json.loads(proc.stdout))
        except ValueError:
            total = None
        return elapsed, peak, total
