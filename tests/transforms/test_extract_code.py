from __future__ import annotations

import functools
import os
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to
from lxml import html as lxml_html

from ledger.drop import Drop
from ledger.records import Page, Seed
from tests.conftest import REPO, local_pipeline
from tests.transforms.sample_pages import debian_page, sample_pages
from transforms.extract_code import ExtractCodePage, domain_of, seed_of
from transforms.extract_page import (
    ExtractConfig,
    ExtractedPage,
    extract_code_page,
    page_language_hints,
    title_and_date,
    unescape_prose,
)
from transforms.stage import DROPPED_TAG, KEPT_TAG
from transforms.verbatim_code import CodeBlock, fence, fence_problems

ERLANG = "https://www.erlang.org/docs/25/doc/tutorial/c_portdriver.html"
ARTICLE = " ".join(f"Sentence {i} explains how a read_inline loop works in *this* [guide]." for i in range(30))


def _page(html: str, url: str = "https://www.example.org/a") -> Page:
    return Page(id="p1", url=url, record_id="<urn:1>", warc_date="2024-01-01", crawl_id="", warc_file="f",
                offset=0, content_type="text/html", charset="utf-8", html=html)


def _pre_texts(html: str) -> list[str]:
    """The benchmark's reference: each outermost <pre> of 2+ lines, line ends stripped."""
    tree = lxml_html.document_fromstring(html.encode(), parser=lxml_html.HTMLParser(encoding="utf-8"))
    out = []
    for pre in tree.iter("pre"):
        if next(pre.iterancestors("pre"), None) is None:
            text = "\n".join(line.rstrip() for line in "".join(pre.itertext()).split("\n")).strip("\n")
            if sum(1 for line in text.split("\n") if line.strip()) >= 2:
                out.append(text)
    return out


@functools.cache
def _extracted(name: str) -> dict[str, ExtractedPage | Drop]:
    """What extraction makes of each page of a bundled sample WARC, once per session."""
    return {url: extract_code_page(page.html, url, ExtractConfig(min_text_chars=0))
            for url, page in sample_pages(name).items()}


def test_every_pre_block_of_the_sample_docs_is_verbatim():
    total = 0
    extracted = _extracted("debian-docs-sample.warc.gz")
    for page in sample_pages("debian-docs-sample.warc.gz").values():
        result = extracted[page.url]
        assert isinstance(result, ExtractedPage), (page.url, result)
        for block in _pre_texts(page.html):
            total += 1
            assert block in result.markdown, (page.url, block[:200])
    assert total > 100


def test_tabs_and_blank_lines_survive_in_a_fenced_block():
    result = extract_code_page(debian_page(ERLANG).html, ERLANG, ExtractConfig())
    tabbed = [b for b in result.code_blocks if "\t" in b.text]
    assert tabbed and all(fence(b) in result.markdown for b in tabbed)
    assert any("\n\n" in b.text for b in result.code_blocks)
    assert result.title and result.page_language == ""


def test_language_hints_and_metadata_from_a_real_page():
    url = "https://doc.rust-lang.org/1.63.0/rust-by-example/std_misc/arg.html"
    result = extract_code_page(debian_page(url).html, url, ExtractConfig())
    assert {b.lang_hint for b in result.code_blocks} >= {"rust", "shell"}
    assert "```rust\n" in result.markdown
    assert result.page_language == "en"


def test_prose_is_unescaped_and_inline_code_kept():
    html = (f"<html lang='de-DE'><head><title>Loops</title></head><body><article><h1>Loops</h1><p>{ARTICLE}</p>"
            "<p>Call <code>read_inline(x_y)</code> then.</p><pre class='language-python'>for i in x:\n\n    pass</pre>"
            "<p>The end of the article, with a few more words to read.</p></article></body></html>")
    result = extract_code_page(html, "https://example.org/loops", ExtractConfig())
    assert "how a read_inline loop works in *this* [guide]" in result.markdown
    assert "`read_inline(x_y)`" in result.markdown
    assert "```python\nfor i in x:\n\n    pass\n```" in result.markdown
    assert (result.title, result.page_language) == ("Loops", "de-de")
    assert unescape_prose(r"a\_b `c\_d` \[e\] <u>under</u> \<u>") == r"a_b `c\_d` [e] under <u>"


