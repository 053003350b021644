from __future__ import annotations

import pytest

from prompts.render import load_prompt, load_taxonomy, parse_json_reply, schema_problem


def test_taxonomy_has_7_categories_and_40_unique_subcategories():
    taxonomy = load_taxonomy()
    assert len(taxonomy.categories) == 7
    assert len(taxonomy.subcategories) == 40
    assert taxonomy.subcategories["algorithm_design"] == "software_engineering"


def test_question_schema_lists_the_taxonomy_and_bounds_strings():
    prompt = load_prompt("question", "v2")
    props = prompt.schema["properties"]
    assert props["category"]["enum"] == list(load_taxonomy().categories)
    assert len(props["subcategory"]["enum"]) == 40
    assert props["question"]["maxLength"] > 0 and props["programming_language"]["maxLength"] > 0
    fmt = prompt.response_format()
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] is prompt.schema


@pytest.mark.parametrize("name,version,values", [
    ("question", "v2", {"title": "T", "text": "x = {1: 2}", "programming_language": "Python",
                        "language_name": "English", "taxonomy": "- a: b"}),
    ("response", "v2", {"instruction": "Reverse a list.", "language_name": "English"}),
    ("tests", "v1", {"instruction": "Reverse a list.", "programming_language": "Python"}),
    ("judge", "v1", {"instruction": "Reverse a list.", "response": "xs[::-1]"}),
])
def test_every_template_renders_with_its_placeholders(name, version, values):
    prompt = load_prompt(name, version)
    messages = prompt.messages(**values)
    assert prompt.tag == f"{name}-{version}"
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "$" not in messages[1]["content"].replace("$$", "")
    with pytest.raises(KeyError):
        prompt.messages()


def test_code_braces_in_page_text_stay_literal():
    prompt = load_prompt("response", "v2")
    assert "fn main() { println!(\"{}\", x); }" in prompt.messages(
        instruction="fn main() { println!(\"{}\", x); }", language_name="English")[1]["content"]


def test_unknown_version_names_the_known_ones():
    with pytest.raises(FileNotFoundError, match="question-v2"):
        load_prompt("question", "v99")


def test_parse_json_reply_tolerates_fences_prose_and_raw_control_characters():
    assert parse_json_reply('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_reply('Sure! Here it is: {"a": "b"} Hope it helps.') == {"a": "b"}
    assert parse_json_reply('{"a": "line one\nline two\ttab"}') == {"a": "line one\nline two\ttab"}
    assert parse_json_reply('{"a": "bell\x07"}') == {"a": "bell\x07"}
    assert parse_json_reply("no json here") is None
    assert parse_json_reply('{"a": ') is None
    assert parse_json_reply("[1, 2]") is None


def test_schema_problem_names_the_key():
    schema = load_prompt("judge", "v1").schema
    assert schema_problem({"reason": "ok", "score": 7}, schema) is None
    assert schema_problem({"reason": "ok"}, schema) == "missing key 'score'"
    assert schema_problem({"reason": "ok", "score": 11}, schema) == "score: 11 is out of range"
    assert schema_problem({"reason": "ok", "score": True}, schema) == "score: expected integer, got bool"
    question = load_prompt("question", "v2").schema
    bad = {"question": "q", "programming_language": "Go", "category": "cooking", "subcategory": "debugging",
           "difficulty": "medium", "algorithmic": True, "testable": False}
    assert schema_problem(bad, question) == "category: 'cooking' is not one of the allowed values"
