from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to
from lxml import html as lxml_html

from ledger.drop import Drop
from ledger.records import Page, Seed
from tests.conftest import local_pipeline
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
from transforms.verbatim_code import CodeBlock, fence

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


def test_every_pre_block_of_the_sample_docs_is_verbatim():
    config = ExtractConfig(min_text_chars=0)
    total = 0
    pages = [p for p in sample_pages("debian-docs-sample.warc.gz").values() if len(p.html) < 100_000]  # test time
    for page in pages:
        result = extract_code_page(page.html, page.url, config)
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


def test_splice_replaces_placeholders_fenced_or_not_and_puts_back_missing_blocks():
    from transforms.extract_page import splice_code_blocks

    blocks = [CodeBlock("a = 1\n\n  b = 2", "py")]
    want = "Intro\n\n```py\na = 1\n\n  b = 2\n```\n\nAfter"
    assert splice_code_blocks("Intro\n```\nSYNCODEBLOCK0X\na = 1\n\n  b = 2\n```\nAfter", blocks, [True]) == want
    assert splice_code_blocks("Intro\nSYNCODEBLOCK0X\na = 1\n\nb = 2\nAfter", blocks, [True]) == want
    assert splice_code_blocks("Intro\nAfter", blocks, [True]) == "Intro\nAfter\n\n```py\na = 1\n\n  b = 2\n```"
    assert splice_code_blocks("Intro\nAfter", blocks, [False]) == "Intro\nAfter"
    assert splice_code_blocks("x\n\n\n\ny\n```\n\n```", [], []) == "x\n\ny"  # blank runs and empty fences go


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
