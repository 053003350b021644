from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from pipeline.config import CodeLangConfig, ExtractConfig
from tests.conftest import local_pipeline
from tests.transforms.sample_pages import debian_page
from transforms.code_lang import BlockLabel, CodeLang, CodeLangFn, main_language
from transforms.extract_code import extract_code_page, seed_of
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
    assert code_lang.label_block("x = 1") == BlockLabel("", 0.0)  # under min_block_chars
    assert code_lang.label_block("x = 1", "Python") == BlockLabel("python", 1.0)  # the markup says so
    assert code_lang.label_block("x = 1", "crystal") == BlockLabel("", 0.0)  # a language magika has no name for
    prose = "This paragraph is ordinary English prose about the weather and a walk in the park.\n" * 3
    assert code_lang.label_block(prose).label == ""


def test_stage_tags_every_seed_and_drops_nothing():
    p = local_pipeline()
    out = p | beam.Create([_seed(RUST), _seed(ERLANG)]) | CodeLang(CodeLangConfig())
    assert_that(out[KEPT_TAG] | beam.Map(lambda s: (s.url, "erlang" in s.code_languages or s.programming_language)),
                equal_to([(RUST, "rust"), (ERLANG, True)]))
    p.run().wait_until_finish()
