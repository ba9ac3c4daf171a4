"""The checks a job request passes before anything runs (pure: a document and positions in).

A range outside the document is refused rather than clamped (a clamped range lands on text
the user never selected); a selection holding a lone UTF-16 surrogate is refused (no model can
read it); lone surrogates in the context sent along are replaced by U+FFFD.
"""

from __future__ import annotations

import re

from responses_lsp.editing.document import Document, Pos

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
"""A code point in the surrogate range: JSON let a lone UTF-16 surrogate through."""


def range_problem(doc: Document, start: tuple[int, int], end: tuple[int, int]) -> str:
    """Why a requested range is not in the document ("" when it is).

    A character past the end of its line is the end of that line (LSP 3.17 says so)."""
    last = doc.line_count - 1
    for name, (line, character) in (("start", start), ("end", end)):
        if line < 0 or character < 0:
            return f"the range's {name} ({line}:{character}) is outside the document"
        if line > last:
            return (
                f"the range's {name} (line {line + 1}) is outside the document ({last + 1} lines)"
            )
    if end < start:
        return "the range ends before it starts"
    return ""


def lone_surrogate_line(doc: Document, span: tuple[Pos, Pos]) -> int | None:
    """The first line of `span` holding a lone surrogate (text no model can read), or None."""
    (first, _), (last, _) = span
    for index in range(first, min(last, doc.line_count - 1) + 1):
        if LONE_SURROGATE.search(doc.line(index)):
            return index
    return None


def without_lone_surrogates(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (for context sent to the model)."""
    return LONE_SURROGATE.sub("\ufffd", text)
