"""`star-pipeline serve`: the dashboard on 127.0.0.1 (uvicorn), refusing to listen on the network unless asked."""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8484


class ServeError(ValueError):
    """A host or port that cannot be served on; the message says what to pass."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_address(host: str, port: int, allow_network: bool) -> None:
    """Refuse a host other than this machine's loopback without --allow-network, a port out of range, and a port
    another process holds (before uvicorn would fail with a traceback)."""
    if not 0 < port < 65536:
        raise ServeError(f"--port {port}: use a port between 1 and 65535")
    if not is_loopback(host) and not allow_network:
        raise ServeError(f"--host {host}: the dashboard shows your sessions' prompts and costs; it listens on this "
                         "machine only (127.0.0.1) unless you add --allow-network, which lets anyone who can reach "
                         f"this machine on port {port} read them")
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a port just left is free
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise ServeError(f"--host {host} --port {port}: cannot listen there ({exc.strerror}); "
                             "another program may hold the port: pass another --port") from None


def run_serve(warehouse_path: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, allow_network: bool = False,
              timezone: str | None = None, out=None, team: bool = False) -> int:
    """`warehouse_path`: the published copies' anchor (config's Settings.published_anchor); `team` (a lake): the
    pages say who published the copies and how long ago."""
    out = out or sys.stdout
    check_address(host, port, allow_network)
    import uvicorn

    from star_pipeline.dashboard.app import LOOPBACK_HOSTS, create_app
    from star_pipeline.storage.published_copies import published_copy_path, search_copy_path

    # Host headers answered: this machine's names (a page elsewhere cannot read the dashboard through a name that
    # resolves to 127.0.0.1), or any with --allow-network on another address
    hosts = [*LOOPBACK_HOSTS, host] if is_loopback(host) else ["*"]
    app = create_app(warehouse_path, allowed_hosts=hosts, timezone=timezone, team=team)
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    print(f"star-pipeline serve: http://{shown}:{port}/ (reads {published_copy_path(warehouse_path)} and "
          f"{search_copy_path(warehouse_path)}; Ctrl-C stops)", file=out, flush=True)
    uvicorn.run(app, host=host.strip("[]"), port=port, log_level="warning", access_log=False)
    return 0
