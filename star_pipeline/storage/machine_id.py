"""The machine id: which machine's agents wrote a raw row (`machine.id` in the config).

Standard library only: `star-pipeline hook` names its spool files with the default id and must
start in milliseconds, without yaml. Here, in storage, because both the configuration (config.py, which
validates `machine.id`) and the hook (agent_side/hook.py) need it and storage imports neither.
"""

from __future__ import annotations

import re
import socket

MACHINE_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
"""What a machine id may hold: letters, digits, `.`, `_` and `-` (it appears in file names and URLs)."""


def default_machine_id() -> str:
    """This host's name, with any character a machine id may not hold replaced by `-`: `machine.id`'s default."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname().strip())
    return name or "localhost"
