"""Extraction of one page, pure and free of Beam so the extraction child starts fast: trafilatura's main content as
Markdown, with every code block put back verbatim from the DOM."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from lxml import etree

from ledger.drop import Drop
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
_TOKEN = "SYNCODEBLOCK{}X"
_TOKEN_RE = re.compile(r"SYNCODEBLOCK(\d+)X")
_FENCE_RE = re.compile(r"^(`{3,}|~{3,})")
# trafilatura escapes CommonMark specials in prose (read\_inline); seeds are read by people and LLMs, not renderers
_ESCAPE_RE = re.compile(r"\\([*_`~\[\]<>#+\-.)!])")  # not \\|: it keeps table cells apart
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
    return _ESCAPE_RE.sub(r"\1", _UNDERLINE_RE.sub("", prose))


def splice_code_blocks(body: str, blocks: list[CodeBlock], keep_missing: list[bool]) -> str:
    """Replace each placeholder trafilatura kept with its verbatim fenced block; put back the ones it dropped."""
    out: list[str] = []
    placed: dict[int, int] = {}  # block index -> position in `out`
    lines, i = body.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        fence_open = _FENCE_RE.match(line)
        if fence_open:
            ticks = fence_open.group(1)
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith(ticks)), len(lines))
            inner = "\n".join(lines[i + 1:end])
            found = [int(n) for n in _TOKEN_RE.findall(inner)]
            if found:
                for n in found:
                    if n < len(blocks) and n not in placed:
                        placed[n] = len(out)
                        out.append(fence(blocks[n]))
            elif inner.strip():  # a fence trafilatura made itself (not from a <pre>): kept as it is
                out.append("\n".join(lines[i:end + 1]))
            i = end + 1
            continue
        found = [int(n) for n in _TOKEN_RE.findall(line)]
        if found:  # trafilatura kept the block's text without a fence: skip its lines, put ours in place
            for n in found:
                if n < len(blocks) and n not in placed:
                    placed[n] = len(out)
                    out.append(fence(blocks[n]))
            i += 1
            rest = [c.strip() for c in blocks[found[-1]].text.split("\n")] if found[-1] < len(blocks) else []
            for code_line in (c for c in rest if c):  # trafilatura's copy of the code, blank lines or not
                while i < len(lines) and not lines[i].strip():
                    i += 1
                if i < len(lines) and lines[i].strip() == code_line:
                    i += 1
            continue
        out.append(unescape_prose(line))
        i += 1
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
    from trafilatura.utils import load_html

    try:
        # trafilatura's own parse (its element classes and repairs), once: it extracts from a copy of this tree
        # without C0 controls and other characters XML cannot hold, as libxml2 drops them from bytes: seeds go to
        # Parquet readers and LLM prompts, and a literal ESC in a terminal example is not text
        tree = load_html(_NOT_XML_RE.sub("", html))
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
        placeholder.text = _TOKEN.format(n) + "\n" + _NOT_XML_RE.sub("", block.text)
        placeholder.tail = el.tail
        parent = el.getparent()
        if parent is not None:
            parent.replace(el, placeholder)
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
