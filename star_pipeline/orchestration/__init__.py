"""Orchestration: the jobs, the ingest -> classify -> aggregate sequence, sensors and schedules.

One place decides what runs after what; `star-pipeline build` (in-process), the
sensors (`dagster dev`) and the schedules all follow `sequence.py`.
"""
