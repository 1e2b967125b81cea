"""Shared storage mechanisms, one module each: the warehouse connection (the
`warehouse` package: the one way in, for the single file and the DuckLake),
migrations, the load log, SCD2 and the Dagster I/O manager.

Only `io_manager` and `resources` import dagster; the rest is usable from the
report command, which must start without it.
"""
