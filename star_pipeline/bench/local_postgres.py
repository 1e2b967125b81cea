"""A throwaway PostgreSQL cluster for the DuckLake tests and benchmarks: started from Debian's binaries in a
temporary folder, reachable only through a unix socket in that folder (no TCP port), stopped and removed after.

Debian puts the binaries in /usr/lib/postgresql/<major>/bin, not on PATH. PostgreSQL refuses to run as root,
so as root the cluster runs as the `postgres` user, in a folder that user may enter (pytest's tmp_path is
root-only, hence a folder of its own under the system's temporary folder).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "star"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries on this machine (install Debian's `postgresql` package)."""


def find_binaries() -> Path:
    """The folder holding initdb and pg_ctl: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    raise PostgresUnavailable("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin): "
                              "`apt-get install postgresql` (.ci/run does it when run as root).")


@dataclass
class LocalPostgres:
    folder: Path
    binaries: Path
    as_postgres_user: bool

    @property
    def socket_dir(self) -> Path:
        return self.folder

    def catalog(self, database: str) -> str:
        """The `warehouse.catalog` value of `database` in this cluster."""
        return f"postgres:dbname={database} host={self.socket_dir} user={SUPERUSER}"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.binaries / args[0]), *args[1:]]
        if self.as_postgres_user:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True)

    def create_database(self, name: str) -> str:
        """Create database `name`; returns its catalog string."""
        self._run("createdb", "-h", str(self.socket_dir), "-U", SUPERUSER, name)
        return self.catalog(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> LocalPostgres:
    """initdb and start a cluster in a new temporary folder (about a second); call `.stop()` when done."""
    binaries = find_binaries()
    folder = Path(tempfile.mkdtemp(prefix="star-pipeline-pg-", dir="/tmp"))
    as_postgres_user = os.geteuid() == 0
    if as_postgres_user:
        shutil.chown(folder, "postgres", "postgres")
    cluster = LocalPostgres(folder, binaries, as_postgres_user)
    try:
        cluster._run("initdb", "-D", str(folder / "data"), "-A", "trust", "-U", SUPERUSER, "--no-sync", "-E", "UTF8")
        options = f"-c listen_addresses='' -k {folder} -c fsync=off -c max_connections=200"
        cluster._run("pg_ctl", "-D", str(folder / "data"), "-o", options, "-l", str(folder / "server.log"), "-w", "start")
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise PostgresUnavailable(f"PostgreSQL did not start: {exc.stderr.strip() or exc.stdout.strip()}") from None
    return cluster


def main() -> int:
    """`python -m star_pipeline.bench.local_postgres [database]`: a throwaway cluster for trying a team lake on
    one machine (docs/guide/team.md); prints the `warehouse.catalog` value, and stops and removes the
    cluster, lake catalog included, on Ctrl-C or `kill`."""
    import signal
    import sys
    import time

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill` stops and removes it too, as Ctrl-C does
    database = sys.argv[1] if len(sys.argv) > 1 else "star_pipeline"
    try:
        cluster = start()
    except PostgresUnavailable as exc:
        print(f"local_postgres: {exc}", file=sys.stderr)
        return 1
    try:
        catalog = cluster.create_database(database)
        print(f"PostgreSQL is running in {cluster.folder} (unix socket only; removed on Ctrl-C).")
        print(f'warehouse.catalog: "{catalog}"', flush=True)
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    raise SystemExit(main())
