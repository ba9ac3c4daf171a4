"""Positions and ranges carried through text changes: the geometry of a tracked region.

Pure functions over `(line, column)` positions in code points. A change replaces
`[start, end)` by text ending at `new_end`; a position maps to where the same text is
afterwards. A position exactly at an insertion point (or inside a replaced range)
has to choose a side: `stick_right=True` moves it past the new text.
"""

from __future__ import annotations

from enum import Enum

from responses_lsp.editing.document import Change, Document, Pos


def map_pos(pos: Pos, start: Pos, end: Pos, new_end: Pos, *, stick_right: bool) -> Pos:
    """Where `pos` is after `[start, end)` was replaced by text ending at `new_end`."""
    if pos < start:
        return pos
    if pos > end:
        if pos[0] == end[0]:
            return (new_end[0], new_end[1] + pos[1] - end[1])
        return (pos[0] + new_end[0] - end[0], pos[1])
    if start == end:  # an insertion exactly at pos
        return new_end if stick_right else start
    if pos == start:
        return start
    if pos == end:
        return new_end
    return new_end if stick_right else start


def map_through(pos: Pos, change: Change, *, stick_right: bool) -> Pos:
    return map_pos(pos, change.start, change.end, change.new_end, stick_right=stick_right)


class Side(Enum):
    BEFORE = "before"
    AFTER = "after"
    INSIDE = "inside"


def classify(change: Change, start: Pos, end: Pos) -> Side:
    """Where a foreign change falls relative to the region `[start, end]`.

    Typing right at the region's start belongs before it, right at its end after it;
    anything that touches the inside is INSIDE.
    """
    if change.end <= start:
        return Side.BEFORE
    if change.start >= end:
        return Side.AFTER
    return Side.INSIDE


def offset_in(doc: Document, base: Pos, pos: Pos) -> int:
    """Code points from `base` to `pos` (pos >= base), counting line breaks."""
    return len(doc.slice(base, pos))


def same_effect(
    doc: Document, a: tuple[Pos, Pos, str], b: tuple[Pos, Pos, str], *, max_lines: int = 2000
) -> bool:
    """Whether replacing range a and replacing range b give the same document.

    Clients report an applied edit in their own shape (Neovim computes a minimal diff, so
    inserting "ab" after "xab" may come back as an insertion two columns later); comparing
    effects, not ranges, recognises our own edits in the didChange echo. Only the window
    spanned by both edits is compared, so this is O(edit), not O(document).
    """
    (a_start, a_end, a_text), (b_start, b_end, b_text) = a, b
    if (a_start, a_end, a_text) == (b_start, b_end, b_text):
        return True
    low = min(a_start, b_start)
    high = max(a_end, b_end)
    if high[0] - low[0] > max_lines:
        return False
    a_old = doc.slice(a_start, a_end)
    b_old = doc.slice(b_start, b_end)
    if len(a_text) - len(a_old) != len(b_text) - len(b_old):
        return False
    window = doc.slice(low, high)
    a_from = offset_in(doc, low, a_start)
    b_from = offset_in(doc, low, b_start)
    after_a = window[:a_from] + a_text + window[a_from + len(a_old) :]
    after_b = window[:b_from] + b_text + window[b_from + len(b_old) :]
    return after_a == after_b
