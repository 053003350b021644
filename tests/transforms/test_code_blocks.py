from __future__ import annotations

from transforms.code_blocks import looks_like_code, split_code_prose


def test_fenced_blocks_are_cut_out_of_the_prose():
    text = "Intro line\n```python\ndef f(x):\n    return x\n```\nAfter the block\n~~~\nls -l\n~~~\n"
    split = split_code_prose(text)
    assert split.fenced
    assert split.prose_lines == ["Intro line", "After the block"]
    assert split.code_blocks == [["def f(x):", "    return x"], ["ls -l"]]
    assert split.code_lines == 3


def test_fence_opened_at_the_end_of_a_prose_line_and_never_closed():
    split = split_code_prose("Notable traits```\nimpl<I> Iterator for StepBy<I>\n    I: Iterator,")
    assert split.prose_lines == ["Notable traits"]
    assert split.code_blocks == [["impl<I> Iterator for StepBy<I>", "    I: Iterator,"]]


def test_without_fences_code_looking_lines_form_blocks():
    text = "Use the loop below.\nfor (int i = 0; i < n; i++) {\n    total += i;\n}\nThat is all."
    split = split_code_prose(text)
    assert not split.fenced
    assert split.prose_lines == ["Use the loop below.", "That is all."]
    assert split.code_blocks == [["for (int i = 0; i < n; i++) {", "    total += i;", "}"]]


def test_looks_like_code():
    assert looks_like_code("import os")
    assert looks_like_code("x = y;")
    assert not looks_like_code("The weather was fine yesterday.")
    assert not looks_like_code("   ")


def test_only_a_fence_as_long_as_the_opening_one_closes_it():
    split = split_code_prose("Intro\n````md\nprint('```')\n```\nstill code\n````\nAfter\n~~~\n```\n~~~")
    assert split.prose_lines == ["Intro", "After"]
    assert split.code_blocks == [["print('```')", "```", "still code"], ["```"]]
