"""Benchmarks against peers (not tests); a package so that `python -m bench.X` runs from the repo root."""