def test_title_and_date_come_from_meta_tags_json_ld_or_the_title_element():
    from trafilatura.utils import load_html

    head = ("<meta property='og:title' content='Deutsch\u00adland  und \u200bdie Welt'>"
            "<meta property='article:published_time' content='2023-04-05T10:00:00Z'>")
    doc = load_html(f"<html><head><title>Site | Other</title>{head}</head><body><p>x</p></body></html>")
    assert title_and_date(doc, "https://example.org/a") == ("Deutschland und die Welt", "2023-04-05")
    json_ld = ('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", '
               '"headline": "From JSON-LD", "datePublished": "2021-02-03"}</script>')
    doc = load_html(f"<html><head>{json_ld}</head><body><p>x</p></body></html>")
    assert title_and_date(doc, "") == ("From JSON-LD", "2021-02-03")
    doc = load_html("<html><head><title>Only a title</title></head><body><p>x</p></body></html>")
    assert title_and_date(doc, "") == ("Only a title", "")


def test_control_characters_do_not_reach_the_seed():
    html = (f"<html><body><article><p>{ARTICLE}</p><p>Press \x1b to leave.</p>"
            "<pre>set t_AB=\x1b[4%p1%dm\nset t_CO=8</pre><p>The end of the article.</p></article></body></html>")
    result = extract_code_page(html, "https://example.org/vim", ExtractConfig())
    assert "\x1b" not in result.markdown and "set t_AB=[4%p1%dm\nset t_CO=8" in result.markdown
    assert [b.text for b in result.code_blocks] == ["set t_AB=[4%p1%dm\nset t_CO=8"]


