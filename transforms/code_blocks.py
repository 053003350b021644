"""Split extracted page text into prose and code blocks, so language ID reads prose and quality rules weigh both."""

from __future__ import annotations

import re
from typing import NamedTuple

_FENCE_RE = re.compile(r"(`{3,}|~{3,})")
_CODE_LINE_RE = re.compile(
    r"""^\s*(?:[{}()\[\];]|(?:def|class|import|from|return|if|for|while|fn|func|function|let|const|var|public|
    private|static|void|int|struct|impl|package|\#include|SELECT|CREATE|INSERT|\$|>>>)\b)|[;{}]\s*$|=>|->|::|==""",
    re.X,
)


class CodeProse(NamedTuple):
    """A page's text cut into prose lines and code blocks (each a list of lines), in page order."""

    prose_lines: list[str]
    code_blocks: list[list[str]]
    fenced: bool  # True when the blocks came from markdown fences, False when from the line heuristic

    @property
    def prose(self) -> str:
        return "\n".join(self.prose_lines)

    @property
    def code_lines(self) -> int:
        return sum(1 for block in self.code_blocks for line in block if line.strip())


def looks_like_code(line: str) -> bool:
    """A line that reads like code (keywords, braces, operators, prompts), for text without fences."""
    return bool(line.strip()) and bool(_CODE_LINE_RE.search(line))


def _split_fenced(text: str) -> CodeProse:
    prose: list[str] = []
    blocks: list[list[str]] = []
    current: list[str] | None = None
    ticks = ""
    for line in text.splitlines():
        if current is None:
            match = _FENCE_RE.search(line)
            if match is None:
                prose.append(line)
                continue
            before = line[: match.start()]
            if before.strip():
                prose.append(before)  # trafilatura sometimes opens a fence at the end of a prose line
            current, ticks = [], match.group(1)
            after = line[match.end():]
            if after.strip() and " " in after.strip():
                current.append(after)  # ```lang is an info string; anything longer is code on the fence line
            continue
        # only a run of the same character, at least as long, closes: a ```` fence holds code with ``` in it
        match = next((m for m in _FENCE_RE.finditer(line) if m.group(1)[0] == ticks[0]
                      and len(m.group(1)) >= len(ticks)), None)
        if match is None:
            current.append(line)
            continue
        before = line[: match.start()]
        if before.strip():
            current.append(before)
        blocks.append(current)
        current = None
        after = line[match.end():]
        if after.strip():
            prose.append(after)
    if current is not None:
        blocks.append(current)  # an unclosed fence runs to the end, as markdown renders it
    return CodeProse(prose, blocks, True)


def _split_heuristic(text: str) -> CodeProse:
    prose: list[str] = []
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        if looks_like_code(line) or (line.startswith(("    ", "\t")) and line.strip()):
            current.append(line)
            continue
        if current:
            blocks.append(current)
            current = []
        prose.append(line)
    if current:
        blocks.append(current)
    return CodeProse(prose, blocks, False)


def split_code_prose(text: str) -> CodeProse:
    """Markdown fences when the text has them, else runs of code-looking or indented lines form the blocks."""
    return _split_fenced(text) if _FENCE_RE.search(text) else _split_heuristic(text)
