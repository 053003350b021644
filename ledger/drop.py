"""A stage's decision not to keep a record, in a module free of Beam so that child processes import it cheaply."""

from __future__ import annotations

from typing import NamedTuple


class Drop(NamedTuple):
    """A stage's decision not to keep a record: a short reason (the counter name) and a detail for audit."""

    reason: str
    detail: str = ""
