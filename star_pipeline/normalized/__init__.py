"""Normalized layer: typed, deterministic, deduplicated rows built from raw only."""
