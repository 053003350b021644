from __future__ import annotations

import pytest
from lxml import html as lxml_html
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from transforms.verbatim_code import (
    CodeBlock,
    block_text,
    fence,
    fence_problems,
    find_code_elements,
    in_boilerplate,
    language_hint,
    parse_fences,
)

CODE = "def f(x):\n\n\tif x:\n        return 1"


def _blocks(html: str) -> list[CodeBlock]:
    tree = lxml_html.document_fromstring(html)
    return [CodeBlock(block_text(el), language_hint(el)) for el in find_code_elements(tree)]


@pytest.mark.parametrize("linenos", ["table", "inline"])
def test_pygments_gutters_are_removed_and_whitespace_kept(linenos):
    page = highlight(CODE + "\n", PythonLexer(), HtmlFormatter(linenos=linenos))  # the real Pygments markup
    assert _blocks(f"<html><body>{page}</body></html>") == [CodeBlock(CODE, "")]


def test_highlightjs_line_number_table_becomes_one_block():
    rows = "".join(
        f'<tr><td class="hljs-ln-line hljs-ln-numbers" data-line-number="{i}"><div class="hljs-ln-n" '
        f'data-line-number="{i}"></div></td><td class="hljs-ln-line hljs-ln-code" data-line-number="{i}">'
        f"{line}</td></tr>"
        for i, line in enumerate(["int main() {", "    return 0;", "}"], 1))
    page = f'<html><body><pre><code class="language-c hljs"><table class="hljs-ln"><tbody>{rows}</tbody></table>' \
           f"</code></pre></body></html>"
    assert _blocks(page) == [CodeBlock("int main() {\n    return 0;\n}", "c")]


def test_doxygen_fragment_lines_without_numbers():
    page = ('<html><body><div class="fragment"><div class="line"><a name="l00001"></a><span class="lineno">    1'
            '</span>&lt;?php</div><div class="line"><span class="lineno">    2</span> </div><div class="line">'
            '<span class="lineno">    3</span>  $uid = uuid();</div></div></body></html>')
    assert _blocks(page) == [CodeBlock("<?php\n\n  $uid = uuid();", "")]


def test_br_inside_pre_is_a_newline_and_nested_pre_counts_once():
    page = "<html><body><pre>a<br>b<br/>  c<span><pre>inner</pre></span></pre></body></html>"
    assert _blocks(page) == [CodeBlock("a\nb\n  cinner", "")]


@pytest.mark.parametrize("markup, hint", [
    ('<pre><code class="language-python">x = 1\ny = 2</code></pre>', "python"),
    ('<div class="highlight-rust notranslate"><div class="highlight"><pre>let x = 1;</pre></div></div>', "rust"),
    ('<pre class="sourceCode haskell"><code>main = print 1</code></pre>', "haskell"),
    ('<pre data-lang="go">package main</pre>', "go"),
    ('<div class="highlight-default"><pre>plain</pre></div>', ""),
    ("<pre>no hint</pre>", ""),
])
def test_language_hints_from_markup(markup, hint):
    assert _blocks(f"<html><body>{markup}</body></html>")[0].lang_hint == hint


def test_boilerplate_location():
    tree = lxml_html.document_fromstring(
        '<html><body><nav><pre>a</pre></nav><div id="comments"><pre>b</pre></div>'
        '<div id="comment" class="fullcommenttop"><pre>c</pre></div><article><pre>d</pre></article></body></html>')
    assert [in_boilerplate(el) for el in find_code_elements(tree)] == [True, True, False, False]


@pytest.mark.parametrize("code", ["x = 1", "print('```')\n\n\tok", "a ````` b", ""])
def test_fence_round_trips(code):
    block = CodeBlock(code, "py")
    text = f"# Title\n\nprose\n\n{fence(block)}\n\nmore prose\n\n{fence(CodeBlock('y', ''))}"
    assert parse_fences(text) == [block, CodeBlock("y", "")]


def test_code_that_holds_lines_is_one_block_and_inline_code_is_not():
    page = ('<html><body><p>Run <code>ls<br>cd /</code> now, or <code>pwd</code>.</p>'
            '<code class="language-c"><pre>int x;\nint y;</pre></code><pre>a<code>b<br>c</code></pre></body></html>')
    assert _blocks(page) == [CodeBlock("ls\ncd /", ""), CodeBlock("int x;\nint y;", "c"), CodeBlock("ab\nc", "")]


def test_every_pre_after_a_gutter_table_is_found():
    """The finder once kept element id()s, which lxml reuses for the next proxy: every <pre> after a table was lost."""
    page = highlight(CODE + "\n", PythonLexer(), HtmlFormatter(linenos="table"))
    page += "".join(f"<p>Step {i}.</p><pre>step {i}</pre>" for i in range(20))
    assert _blocks(f"<html><body>{page}</body></html>") == [CodeBlock(CODE, "")] + [
        CodeBlock(f"step {i}", "") for i in range(20)]


@pytest.mark.parametrize("markdown", [
    "Intro\n\n```py\na = 1\n```\n\nAfter ``` `` ``` inline code, and `a` `b`.",
    "- ```\n  b\n  ```\n> ```\n> c\n> ```\n1. ~~~\n   d\n   ~~~",
    "````md\n```\nnot a close\n```\n````",
    "no fences at all",
])
def test_sound_fences_have_no_problems(markdown):
    assert fence_problems(markdown) == []


@pytest.mark.parametrize("markdown, problems", [
    ("Notable traits for StepBy<I>```\nimpl<I> Iterator\n```",
     ["line 1: a fence that does not start its line", "line 3: a fence that never closes"]),
    ("`void````\naddSource(String name)\n```", ["line 1: a fence that does not start its line",
                                                  "line 3: a fence that never closes"]),
    ("- ```\n\n```\n\n```\nproc x()\n```", ["line 1: an empty fenced block"]),
    ("For example: \n\n```\nmnesia:create_table(t)\n```\n```\n- {type, Type}",
     ["line 6: a fence that never closes"]),
    ("```\ncode\n``` | b |", ["line 3: text after the fence that closes line 1"]),
])
def test_each_broken_fence_is_named(markdown, problems):
    assert fence_problems(markdown) == problems


def test_our_fences_are_sound():
    text = "\n\n".join(fence(CodeBlock(code, "py")) for code in ["x = 1", "print('```')\n\n\tok", "a ````` b"])
    assert fence_problems(text) == []
