from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from tests.conftest import local_pipeline
from tests.transforms.sample_pages import debian_page
from transforms.code_lang import (
    BlockLabel,
    CodeLang,
    CodeLangConfig,
    CodeLangFn,
    blocks_to_label,
    language_settled,
    main_language,
)
from transforms.extract_code import seed_of
from transforms.extract_page import ExtractConfig, extract_code_page
from transforms.stage import KEPT_TAG

RUST = "https://doc.rust-lang.org/1.63.0/book/ch04-02-references-and-borrowing.html"
ERLANG = "https://www.erlang.org/docs/25/doc/tutorial/c_portdriver.html"


def _seed(url: str):
    page = debian_page(url)
    return seed_of(page, extract_code_page(page.html, url, ExtractConfig()))


def test_main_language_is_the_one_with_most_code_chars():
    blocks = ["x" * 100, "y" * 30, "z" * 50, "w" * 500]
    labels = [BlockLabel("c", 0.9), BlockLabel("erlang", 1.0), BlockLabel("erlang", 0.8), BlockLabel("", 0.2)]
    assert main_language(blocks, labels) == ("c", round(100 / 180 * 0.9, 4))
    assert main_language(["a"], [BlockLabel("", 0.1)]) == ("", 0.0)
    assert main_language([], []) == ("", 0.0)


@pytest.fixture(scope="module")
def code_lang():
    fn = CodeLangFn(CodeLangConfig())
    fn.setup()
    return fn


def test_magika_labels_real_blocks(code_lang):
    seed = code_lang.decide(_seed(RUST))
    assert seed.programming_language == "rust" and seed.programming_language_score > 0.5
    assert len(seed.code_languages) == seed.code_blocks and seed.code_languages.count("rust") >= 5


def test_short_or_prose_blocks_get_no_label(code_lang):
    labels, _ = code_lang.label_blocks(["x = 1", "x = 1", "x = 1"], ["", "Python", "crystal"])
    # under min_block_chars; the markup says so; a language magika has no name for, and too short to read
    assert labels == [BlockLabel("", 0.0), BlockLabel("python", 1.0), BlockLabel("", 0.0)]
    prose = "This paragraph is ordinary English prose about the weather and a walk in the park.\n" * 3
    assert code_lang.magika_label(prose).label == ""


def test_blocks_to_label_skips_hinted_short_and_repeated_blocks_and_caps_the_longest():
    texts = ["a" * 30, "b" * 500, "c" * 5, "d" * 40, "a" * 30, "e" * 300, "f" * 200]
    hints = ["", "python", "", "", "", "", "unknown-lang"]
    # 1 has a hint magika knows, 2 is under 20 chars, 4 repeats 0; "unknown-lang" is no hint magika knows
    assert blocks_to_label(texts, hints, min_chars=20, max_blocks=0) == [0, 3, 5, 6]
    assert blocks_to_label(texts, hints, min_chars=20, max_blocks=2) == [5, 6]  # the two longest, in page order
    assert blocks_to_label(texts, hints, min_chars=20, max_blocks=3) == [3, 5, 6]
    assert blocks_to_label([], [], min_chars=20, max_blocks=8) == []


def test_label_blocks_reads_each_distinct_block_once_and_leaves_the_rest_unlabelled():
    fn = CodeLangFn(CodeLangConfig(max_blocks_per_page=1))
    fn.setup()
    seen: list[str] = []
    real = fn.magika_label
    fn.magika_label = lambda text: seen.append(text) or real(text)
    rust = "fn main() {\n    let v = vec![1, 2, 3];\n    for x in &v {\n        println!(\"{}\", x);\n    }\n}\n"
    shell = "apt-get install -y build-essential\n"
    labels, unread = fn.label_blocks([rust, shell, rust, "x = 1"], ["", "", "", "py"])
    assert seen == [rust]  # the cap is one block: the longest, once though it appears twice
    assert labels[0] == labels[2] and labels[0].label == "rust"
    assert labels[1] == BlockLabel("", 0.0)  # past the cap
    assert labels[3] == BlockLabel("python", 1.0)  # the markup's hint needs no model
    assert unread == 0  # the shell block was never a candidate: it is past the cap


def test_language_settled_when_the_unread_chars_cannot_change_the_leader():
    assert language_settled({"python": 500, "shell": 100}, 399)
    assert not language_settled({"python": 500, "shell": 100}, 400)  # a tie is not settled
    assert language_settled({"python": 10}, 9) and not language_settled({}, 1) and language_settled({}, 0)


def test_magika_reads_nothing_when_the_hinted_code_already_decides():
    fn = CodeLangFn(CodeLangConfig())
    fn.setup()
    fn.magika_label = lambda text: pytest.fail("magika should not run")
    shell = "echo unlabelled block of shell\n"
    labels, unread = fn.label_blocks(["x = 1\n" * 200, shell], ["python", ""])
    assert labels == [BlockLabel("python", 1.0), BlockLabel("", 0.0)] and unread == len(shell)
    assert main_language(["x = 1\n" * 200, shell], labels, unread) == ("python", round(1200 / (1200 + 31), 4))


def test_stage_tags_every_seed_and_drops_nothing():
    p = local_pipeline()
    out = p | beam.Create([_seed(RUST), _seed(ERLANG)]) | CodeLang(CodeLangConfig())
    # the Erlang tutorial's port driver is mostly C; once C leads by more than the unread blocks hold, magika stops
    assert_that(out[KEPT_TAG] | beam.Map(lambda s: (s.url, s.programming_language, s.code_languages.count("c") >= 1)),
                equal_to([(RUST, "rust", False), (ERLANG, "c", True)]))
    p.run().wait_until_finish()
