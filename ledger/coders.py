"""Beam's RowCoder for the typed records: importing this module registers them (the stage base does, so every
process that runs a stage has them), while `ledger.records` itself stays free of Beam."""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam

from ledger.records import RECORD_TYPES


def register_row_coders(record_types: Iterable[type]) -> None:
    """Encode these NamedTuples field by field with Beam's schema coder instead of pickling them."""
    for record in record_types:
        beam.coders.registry.register_coder(record, beam.coders.RowCoder)


register_row_coders(RECORD_TYPES)