def test_the_extraction_child_imports_no_beam():
    """A restart after a timeout pays the child's imports again: Beam alone would cost it seconds."""
    import subprocess
    import sys

    code = ("import sys, transforms.extract_worker, transforms.extract_page; "
            "assert 'apache_beam' not in sys.modules, 'the extraction child imports Beam'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_code_block_trafilatura_drops_is_put_back_unless_it_is_boilerplate():
    hidden = "<details><summary>Expand</summary><pre>fn hidden() {\n    1\n}</pre></details>"
    html = (f"<html><body><nav><pre>menu\nitems</pre></nav><article><p>{ARTICLE}</p>{hidden}"
            "<p>Closing words of the article body.</p></article></body></html>")
    result = extract_code_page(html, "https://example.org/x", ExtractConfig())
    assert "fn hidden() {\n    1\n}" in result.markdown
    assert "menu\nitems" not in result.markdown


def test_drop_reasons_are_exact():
    config = ExtractConfig()
    assert extract_code_page("", "u", config).reason == "html_parse_error"
    assert extract_code_page("<html><body></body></html>", "u", config) == Drop("no_main_text")
    short = extract_code_page("<html><body><article><p>Just a few words here.</p></article></body></html>", "u",
                              config)
    assert short.reason == "too_short"


def test_page_language_hints():
    tree = lxml_html.document_fromstring('<html><head><meta http-equiv="content-language" content="zh_CN"></head>'
                                         "<body>x</body></html>")
    assert page_language_hints(tree) == "zh-cn"
    assert domain_of("https://www.Example.org/x") == "example.org"


def test_seed_counts_what_the_text_holds():
    extracted = ExtractedPage(markdown=f"# T\n\nprose\n\n{fence(CodeBlock('a = 1', 'py'))}\n", title="T",
                              date="2024-05-01", page_language="en", code_blocks=[CodeBlock("a = 1", "py")])
    seed = seed_of(_page("<html></html>"), extracted)
    assert (seed.code_blocks, seed.code_chars, seed.code_hints, seed.date) == (1, 5, ["py"], "2024-05-01")
    assert seed.programming_language == "" and seed.domain == "example.org"


def test_stage_runs_extraction_in_its_worker_and_counts_drops():
    url = "https://cmake.org/cmake/help/v3.25/module/CheckSourceCompiles.html"
    pages = [debian_page(url), _page("<html><body></body></html>")._replace(id="p2")]
    p = local_pipeline()
    out = p | beam.Create(pages) | ExtractCodePage(ExtractConfig())
    assert_that(out[KEPT_TAG] | beam.Map(lambda s: (type(s) is Seed, s.url, s.code_hints[:1])),
                equal_to([(True, url, ["cmake"])]))
    assert_that(out[DROPPED_TAG] | "R" >> beam.Map(lambda d: (d.id, d.stage, d.reason)),
                equal_to([("p2", "ExtractCodePage", "no_main_text")]), label="drops")
    result = p.run()
    result.wait_until_finish()
    counters = {m.key.metric.name: m.committed for m in
                result.metrics().query(MetricsFilter().with_namespace("syncode.ExtractCodePage"))["counters"]}
    assert counters["total"] == 2 and counters["kept"] == 1 and counters["dropped_no_main_text"] == 1
    assert counters["code_blocks"] >= 1


@pytest.mark.parametrize("body", [
    "Intro\n```\nSYNCODEBLOCK0X\na = 1\n\n  b = 2\nSYNCODEEND0X\n```\nAfter",  # fenced on its own lines
    "Intro\nSYNCODEBLOCK0X\na = 1\n\nb = 2\nSYNCODEEND0X\nAfter",  # a <pre> trafilatura took for a quote
    "Intro```\nSYNCODEBLOCK0X\na = 1\nSYNCODEEND0X\n```\nAfter",  # after text: "For example: ```"
    "Intro\n- ```\nSYNCODEBLOCK0X\na = 1\nSYNCODEEND0X\n```\nAfter",  # in a list item (Nim's <dt><pre>)
    "Intro\n| ``` SYNCODEBLOCK0X a = 1 SYNCODEEND0X ``` |\nAfter",  # in a table cell, newlines as spaces
])
def test_splice_puts_each_placeholder_on_lines_of_its_own(body):
    from transforms.extract_page import splice_code_blocks

    blocks = [CodeBlock("a = 1\n\n  b = 2", "py")]
    markdown = splice_code_blocks(body, blocks, [True])
    assert fence_problems(markdown) == []
    lines = [line for line in markdown.split("\n") if line.strip()]
    assert lines[0] == "Intro" and lines[-1] in ("After", "|") and "```py" in lines
    assert fence(blocks[0]) in markdown and markdown.count("```") == 2


def test_splice_keeps_inline_code_before_a_fence_and_puts_back_missing_blocks():
    from transforms.extract_page import splice_code_blocks

    blocks = [CodeBlock("a = 1", "py"), CodeBlock("", ""), CodeBlock("hidden()", "")]
    body = ("Method `void````\nSYNCODEBLOCK0X\na = 1\nSYNCODEEND0X\n```\nAdds a node.\n"
            "```\nSYNCODEBLOCK1X\n\nSYNCODEEND1X\n```\nAgain:\n```\nSYNCODEBLOCK0X\na = 1\nSYNCODEEND0X\n```")
    assert splice_code_blocks(body, blocks, [True, False, True]) == (
        "Method `void`\n\n```py\na = 1\n```\n\n```\nhidden()\n```\n\nAdds a node.\n\nAgain:")
    assert splice_code_blocks("Intro\nAfter", blocks[:1], [True]) == "Intro\nAfter\n\n```py\na = 1\n```"
    assert splice_code_blocks("Intro\nAfter", blocks[:1], [False]) == "Intro\nAfter"
    assert splice_code_blocks("x\n\n\n\ny\n```\n\n```", [], []) == "x\n\ny"  # blank runs and empty fences go


def test_trafilatura_own_fences_go_on_lines_of_their_own():
    from transforms.extract_page import own_line_fences

    assert own_line_fences(["traits for StepBy<I>```", "impl<I> Iterator", "```", "Creates"]) == [
        "traits for StepBy<I>", "```\nimpl<I> Iterator\n```", "Creates"]
    assert own_line_fences(["`void````", "addSource(String name,", " int phase)", "```"]) == [
        "`void`", "```\naddSource(String name,\n int phase)\n```"]
    assert own_line_fences(["- ```", "", "```", "text"]) == ["text"]  # an empty one goes with its list marker
    assert own_line_fences(["Type ``` to open a fence.", "more"]) == ["Type ``` to open a fence.", "more"]


def test_adjacent_inline_code_spans_are_kept_apart():
    from transforms.extract_page import separate_code_spans

    assert separate_code_spans("``val year : [> `Year ]````val month``") == "``val year : [> `Year ]`` ``val month``"
    assert separate_code_spans("`void``add(ClassNode node)`") == "`void` `add(ClassNode node)`"
    assert separate_code_spans(r"plain `a` b \`` c") == r"plain `a` b \`` c"


def test_inline_code_with_a_line_break_in_the_source_stays_inline():
    html = (f"<html><body><article><p>{ARTICLE}</p><p>Unless the Prelude is imported with an <code>import\n"
            "<span>...</span> Prelude\n  ...</code> line, it warns.</p><p>The end of the article.</p></article>"
            "</body></html>")
    result = extract_code_page(html, "https://example.org/w", ExtractConfig())
    assert "imported with an `import ... Prelude ...` line, it warns." in result.markdown
    assert fence_problems(result.markdown) == [] and "```" not in result.markdown


def _nested(depth: int, inner: str = "div") -> str:
    return (f"<html><head><title>Deep</title></head><body>{f'<{inner}>' * depth}<article><h1>Deep</h1>"
            f"<p>{ARTICLE}</p><pre>for i in x:\n    pass</pre><p>The end of the article.</p></article>"
            f"{f'</{inner}>' * depth}</body></html>")


@pytest.mark.parametrize("depth", [300, 1_000, 100_000])
def test_a_page_nested_deeper_than_libxml2_parses_is_extracted(depth):
    shallow = extract_code_page(_nested(10), "https://example.org/d", ExtractConfig())
    deep = extract_code_page(_nested(depth), "https://example.org/d", ExtractConfig())
    assert isinstance(deep, ExtractedPage), deep
    assert deep.markdown == shallow.markdown and deep.code_blocks == [CodeBlock("for i in x:\n    pass", "")]


def test_a_page_too_deep_even_without_wrapper_tags_is_a_parse_error():
    result = extract_code_page(_nested(3_000, "blockquote"), "https://example.org/d", ExtractConfig())
    assert result.reason == "html_parse_error" and "Excessive depth" in result.detail


def test_every_fence_of_the_bundled_pages_opens_and_closes_on_its_own_line():
    pages = 0
    for name in ("debian-docs-sample.warc.gz", "trafilatura-eval-sample.warc.gz", "cc-resiliparse__warcfile.warc.gz"):
        for url, result in _extracted(name).items():
            if isinstance(result, ExtractedPage):
                pages += 1
                assert fence_problems(result.markdown) == [], url
    assert pages > 90


def _shared_doc_pages() -> list[tuple[str, str]]:
    """Every documentation page of ../shared/data or $SYNCODE_SHARED_DATA (Debian docs WARCs, the Python docs
    tarball), or [] without it."""
    import tarfile

    from transforms.read_warc import ReadConfig, ReadWarcFileFn, declared_charset, decode_html

    candidates = [REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data"]  # a clone, a worktree
    if os.environ.get("SYNCODE_SHARED_DATA"):
        candidates = [Path(os.environ["SYNCODE_SHARED_DATA"])]
    data = next((d for d in candidates if (d / "warc" / "debian-docs").is_dir()), None)
    if data is None:
        return []
    fn = ReadWarcFileFn(ReadConfig())
    fn.setup()
    pages = [(p.url, p.html) for path in sorted((data / "warc" / "debian-docs").glob("*.warc.gz"))
             for p in fn.process(str(path)) if isinstance(p, Page)]
    for tarball in sorted((data / "python-docs-html").glob("*.tar.gz")):
        with tarfile.open(tarball) as tar:
            for member in (m for m in tar if m.isfile() and m.name.endswith(".html")):
                payload = tar.extractfile(member).read()
                html = decode_html(payload, declared_charset("", payload[:4096]))[0]
                pages.append((f"python-docs:{member.name}", html))
    return pages


def test_every_fence_of_the_shared_documentation_pages_opens_and_closes_on_its_own_line():
    """Every SYNCODE_DOC_PAGES_STEP-th page (default 16: ~200 pages, ~25 s; 1: all 3,301, ~14 min on 2 busy cores)."""
    pages = _shared_doc_pages()
    if not pages:
        pytest.skip("../shared/data is not here")
    step = int(os.environ.get("SYNCODE_DOC_PAGES_STEP", "16"))
    broken, extracted = {}, 0
    for url, html in pages[::step]:
        result = extract_code_page(html, url, ExtractConfig(min_text_chars=0))
        if isinstance(result, ExtractedPage):
            extracted += 1
            if problems := fence_problems(result.markdown):
                broken[url] = problems[:3]
    assert extracted > len(pages[::step]) * 0.9
    assert broken == {}


def test_bold_captions_alone_in_a_div_are_dropped_before_extraction():
    from lxml import etree

    from transforms.extract_page import drop_bold_captions

    tree = etree.fromstring(
        '<html><body><div><img src="a.jpg"/><strong class="caption">Photo: a caption</strong></div>'
        '<div><strong class="title">Kept</strong> because prose follows it.</div>'
        "<p><strong class='caption'>Inside a paragraph: kept</strong></p><div><b>No caption class: kept</b></div>"
        "</body></html>", etree.HTMLParser())
    assert drop_bold_captions(tree) == 1
    text = "".join(tree.itertext())
    assert "Photo" not in text and "Kept because" in text and "Inside a paragraph" in text and "No caption" in text


def test_comment_bylines_are_dropped_and_comments_kept():
    from lxml import etree

    from transforms.extract_page import drop_comment_bylines

    tree = etree.fromstring(
        '<html><body><ol class="commentlist"><li><div class="comment-meta commentmetadata"><span class="comment-author'
        ' vcard"><strong>Ann</strong>, on May 1 said:</span></div><p>Use a dict here.</p></li></ol></body></html>',
        etree.HTMLParser())
    assert drop_comment_bylines(tree) == 1
    assert "".join(tree.itertext()) == "Use a dict here."
