"""Benchmarks: a deterministic corpus generator and the measurement script (`make bench`)."""
