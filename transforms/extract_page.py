"""Extraction of one page, pure and free of Beam so the extraction child starts fast: trafilatura's main content as
Markdown, with every code block put back verbatim from the DOM."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import NamedTuple

from lxml import etree

from ledger.drop import Drop
from transforms.deep_html import limit_error, parse_deep
from transforms.verbatim_code import (
    CodeBlock,
    block_text,
    fence,
    find_code_elements,
    in_boilerplate,
    language_hint,
)

# htmldate without its dateparser fallback, which tries every locale and takes seconds on some pages
_DATE_PARAMS = {"extensive_search": False, "original_date": True, "outputformat": "%Y-%m-%d"}
# a placeholder's text: start token, the code (so trafilatura sees the page's text density), end token
_PLACEHOLDER = "SYNCODEBLOCK{n}X\n{code}\nSYNCODEEND{n}X"
_SPAN_RE = re.compile(r"SYNCODEBLOCK(\d+)X.*?SYNCODEEND\1X", re.S)
_STRAY_TOKEN_RE = re.compile(r"SYNCODE(?:BLOCK|END)\d+X")
_MARK = "\x00{}\x00"  # a block's place in the body, alone on its line (the page has no NUL: _NOT_XML_RE)
_MARK_LINE_RE = re.compile(r"^\x00(\d+)\x00$")
# trafilatura's fence around a placeholder: ticks (any before them are inline code's), a bare mark, the same ticks;
# in a list item or a table cell it follows text on the same line, the newlines becoming spaces in a cell
_FENCED_MARK_RE = re.compile(r"(`{3,})[^`\s]*[^\S\n]*\n?[ \t>]*(\x00\d+\x00)[^\S\n]*\n?[ \t>]*\1(?!`)")
_TICKS_RE = re.compile(r"`+")
_NEWLINES_RE = re.compile(r"[ \t]*(?:\r\n?|\n)\s*")
_CONTAINER_RE = re.compile(r"^(?:[ \t]*(?:>|[-*+]|\d{1,9}[.)])(?=[ \t]|$))*[ \t]*")
_FENCE_RE = re.compile(r"^(`{3,}|~{3,})")
_OPEN_AT_END_RE = re.compile(r"^(.*?)(`{3,}|~{3,})([^`\s]*)[ \t]*$")  # a fence opening at the end of a line
_CLOSE_RE = re.compile(r"^[ \t>]*(`{3,}|~{3,})[ \t]*$")
# trafilatura escapes CommonMark specials in prose (read\_inline); seeds are read by people and LLMs, not renderers
# (not \\|: it keeps table cells apart; nor a run of 3+ backticks or tildes, which would read as a fence)
_ESCAPE_RE = re.compile(r"((?:\\`){3,}|(?:\\~){3,})|\\([*_`~\[\]<>#+\-.)!])")
_NOT_XML_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_UNDERLINE_RE = re.compile(r"(?<!\\)</?u>")  # trafilatura's own tags: a literal "<" in the text comes escaped
_BYLINE_CLASSES = frozenset({"comment-meta", "commentmetadata", "comment-metadata", "comment-author"})
_CAPTION_RE = re.compile(r"caption|title|credit|copyright|legend", re.I)
_INVISIBLE_RE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")  # soft hyphens and zero-width marks in titles
_INLINE_CODE_RE = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)")


@dataclass(frozen=True)
class ExtractConfig:
    """How ExtractCodePage extracts: trafilatura's options, the minimum text and the per-page time limit."""

    min_text_chars: int = 200
    include_comments: bool = True
    favor_recall: bool = False
    tidy_markdown: bool = True
    timeout_s: float = 10.0


class ExtractedPage(NamedTuple):
    """What extraction found on one page: Markdown text with fenced code, its metadata, and its code blocks."""

    markdown: str
    title: str
    date: str
    page_language: str
    code_blocks: list[CodeBlock]


