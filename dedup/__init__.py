"""Exact and near-duplicate detection and benchmark decontamination (see the dedup issue)."""
