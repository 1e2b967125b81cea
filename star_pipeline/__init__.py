"""star_pipeline: a local DuckDB warehouse of AI coding-agent activity.

This package's top level imports nothing heavy on purpose: `star-pipeline hook`
must start in a few milliseconds, without dagster or duckdb.
"""
