from __future__ import annotations

import pytest

from ledger.drop import Drop
from ledger.records import Seed
from tests.conftest import REPO
from transforms.lang_id import LangIdConfig, LangIdFn, decide_language, identify, prose_for_lid

CODE = "```\nfn main() {\n    let v: Vec<i32> = Vec::new();\n    println!(\"{:?}\", v);\n}\n```\n"


def _seed(text: str, title: str = "") -> Seed:
    return Seed("i", "u", "d", "r", "w", "c", "f", 0, title, text, len(text), len(text.split()))


def test_prose_for_lid_strips_code_and_markup():
    assert prose_for_lid("## Vectors\n" + CODE + "A *vector* grows.", 100) == "Vectors A vector grows."


def test_decide_language_reasons():
    config = LangIdConfig()
    assert decide_language("", 0.0, config) == Drop("no_prose")
    assert decide_language("de", 0.99, config) == Drop("language", "de:0.990")
    assert decide_language("en", 0.3, config) == Drop("language_uncertain", "en:0.300")
    assert decide_language("zh", 0.9, config) is None
    # the page declares the language the model guesses: the lower floor applies
    assert decide_language("en", 0.3, config, declared="en-us") is None
    assert decide_language("en", 0.1, config, declared="en") == Drop("language_uncertain", "en:0.100")
    assert decide_language("en", 0.3, config, declared="de") == Drop("language_uncertain", "en:0.300")


@pytest.fixture(scope="module")
def lid():
    fn = LangIdFn(LangIdConfig(model_path=str(REPO / "models" / "lid.176.ftz")))
    fn.setup()
    return fn


def test_code_does_not_decide_the_language(lid):
    german = "Ein Vektor wächst, wenn man Elemente hinzufügt, und schrumpft nie von selbst. " * 3
    lang, score = identify(lid.model, prose_for_lid(CODE * 5 + german, 5000))
    assert lang == "de" and score > 0.8
    dropped = lid.decide(_seed(CODE * 5 + german))
    assert isinstance(dropped, Drop) and dropped.reason == "language"


def test_english_and_chinese_prose_are_kept_with_their_score(lid):
    en = lid.decide(_seed(CODE + "A vector is a growable array; push appends an element to the back.", "Vectors"))
    zh = lid.decide(_seed(CODE + "向量是一种可以增长的数组，使用 push 方法在末尾添加元素。"))
    assert (en.nl_lang, zh.nl_lang) == ("en", "zh")
    assert en.nl_score > 0.5 and zh.nl_score > 0.5
