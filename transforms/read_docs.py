"""ParseTextDocs: a user's JSON lines (or Parquet rows) become TextDocs for the dedup job; a line without an id or a
text is a counted drop, not a crash."""

from __future__ import annotations

import json

from dedup.records import TextDoc
from ledger.drop import Drop
from transforms.stage import Stage, StageDoFn

STAGE = "ReadDocs"


def text_doc_from_json(line: str) -> TextDoc | Drop:
    """Parse one JSONL line; `id` and a non-empty string `text` are required, url/score/date are optional."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return Drop("bad_json", f"{exc.msg}: {line[:200]}")
    if not isinstance(row, dict):
        return Drop("bad_json", f"not an object: {line[:200]}")
    return text_doc_from_row(row)


def text_doc_from_row(row: dict) -> TextDoc | Drop:
    """A row with `id` and a string `text` as a TextDoc (score from `score` or `quality_score`, date from `date` or
    `warc_date`), or the drop that says which is missing."""
    if row.get("id") in (None, ""):
        return Drop("no_id", str(row)[:200])
    if not isinstance(row.get("text"), str):
        return Drop("no_text", f"id={row['id']}")
    try:
        score = float(row.get("score", row.get("quality_score", 0.0)) or 0.0)
    except (TypeError, ValueError):
        return Drop("bad_score", f"id={row['id']} score={row.get('score')!r}")
    return TextDoc(id=str(row["id"]), text=row["text"], url=str(row.get("url") or ""), score=score,
                   date=str(row.get("date", row.get("warc_date")) or ""))


class ParseTextDocFn(StageDoFn):
    """A JSON line (or a Parquet row as a dict) becomes a TextDoc; anything else is a counted drop."""

    def __init__(self, rows: bool = False, progress_interval_s: float = 10.0, stage: str = STAGE):
        super().__init__(stage, progress_interval_s)
        self.rows = rows

    def decide(self, element: str | dict) -> TextDoc | Drop:
        return text_doc_from_row(element) if self.rows else text_doc_from_json(element)


class ParseTextDocs(Stage):
    """JSON lines in (Parquet rows with `rows=True`), TextDocs out, with a `dropped` output."""

    def __init__(self, rows: bool = False, progress_interval_s: float = 10.0, stage: str = STAGE,
                 label: str | None = None):
        super().__init__(ParseTextDocFn(rows, progress_interval_s, stage), label)