def page_language_hints(tree: etree._Element) -> str:
    """The page's declared natural language: <html lang>, Content-Language meta or og:locale ('' when none)."""
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    for meta in tree.iter("meta"):
        key = (meta.get("http-equiv") or meta.get("property") or meta.get("name") or "").lower()
        if key in ("content-language", "og:locale", "language"):
            candidates.append(meta.get("content"))
    for value in candidates:
        value = (value or "").strip().replace("_", "-").lower()
        if value and re.fullmatch(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*", value):
            return value
    return ""


def drop_comment_bylines(tree: etree._Element) -> int:
    """Remove comment bylines ("NAME on DATE said:", WordPress comment-meta): the comment is content, its byline is
    not, and trafilatura's Markdown mode keeps it where its text mode does not."""
    doomed = [el for el in tree.iter("div", "span", "p", "footer")
              if _BYLINE_CLASSES & set((el.get("class") or "").split())]
    doomed = [el for el in doomed if not any(a in doomed for a in el.iterancestors())]
    for el in doomed:
        parent = el.getparent()
        if parent is None:
            continue
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + (el.tail or "")
        else:
            parent.text = (parent.text or "") + (el.tail or "")
        parent.remove(el)
    return len(doomed)


def drop_bold_captions(tree: etree._Element) -> int:
    """Remove <strong>/<b> captions standing alone in a <div> (class caption, title, credit...): trafilatura's
    Markdown mode keeps them as `**...**` lines where its text mode drops them as not prose."""
    removed = 0
    for el in list(tree.iter("strong", "b")):
        parent = el.getparent()
        if parent is None or parent.tag != "div" or (parent.text or "").strip() or (el.tail or "").strip():
            continue
        if not _CAPTION_RE.search(el.get("class") or ""):
            continue
        previous = el.getprevious()
        if previous is not None and (previous.tail or "").strip():
            continue
        if previous is not None:
            previous.tail = (previous.tail or "") + (el.tail or "")
        else:
            parent.text = (parent.text or "") + (el.tail or "")
        parent.remove(el)
        removed += 1
    return removed


def title_and_date(doc, url: str) -> tuple[str, str]:
    """The page's title and publication date, as trafilatura's metadata pass finds them, minus the author, site name,
    tag and licence searches (three quarters of that pass's time) that a seed does not keep."""
    from htmldate import find_date
    from trafilatura.metadata import examine_meta, extract_meta_json, extract_title

    meta = examine_meta(doc)
    try:
        meta = extract_meta_json(doc, meta)
    except Exception:  # noqa: BLE001 - trafilatura's JSON-LD reader has bugs on odd markup; the title falls back
        pass
    title = meta.title or extract_title(doc) or ""
    try:
        date = find_date(doc, url=meta.url or url or None, **_DATE_PARAMS) or ""
    except Exception:  # noqa: BLE001 - htmldate on hostile markup: no date rather than no page
        date = ""
    return " ".join(_INVISIBLE_RE.sub("", title).split()), date


def inline_code_on_one_line(tree: etree._Element) -> int:
    """Turn the line breaks inside each remaining <code> (the blocks are placeholders by now) into spaces, as a
    browser renders them: trafilatura fences any code with a newline, and Sphinx wraps long inline literals."""
    changed = 0
    for code in tree.iter("code"):
        for node in code.iter():
            if node.text and "\n" in node.text:
                node.text, changed = _NEWLINES_RE.sub(" ", node.text), changed + 1
            if node is not code and node.tail and "\n" in node.tail:
                node.tail, changed = _NEWLINES_RE.sub(" ", node.tail), changed + 1
    return changed


def separate_code_spans(line: str) -> str:
    """A space between inline code spans that trafilatura wrote back to back ("`a``b`", one signature after another
    in odoc and Javadoc pages): CommonMark reads the joined run of backticks as neither span's end."""
    out, last, open_len = [], 0, 0
    for run in _TICKS_RE.finditer(line):
        length = len(run.group(0))
        if open_len == 0:
            if run.start() == 0 or line[run.start() - 1] != "\\":  # an escaped backtick is prose
                open_len = length
        elif length == open_len:
            open_len = 0
        elif length > open_len:  # this span's closing run, then the next one's opening run
            cut = run.start() + open_len
            out.append(line[last:cut] + " ")
            last, open_len = cut, length - open_len
    out.append(line[last:])
    return "".join(out)


def unescape_prose(line: str) -> str:
    """Undo trafilatura's Markdown escapes and its <u> underline tags in a prose line, leaving inline code alone."""
    parts, last = [], 0
    for match in _INLINE_CODE_RE.finditer(line):
        parts.append(_plain(line[last:match.start()]))
        parts.append(match.group(0))
        last = match.end()
    parts.append(_plain(line[last:]))
    return "".join(parts)


def _plain(prose: str) -> str:
    return _ESCAPE_RE.sub(lambda m: m.group(1) or m.group(2), _UNDERLINE_RE.sub("", prose))


def splice_code_blocks(body: str, blocks: list[CodeBlock], keep_missing: list[bool]) -> str:
    """Replace each placeholder trafilatura kept (fenced by it or not, after text, in a list item or a table cell)
    with its verbatim fenced block on lines of its own; put back the ones it dropped."""
    body = _SPAN_RE.sub(lambda m: _MARK.format(m.group(1)), body)
    body = _STRAY_TOKEN_RE.sub("", body)  # a token whose partner trafilatura cut away
    body = _FENCED_MARK_RE.sub(lambda m: f"\n{m.group(2)}\n", body)
    body = re.sub(r"[^\S\n]*(\x00\d+\x00)[^\S\n]*", r"\n\1\n", body)  # unfenced (a <pre> it took for a quote)
    out: list[str] = []
    placed: dict[int, int] = {}  # block index -> position in `out`
    for part in own_line_fences(body.split("\n")):
        mark = _MARK_LINE_RE.match(part)
        if mark is None:
            out.append(part if _FENCE_RE.match(part) else unescape_prose(separate_code_spans(part)))
            continue
        n = int(mark.group(1))
        if n >= len(blocks) or n in placed or not blocks[n].text.strip():
            continue  # a copy (trafilatura repeats some), or an empty <pre>: no empty fence
        while out and not out[-1].strip():
            out.pop()  # blank lines before a block: _spaced puts one back
        if out and _is_bare_marker(out[-1]):
            out.pop()  # the list item or quote that held the block: its marker alone would be an empty item
        elif out and not _FENCE_RE.match(out[-1]):
            out[-1] = out[-1].rstrip()  # "For example: " before the block trafilatura put on the same line
        placed[n] = len(out)
        out.append(fence(blocks[n]))
    # blocks trafilatura dropped (hidden examples, code it judged boilerplate) go back after their predecessor
    for n, block in enumerate(blocks):
        if n in placed or not keep_missing[n]:
            continue
        before = [placed[m] for m in range(n) if m in placed]
        at = before[-1] + 1 if before else min(placed.values(), default=len(out))
        out.insert(at, fence(block))
        placed = {m: (p + 1 if p >= at else p) for m, p in placed.items()}
        placed[n] = at
    return "\n".join(_spaced(out)).strip()


def _is_bare_marker(line: str) -> bool:
    return _CONTAINER_RE.match(line).end() == len(line)


def own_line_fences(lines: list[str]) -> list[str]:
    """Lines with each of trafilatura's own fenced blocks (from a <code> with line breaks) as one part on lines of its
    own: text before the opening fence goes on a line of its own (backticks that close inline code stay with it),
    an empty block goes, and a fence that never closes stays as the text it is."""
    closing_at = [j for j, line in enumerate(lines) if _CLOSE_RE.match(line)]  # so a long page costs no rescans
    marks = [j for j, line in enumerate(lines) if _MARK_LINE_RE.match(line)]
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        opening = _OPEN_AT_END_RE.match(line)
        if opening is None:
            out.append(line)
            i += 1
            continue
        prefix, run, info = opening.group(1), opening.group(2), opening.group(3)
        end, ticks = None, ""
        next_mark = bisect.bisect_right(marks, i)
        stop = marks[next_mark] if next_mark < len(marks) else len(lines)  # trafilatura's code never spans ours
        for j in closing_at[bisect.bisect_right(closing_at, i):]:
            if j >= stop:
                break
            candidate = _CLOSE_RE.match(lines[j]).group(1)
            if candidate[0] == run[0] and len(candidate) <= len(run):
                end, ticks = j, candidate
                break
        if end is None:
            out.append(line)
            i += 1
            continue
        prefix += run[len(ticks):]  # "`void````": inline code's closing backtick, then the fence
        if not _is_bare_marker(prefix):
            out.append(prefix.rstrip())
        inner = lines[i + 1:end]
        if any(s.strip() for s in inner):
            out.append("\n".join([ticks + info, *inner, ticks]))
        i = end + 1
    return out


def _spaced(parts: list[str]) -> list[str]:
    """One blank line around every fenced block and between paragraphs; code inside a fence is left alone."""
    out: list[str] = []
    for part in parts:
        is_fence = part.startswith(("```", "~~~"))
        if (is_fence or not part.strip()) and out and out[-1] == "":
            if not is_fence:
                continue
        elif is_fence and out:
            out.append("")
        out.append(part)
        if is_fence:
            out.append("")
    return out


def extract_code_page(html: str, url: str, config: ExtractConfig) -> ExtractedPage | Drop:
    """Main content as Markdown with verbatim code, or the reason there is none; pure, so it runs in a worker."""
    import trafilatura
    from trafilatura.utils import HTML_PARSER, load_html

    # trafilatura's own parse (its element classes and repairs), once: it extracts from a copy of this tree
    # without C0 controls and other characters XML cannot hold, as libxml2 drops them from bytes: seeds go to
    # Parquet readers and LLM prompts, and a literal ESC in a terminal example is not text
    html = _NOT_XML_RE.sub("", html)
    try:
        tree = load_html(html)
        if limit_error(HTML_PARSER):  # libxml2 stopped at 256 levels and returned the page cut off there
            tree, error = parse_deep(html)
            if error:
                return Drop("html_parse_error", f"past libxml2's limits even without wrapper tags: {error}")
    except Exception as exc:  # noqa: BLE001 - lxml raises several types on hostile input
        return Drop("html_parse_error", f"{type(exc).__name__}: {exc}")
    if tree is None:
        return Drop("html_parse_error", "empty document or not HTML")
    language = page_language_hints(tree)
    if config.tidy_markdown:  # what trafilatura's Markdown mode keeps and its text mode rightly drops
        drop_bold_captions(tree)
        drop_comment_bylines(tree)
    blocks, keep_missing = [], []
    for n, el in enumerate(find_code_elements(tree)):
        block = CodeBlock(block_text(el), language_hint(el))
        blocks.append(block)
        keep_missing.append(bool(block.text.strip()) and not in_boilerplate(el))
        placeholder = tree.makeelement("pre")
        # the code stays in the placeholder so trafilatura sees the same text density (minus what XML cannot hold)
        placeholder.text = _PLACEHOLDER.format(n=n, code=_NOT_XML_RE.sub("", block.text))
        placeholder.tail = el.tail
        parent = el.getparent()
        if parent is not None:
            parent.replace(el, placeholder)
    inline_code_on_one_line(tree)
    try:
        body = trafilatura.extract(tree, url=url or None, output_format="markdown", with_metadata=False,
                                   include_comments=config.include_comments, include_tables=True,
                                   include_formatting=True, deduplicate=False, favor_recall=config.favor_recall)
        title, date = title_and_date(tree, url)  # extract() worked on a copy: `tree` still has its <head>
    except Exception as exc:  # trafilatura/lxml raise many types on hostile HTML
        return Drop("extract_error", f"{type(exc).__name__}: {exc}")
    if not body:
        return Drop("no_main_text")
    markdown = splice_code_blocks(body, blocks, keep_missing)
    kept = [b for b in blocks if b.text.strip() and fence(b) in markdown]
    if len(markdown) < config.min_text_chars:
        return Drop("too_short", str(len(markdown)))
    return ExtractedPage(markdown=markdown, title=title, date=date,
                         page_language=language, code_blocks=kept)
