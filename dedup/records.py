"""Records of the dedup stages: the (id, text, score) view any record is deduplicated by, and the cluster rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from ledger.coders import register_row_coders
from ledger.records import arrow_schema


class DedupDoc(NamedTuple):
    """What dedup needs from any record: seeds, pairs, or the rows of a user's JSONL."""

    id: str
    text: str
    score: float  # the "score" keep rule prefers the highest (a quality score, a judge score)
    date: str  # the "earliest" keep rule prefers the smallest (an ISO date; empty sorts last)


class ClusterRow(NamedTuple):
    """One row per document in OUT/clusters: which cluster it fell in, whether it was kept, and why not."""

    id: str
    cluster_id: str
    kept: bool
    reason: str
    detail: str


class TextDoc(NamedTuple):
    """A document from a user's JSONL (or Parquet without the seed columns): id and text, optional url/score/date."""

    id: str
    text: str
    url: str
    score: float
    date: str


register_row_coders((DedupDoc, ClusterRow, TextDoc))

CLUSTER_SCHEMA = arrow_schema(ClusterRow)
TEXT_DOC_SCHEMA = arrow_schema(TextDoc)


@dataclass(frozen=True)
class DocView:
    """Reads a DedupDoc off any record by field names, so one transform dedups seeds (text) and pairs
    (instruction, or instruction + response): `DocView(text=("instruction",), score="judge_score")`."""

    text: tuple[str, ...] = ("text",)
    id: str = "id"
    score: str = ""
    date: str = ""

    def __call__(self, record: Any) -> DedupDoc:
        text = "\n".join(str(getattr(record, name) or "") for name in self.text)
        score = float(getattr(record, self.score, 0.0) or 0.0) if self.score else 0.0
        date = str(getattr(record, self.date, "") or "") if self.date else ""
        return DedupDoc(id=str(getattr(record, self.id)), text=text, score=score, date=date)


# seeds: the page text; `score` ranks by the code classifier's probability, `earliest` by the WARC date
SEED_VIEW = DocView(text=("text",), score="code_score", date="warc_date")
