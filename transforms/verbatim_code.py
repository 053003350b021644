"""Code blocks taken verbatim from the DOM (blank lines, indentation, tabs kept; line-number gutters removed)."""

from __future__ import annotations

import re
from typing import NamedTuple

from lxml import etree

# Classes that mark a line-number gutter: Pygments (linenos, lineno), Hugo/Chroma (lnt, ln, lntd first cell),
# highlight.js line-numbers plugin (hljs-ln-numbers), Rouge and SyntaxHighlighter (gutter), Prism (line-numbers-rows).
_GUTTER_CLASSES = frozenset({"linenos", "lineno", "linenodiv", "lnt", "ln", "hljs-ln-numbers", "hljs-ln-n", "gutter",
                             "rouge-gutter", "line-numbers-rows", "gl", "blob-num", "line-number", "line-numbers"})
# Tables that hold one code block split into a gutter column and a code column.
_CODE_TABLE_CLASSES = frozenset({"highlighttable", "lntable", "hljs-ln", "rouge-table", "syntaxhighlighter",
                                 "codehilitetable"})
_HINT_RES = (re.compile(r"^(?:language|lang|highlight|brush|sourcecode)[-:](.+)$", re.I),)
_NO_HINT = frozenset({"", "default", "none", "text", "plain", "plaintext", "nohighlight", "notranslate", "txt",
                      "source", "code", "ipython3", "console"})
_BOILERPLATE_TAGS = frozenset({"nav", "footer", "aside", "header"})
# (a bare "comment" is left out: Scaladoc and others wrap the documentation itself in id="comment")
_BOILERPLATE_RE = re.compile(r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|sidebar|footer|breadcrumbs?|comments|"
                             r"comment-list|commentlist|comment-body|comment-content|related|share|cookie)(?:$|[\s_-])",
                             re.I)
_FENCE_OPEN_RE = re.compile(r"^(`{3,})([^`\n]*)$")


class CodeBlock(NamedTuple):
    """One code block as the page shows it, with the language its markup names ('' when none)."""

    text: str
    lang_hint: str = ""


def _classes(el: etree._Element) -> set[str]:
    return set((el.get("class") or "").split())


def _is_gutter(el: etree._Element) -> bool:
    if not isinstance(el.tag, str):
        return False
    classes = _classes(el)
    if classes & _GUTTER_CLASSES:
        return True
    parent = el.getparent()
    # Chroma's table: the first cell of an lntable row is the gutter
    return el.tag == "td" and parent is not None and el is parent[0] and "lntd" in classes and len(parent) > 1


def _text(el: etree._Element, out: list[str], top: bool = True) -> None:
    """Text of an element as rendered in a <pre>: <br> is a newline, gutters and comments are skipped."""
    if not top and _is_gutter(el):
        if el.tail:
            out.append(el.tail)
        return
    if isinstance(el.tag, str):
        if el.tag == "br":
            out.append("\n")
        elif el.text:
            out.append(el.text)
        for child in el:
            _text(child, out, top=False)
    if not top and el.tail:
        out.append(el.tail)


