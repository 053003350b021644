from __future__ import annotations

import pyarrow as pa

from ledger.ids import stable_id
from ledger.records import PAIR_SCHEMA, SEED_SCHEMA, Seed


def test_seed_schema_follows_the_record_fields():
    assert SEED_SCHEMA.names == list(Seed._fields)
    assert SEED_SCHEMA.field("offset").type == pa.int64()
    assert SEED_SCHEMA.field("text").type == pa.string()


def test_pair_schema_has_instruction_and_response():
    assert {"instruction", "response", "seed_id", "question_prompt_version", "response_prompt_version",
            "category", "subcategory", "difficulty", "algorithmic", "testable"} <= set(PAIR_SCHEMA.names)
    assert PAIR_SCHEMA.field("algorithmic").type == pa.bool_()


def test_stable_id_is_deterministic_and_field_separated():
    assert stable_id("a", "b") == stable_id("a", "b")
    assert stable_id("ab", "c") != stable_id("a", "bc")
    assert len(stable_id("x")) == 16
