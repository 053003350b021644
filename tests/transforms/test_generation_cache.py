"""The generation cache: keys cover the messages sent, parts are written as completions arrive, damage is counted."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.util import assert_that, equal_to

import transforms.chat_handler as chat_handler
import transforms.generation_cache as generation_cache
from ledger.counters import namespace
from ledger.records import seed_from_row
from pipeline.funnel import counters_from_result
from prompts.render import Taxonomy, load_prompt, load_taxonomy
from tests.conftest import DATA, local_pipeline
from transforms.generate import GenerateQuestionsFn, SynthConfig
from transforms.generation_cache import CacheWriter, LookupCache, entry_line, parse_entry
from transforms.llm_client import ChatResult


def seeds():
    return [seed_from_row(row) for row in pq.read_table(DATA / "seeds" / "train-00000-of-00001.parquet").to_pylist()]


def result(text: str) -> ChatResult:
    return ChatResult(text=text, finish_reason="stop", model="m", prompt_tokens=3, completion_tokens=4)


def question_fn(cache_root: str | None = None, **synth) -> GenerateQuestionsFn:
    config = SynthConfig(**synth)
    role = dataclasses.replace(config.roles.question, model="m")
    return GenerateQuestionsFn("GenerateQuestions", role, config, cache_root)


def test_the_key_follows_the_messages_sent():
    seed = seeds()[0]
    assert len(seed.text) > 500
    base = question_fn(max_seed_chars=6000).key(seed)
    assert base == question_fn(max_seed_chars=6000).key(seed)  # an identical request: the same key
    assert base == question_fn(max_seed_chars=len(seed.text) + 10).key(seed)  # the same text is sent
    assert base != question_fn(max_seed_chars=500).key(seed)  # less of the page is sent


def test_an_edited_template_or_taxonomy_changes_the_key_without_a_version_bump(monkeypatch):
    seed = seeds()[0]
    base = question_fn().key(seed)
    prompt = load_prompt("question", "v2")
    edited_prompt = dataclasses.replace(prompt, user=prompt.user + "\nBe brief.")
    monkeypatch.setattr(chat_handler, "load_prompt", lambda *_: edited_prompt)
    edited = question_fn().key(seed)
    monkeypatch.undo()
    taxonomy = load_taxonomy()
    grown = Taxonomy(version=taxonomy.version, categories={**taxonomy.categories, "games": ("game_logic",)})
    monkeypatch.setattr(chat_handler, "load_taxonomy", lambda *_: grown)
    regrouped = question_fn().key(seed)
    assert len({base, edited, regrouped}) == 3


def write_part(directory: Path, name: str, data: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def lookup(fn: GenerateQuestionsFn, items: list, cache_root: str, expected: list) -> dict:
    """Run LookupCache alone, assert (seed id, cached text or None) per item, and return the counters."""
    p = local_pipeline()
    pairs = (p | beam.Create(items) | LookupCache(cache_root, "question", fn.key, stage="GenerateQuestions")
             | beam.Map(lambda pair: (pair[0].id, pair[1].text if pair[1] else None)))
    assert_that(pairs, equal_to(expected))
    run = p.run()
    run.wait_until_finish()
    return counters_from_result(run)


def test_an_identical_request_hits_and_a_changed_seed_budget_misses(tmp_path):
    cache_root = str(tmp_path / "cache")
    seed = seeds()[0]
    writer = CacheWriter(cache_root, "question", interval_s=0)
    writer.add(question_fn(cache_root).key(seed), result("from the cache"))
    writer.close()
    lookup(question_fn(cache_root), [seed], cache_root, [(seed.id, "from the cache")])
    lookup(question_fn(cache_root, max_seed_chars=500), [seed], cache_root, [(seed.id, None)])


def test_a_part_cut_mid_write_is_read_to_its_last_complete_line_and_the_rest_counted(tmp_path):
    cache_root = tmp_path / "cache"
    fn = question_fn(str(cache_root))
    first, second, third = seeds()[:3]
    whole = "\n".join([entry_line(fn.key(first), result("one")), entry_line(fn.key(second), result("两个"))])
    cut = entry_line(fn.key(third), result("第三个答案")).encode()
    cut = cut[: cut.index("第三".encode()) + 4]  # killed mid-character
    write_part(cache_root / "question", "part-a.jsonl", whole.encode() + b"\n" + cut)
    write_part(cache_root / "question", "part-b.jsonl", b"")
    counters = lookup(fn, [first, second, third], str(cache_root),
                      [(first.id, "one"), (second.id, "两个"), (third.id, None)])
    assert counters[(namespace("GenerateQuestions"), "cache_damaged_lines")] == 1


def test_without_parts_the_lookup_pairs_every_request_with_none(tmp_path):
    fn = question_fn(str(tmp_path / "cache"))
    two = seeds()[:2]
    lookup(fn, two, str(tmp_path / "cache"), [(s.id, None) for s in two])


def wait_for(condition, deadline_s: float = 30.0) -> bool:
    """Poll until `condition()` holds or a generous deadline passes (the test asserts the outcome, not the time)."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def stored(directory: Path) -> list:
    return [parse_entry(line) for part in sorted(directory.glob("*.jsonl")) for line in part.read_text().splitlines()]


def test_entries_reach_storage_within_the_interval_without_a_flush_call(tmp_path):
    writer = CacheWriter(str(tmp_path), "response", flush_entries=1000, interval_s=0.05)
    writer.add("k1", result("a"))
    assert wait_for(lambda: len(stored(tmp_path / "response")) == 1)
    writer.add("k2", result("b"))
    assert wait_for(lambda: len(stored(tmp_path / "response")) == 2)
    writer.close()
    assert sorted(k for k, _ in stored(tmp_path / "response")) == ["k1", "k2"]
    assert writer.parts_written == 2  # one new immutable part per flush, never an append


def test_a_full_buffer_is_written_at_once_and_close_writes_the_rest(tmp_path):
    writer = CacheWriter(str(tmp_path), "response", flush_entries=3, interval_s=3600)
    for i in range(3):
        writer.add(f"k{i}", result(str(i)))
    assert wait_for(lambda: len(stored(tmp_path / "response")) == 3)
    writer.add("k3", result("3"))
    writer.close()
    assert sorted(k for k, _ in stored(tmp_path / "response")) == ["k0", "k1", "k2", "k3"]


def test_a_failed_write_keeps_the_entries_for_the_next_flush(tmp_path, monkeypatch):
    writer = CacheWriter(str(tmp_path), "response", interval_s=0)
    writer.add("k1", result("a"))
    with monkeypatch.context() as m:
        m.setattr(generation_cache.FileSystems, "create", lambda *a, **k: (_ for _ in ()).throw(OSError("503")))
        with pytest.raises(OSError):
            writer.flush()
    writer.add("k2", result("b"))
    writer.close()
    assert [k for k, _ in stored(tmp_path / "response")] == ["k1", "k2"]
