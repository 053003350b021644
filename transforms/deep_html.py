"""HTML nested deeper than libxml2 parses by default (256 elements), which it returns cut off where it stopped:
parsed again with `huge_tree` (2,048 levels), and deeper still without its wrapper tags past a depth."""

from __future__ import annotations

from html.parser import HTMLParser

from lxml import etree
from lxml import html as lxml_html

# Elements that carry structure for trafilatura or the code finder (blocks, lists, tables, headings, boilerplate
# landmarks, raw-text elements): kept at any depth. Everything else (div, span, font, b, a, section, ...) is a
# wrapper whose tags can go, their content kept, once the page is deeper than `max_depth`.
_STRUCTURE = frozenset({
    "html", "head", "body", "title", "script", "style", "noscript", "template", "textarea", "select", "option",
    "pre", "code", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "ul", "ol", "li", "dl", "dt",
    "dd", "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "article", "main", "nav", "header", "footer",
    "aside", "details", "summary", "figure", "figcaption"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
                   "track", "wbr", "keygen", "frame", "basefont", "isindex"})
# the implied end tags HTML parsers apply, so that an unclosed <p> or <li> does not count as nesting
_CLOSED_BY = {
    "p": frozenset({"p", "div", "pre", "ul", "ol", "dl", "table", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6",
                    "article", "section", "header", "footer", "nav", "aside", "main", "form", "hr", "figure"}),
    "li": frozenset({"li"}), "dt": frozenset({"dt", "dd"}), "dd": frozenset({"dt", "dd"}),
    "option": frozenset({"option"}), "tr": frozenset({"tr"}), "td": frozenset({"td", "th", "tr"}),
    "th": frozenset({"td", "th", "tr"}),
}
MAX_DEPTH = 1024  # wrappers kept down to here: trafilatura and lxml handle such trees, and huge_tree allows 2,048
# trafilatura's own parser settings (trafilatura.utils.HTML_PARSER), plus huge_tree
_PARSER_OPTIONS = {"collect_ids": False, "default_doctype": False, "encoding": "utf-8", "remove_comments": True,
                   "remove_pis": True}


def limit_error(parser: etree.HTMLParser) -> str:
    """The message when the parser's last run stopped at one of libxml2's limits (nesting depth above all) and so
    returned the page cut off there without raising; '' when it parsed the whole page."""
    return next((e.message for e in parser.error_log if e.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT), "")


class _Flattener(HTMLParser):
    """Re-emits the markup token by token (raw text unchanged), leaving out the tags of wrapper elements that open
    deeper than `max_depth` counted elements, and the end tags that close them."""

    def __init__(self, max_depth: int):
        super().__init__(convert_charrefs=False)
        self.max_depth = max_depth
        self.out: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, kept) of each open element
        self.depth = 0  # open elements that were kept
        self.open_count: dict[str, int] = {}

    def _push(self, tag: str, kept: bool) -> None:
        self.stack.append((tag, kept))
        self.depth += kept
        self.open_count[tag] = self.open_count.get(tag, 0) + 1

    def _pop_to(self, index: int) -> None:
        for tag, kept in self.stack[index:]:
            self.depth -= kept
            self.open_count[tag] -= 1
        del self.stack[index:]

    def handle_starttag(self, tag: str, attrs) -> None:
        while self.stack and tag in _CLOSED_BY.get(self.stack[-1][0], ()):
            self._pop_to(len(self.stack) - 1)  # implied end tag: the parser closes it too, so no text is written
        kept = tag in _STRUCTURE or self.depth < self.max_depth
        if kept:
            self.out.append(self.get_starttag_text())
        if tag not in _VOID:
            self._push(tag, kept)

    def handle_startendtag(self, tag: str, attrs) -> None:
        self.out.append(self.get_starttag_text())

    def handle_endtag(self, tag: str) -> None:
        if not self.open_count.get(tag):
            self.out.append(f"</{tag}>")  # a stray end tag: the parser ignores it or repairs around it
            return
        index = next(i for i in range(len(self.stack) - 1, -1, -1) if self.stack[i][0] == tag)
        kept = self.stack[index][1]
        self._pop_to(index)  # amortized: each element is popped once
        if kept:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.out.append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self.out.append(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.out.append(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.out.append(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self.out.append(f"<![{data}]>")


def flatten_html(html: str, max_depth: int = MAX_DEPTH) -> str:
    """The page with the tags of wrapper elements nested deeper than `max_depth` left out and all text kept, so
    libxml2 parses it whole; structural elements (<pre>, <p>, lists, tables, headings) stay at any depth."""
    flattener = _Flattener(max_depth)
    flattener.feed(html)
    flattener.close()
    return "".join(flattener.out)


def parse_deep(html: str) -> tuple[lxml_html.HtmlElement | None, str]:
    """(tree, '') for a page too deep for libxml2's default limit: the whole page with `huge_tree` when it is at
    most 2,048 levels deep, else without the wrapper tags nested past MAX_DEPTH; (None, why) when still too deep."""
    parser = lxml_html.HTMLParser(huge_tree=True, **_PARSER_OPTIONS)
    tree = lxml_html.fromstring(html.encode("utf-8", "surrogatepass"), parser=parser)
    if not limit_error(parser):
        return tree, ""
    tree = lxml_html.fromstring(flatten_html(html).encode("utf-8", "surrogatepass"), parser=parser)
    error = limit_error(parser)
    return (None, error) if error else (tree, "")
