"""The Dagster instance the sensors read, opened once per code-server process.

Dagster opens a new instance for every sensor evaluation that reads `context.instance`, and with the SQLite
storage `make dev` uses, opening one re-reads the Alembic migration scripts of its three storages: some 70 ms
of CPU, for a sensor that then asks the run history one question. The classifier-files and after-ingest
sensors tick every 10 to 30 s while `make dev` idles, so they read `sensor_instance(context)` instead: one
instance per instance reference, kept for the life of the code server (a reload starts a new process).
"""

from __future__ import annotations

from dagster import DagsterInstance, serialize_value

_INSTANCES: dict[str, DagsterInstance] = {}


def sensor_instance(context) -> DagsterInstance:
    """The instance of this sensor evaluation, kept from the previous evaluation when it is the same one."""
    ref = context.instance_ref
    if ref is None:  # a context built around an instance object (tests): nothing to open
        return context.instance
    key = serialize_value(ref)
    instance = _INSTANCES.get(key)
    if instance is None:
        instance = _INSTANCES[key] = DagsterInstance.from_ref(ref)
    return instance
