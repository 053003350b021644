from __future__ import annotations

from lxml import etree
from lxml import html as lxml_html

from transforms.deep_html import flatten_html, limit_error, parse_deep


def _depth(tree: etree._Element) -> int:
    return max(sum(1 for _ in el.iterancestors()) for el in tree.iter())


def test_wrappers_past_the_depth_go_and_their_text_and_structure_stay():
    page = ("<html><body>" + "<div class='w'><span>" * 200 + "<p>Deep &amp; <b>bold</b> text</p><pre>x &lt; 1\n"
            "  y</pre><ul><li>one<li>two</ul><!-- note --><script>if (a<b) {}</script>" + "</span></div>" * 200
            + "<p>After</p></body></html>")
    flat = flatten_html(page, max_depth=50)
    parser = lxml_html.HTMLParser()
    tree = lxml_html.document_fromstring(flat, parser=parser)
    assert limit_error(parser) == "" and _depth(tree) < 60
    assert tree.xpath("string((//p)[1])") == "Deep & bold text"
    assert tree.xpath("string(//pre)") == "x < 1\n  y"
    assert [li.text for li in tree.iter("li")] == ["one", "two"]
    assert tree.xpath("string(//script)") == "if (a<b) {}"
    assert tree.xpath("string((//p)[last()])") == "After"


def test_a_shallow_page_is_unchanged_but_for_end_tag_case():
    page = "<html><body><div id=a><p>One<p>Two <br> <img src=x.png/></div><P>Three</P></body></html>"
    assert flatten_html(page) == page.replace("</P>", "</p>")


def test_the_parser_reports_the_depth_at_which_it_stopped():
    parser = lxml_html.HTMLParser()
    lxml_html.document_fromstring("<html><body>" + "<div>" * 300 + "text" + "</div>" * 300, parser=parser)
    assert "Excessive depth" in limit_error(parser)
    lxml_html.document_fromstring("<html><body>" + "<div>" * 30 + "text" + "</div>" * 30, parser=parser)
    assert limit_error(parser) == ""


def test_a_deep_page_is_parsed_whole_up_to_2048_levels_and_flattened_past_them():
    def page(depth: int, tag: str = "div") -> str:
        return f"<html><body>{f'<{tag} class=w>' * depth}<p>Deep <b>text</b></p>{f'</{tag}>' * depth}</body></html>"

    tree, error = parse_deep(page(1_000))
    assert error == "" and _depth(tree) == 1_003 and tree.xpath("string(//p)") == "Deep text"
    tree, error = parse_deep(page(5_000))
    assert error == "" and _depth(tree) < 1_100 and tree.xpath("string(//p)") == "Deep text"
    tree, error = parse_deep(page(3_000, "blockquote"))  # structure, kept at any depth: too deep to parse
    assert tree is None and "Excessive depth" in error