def _clean(text: str) -> str:
    """Drop the blank lines around a block and the trailing whitespace of its lines; keep everything else."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _rows_text(cells: list[etree._Element]) -> str:
    """One line per `div.line` (Doxygen, SyntaxHighlighter) or per cell (highlight.js rows); NBSP indents as spaces."""
    lines = []
    for cell in cells:
        rows = [div for div in cell.iter("div") if "line" in _classes(div)]
        for row in rows or [cell]:
            out: list[str] = []
            _text(row, out)
            lines.append("".join(out).replace("\xa0", " ").rstrip("\n"))
    return "\n".join(lines)


def _table_text(table: etree._Element) -> str:
    """The code column of a gutter table: a <pre> per code cell, or a row per line (highlight.js, SyntaxHighlighter)"""
    code_cells = [td for td in table.iter("td") if not _is_gutter(td)]
    pres = [pre for td in code_cells for pre in td.iter("pre")]
    if pres:
        return "\n".join(block_text(pre) for pre in pres)
    return _rows_text(code_cells)


def block_text(el: etree._Element) -> str:
    """The verbatim text of a code element (a <pre>, a gutter table, a Doxygen fragment)."""
    if el.tag == "table":
        return _clean(_table_text(el))
    if el.tag == "div":
        return _clean(_rows_text([el]))
    out: list[str] = []
    _text(el, out)
    return _clean("".join(out))


def language_hint(el: etree._Element) -> str:
    """The language named near the block: class="language-x" / "highlight-x" / "lang-x" / "sourceCode x", data-lang."""
    candidates = [el, *el.iterdescendants("code"), *list(el.iterancestors())[:3]]
    for node in candidates:
        lang = (node.get("data-lang") or node.get("data-language") or "").strip().lower()
        if lang and lang not in _NO_HINT:
            return lang
        classes = (node.get("class") or "").split()
        for i, cls in enumerate(classes):
            for regex in _HINT_RES:
                match = regex.match(cls)
                if match and match.group(1).lower() not in _NO_HINT:
                    return match.group(1).lower()
            if cls == "sourceCode" and i + 1 < len(classes) and classes[i + 1].lower() not in _NO_HINT:
                return classes[i + 1].lower()
    return ""


def in_boilerplate(el: etree._Element) -> bool:
    """Whether the block sits in navigation, a footer, a sidebar or comments: not main content."""
    for node in el.iterancestors():
        if node.tag in _BOILERPLATE_TAGS:
            return True
        if _BOILERPLATE_RE.search(f"{node.get('class') or ''} {node.get('id') or ''}"):
            return True
    return False


def find_code_elements(tree: etree._Element) -> list[etree._Element]:
    """The outermost code blocks of a page in document order: gutter tables, Doxygen fragments, <code> that holds
    lines (<br>, as phpBB and rustdoc write them) or a <pre>, other <pre>."""
    # sets of the elements themselves, not id()s: lxml makes a proxy per access, and a freed one's id comes back
    tables = [t for t in tree.iter("table") if _classes(t) & _CODE_TABLE_CLASSES]
    tables += [d for d in tree.iter("div") if "fragment" in _classes(d)]  # Doxygen: one div.line per line
    table_set = set(tables)
    tables = [t for t in tables if not any(a in table_set for a in t.iterancestors())]
    inside = {node for t in tables for node in t.iter()}
    inside |= {a for t in tables for a in t.iterancestors("pre", "code")}  # highlight.js: <pre><code><table>
    codes = [c for c in tree.iter("code") if c not in inside and next(c.iterancestors("pre"), None) is None
             and next(c.iter("br", "pre"), None) is not None]
    code_set = set(codes)
    codes = [c for c in codes if not any(a in code_set for a in c.iterancestors("code"))]
    inside |= {node for c in codes for node in c.iter()}
    pres = [p for p in tree.iter("pre") if p not in inside and next(p.iterancestors("pre"), None) is None]
    found = set(tables + codes + pres)
    return [e for e in tree.iter() if e in found]


def fence(block: CodeBlock) -> str:
    """A Markdown fenced block that holds the code unchanged: the fence is longer than any backtick run inside."""
    longest = max((len(run) for run in re.findall(r"`+", block.text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{block.lang_hint}\n{block.text}\n{ticks}"


def parse_fences(markdown: str) -> list[CodeBlock]:
    """The fenced code blocks of a Markdown text, in order: the inverse of `fence`."""
    blocks, lines, i = [], markdown.split("\n"), 0
    while i < len(lines):
        match = _FENCE_OPEN_RE.match(lines[i])
        if not match:
            i += 1
            continue
        ticks, hint = match.group(1), match.group(2).strip()
        end = next((j for j in range(i + 1, len(lines)) if lines[j] == ticks), None)
        if end is None:
            break
        blocks.append(CodeBlock("\n".join(lines[i + 1:end]), hint))
        i = end + 1
    return blocks


_CONTAINER_RE = re.compile(r"^(?:[ \t]*(?:>|[-*+]|\d{1,9}[.)])(?=[ \t]|$))*[ \t]*")
_ANY_FENCE_RE = re.compile(r"^(`{3,}|~{3,})(.*)$")
_TICK_RUN_RE = re.compile(r"`+")


def _unpaired_tick_runs(line: str) -> list[str]:
    """The backtick runs of a line that open no inline code span (CommonMark: a run is closed by the next run of
    the same length), so render as literal backticks."""
    runs = [(m.start(), m.group(0)) for m in _TICK_RUN_RE.finditer(line)]
    unpaired, i = [], 0
    while i < len(runs):
        closer = next((j for j in range(i + 1, len(runs)) if runs[j][1] == runs[i][1]), None)
        if closer is None:
            unpaired.append(runs[i][1])
            i += 1
        else:
            i = closer + 1
    return unpaired


def fence_problems(markdown: str) -> list[str]:
    """Why the fences of a Markdown text would not render as the blocks they hold ([] when they all do): every fence
    opens and closes on a line of its own (list and quote markers aside), holds something, and is closed."""
    problems: list[str] = []
    opened: tuple[str, int, bool] | None = None  # (fence, line number, has content)
    for number, line in enumerate(markdown.split("\n"), 1):
        body = line[_CONTAINER_RE.match(line).end():]
        if opened is not None:
            ticks, start, content = opened
            run = re.match(r"(`+|~+)(.*)$", body.strip())
            if run and run.group(1)[0] == ticks[0] and len(run.group(1)) >= len(ticks):
                if run.group(2).strip():
                    problems.append(f"line {number}: text after the fence that closes line {start}")
                elif not content:
                    problems.append(f"line {start}: an empty fenced block")
                opened = None
            elif line.strip():
                opened = (ticks, start, True)
            continue
        fence_open = _ANY_FENCE_RE.match(body)
        if fence_open and not (fence_open.group(1)[0] == "`" and "`" in fence_open.group(2)):
            opened = (fence_open.group(1), number, False)
        elif any(len(run) >= 3 for run in _unpaired_tick_runs(body)):
            problems.append(f"line {number}: a fence that does not start its line")
    if opened is not None:
        problems.append(f"line {opened[1]}: a fence that never closes")
    return problems
