"""The region geometry (`editing/geometry.py`): positions carried through text changes.

A position names a place between two characters. After a change `[start, end) -> text`, a
position outside the changed range must name the place between the same two characters; one
at an insertion point or inside the replaced range has to pick a side (`stick_right`). The
reference is the plain string: offsets before the change stay, offsets after it shift by the
change's length difference.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from responses_lsp.editing.document import Document, extent
from responses_lsp.editing.geometry import (
    Side,
    classify,
    map_pos,
    map_through,
    offset_in,
    same_effect,
)

Pos = tuple[int, int]
# no lone CR: a CR at the end of inserted text followed by an LF fuses into one line break,
# which no (line, column) position can sit inside (test_document covers that case)
ALPHABET = ["a", "b", "c", "é", "😀", "\n", "\r\n"]
texts = st.lists(st.sampled_from(ALPHABET), max_size=16).map("".join)


def offset(doc: Document, pos: Pos) -> int:
    return sum(len(line) for line in doc.lines[: pos[0]]) + pos[1]


@st.composite
def positions(draw: st.DrawFn, doc: Document) -> Pos:
    line = draw(st.integers(0, doc.line_count - 1))
    return (line, draw(st.integers(0, len(doc.line(line)))))


@st.composite
def edited(draw: st.DrawFn) -> tuple[Document, Pos, Pos, str]:
    doc = Document("u", draw(texts))
    a, b = draw(positions(doc)), draw(positions(doc))
    return doc, min(a, b), max(a, b), draw(texts)


@settings(max_examples=400)
@given(edited(), st.data(), st.booleans())
def test_a_position_outside_the_change_keeps_its_place(
    case: tuple[Document, Pos, Pos, str], data: st.DataObject, stick_right: bool
) -> None:
    doc, start, end, text = case
    pos = data.draw(positions(doc))
    assume(pos < start or pos > end)
    before = offset(doc, pos)
    change = doc.make_change(start, end, text)
    shift = len(text) - len(change.old)
    doc.apply(change)
    mapped = map_pos(pos, start, end, change.new_end, stick_right=stick_right)
    assert mapped == map_through(pos, change, stick_right=stick_right)
    assert offset(doc, mapped) == (before if pos < start else before + shift)
    assert doc.clamp(mapped) == mapped  # a real position of the new text


@given(edited(), st.data())
def test_a_position_inside_the_replaced_range_goes_to_one_side(
    case: tuple[Document, Pos, Pos, str], data: st.DataObject
) -> None:
    doc, start, end, text = case
    pos = data.draw(positions(doc))
    assume(start <= pos <= end)
    new_end = extent(start, text)
    left = map_pos(pos, start, end, new_end, stick_right=False)
    right = map_pos(pos, start, end, new_end, stick_right=True)
    if start == end:  # an insertion exactly at pos
        assert (left, right) == (start, new_end)
    elif pos == start:
        assert left == right == start
    elif pos == end:
        assert left == right == new_end
    else:
        assert (left, right) == (start, new_end)


def test_examples_on_one_line_and_across_lines() -> None:
    # "abcdef": replace "cd" (0,2)-(0,4) by "XYZ" (new end (0,5))
    assert map_pos((0, 5), (0, 2), (0, 4), (0, 5), stick_right=False) == (0, 6)
    assert map_pos((0, 1), (0, 2), (0, 4), (0, 5), stick_right=True) == (0, 1)
    # a two-line insertion at (1,3) ending at (2,2): the rest of line 1 moves to line 2
    assert map_pos((1, 7), (1, 3), (1, 3), (2, 2), stick_right=False) == (2, 6)
    assert map_pos((4, 1), (1, 3), (1, 3), (2, 2), stick_right=False) == (5, 1)
    # deleting lines 1..3: line 5 moves up three lines
    assert map_pos((5, 4), (1, 0), (4, 0), (1, 0), stick_right=False) == (2, 4)


REGION = ((2, 4), (5, 0))  # a region [start, end]


@pytest.mark.parametrize(
    ("start", "end", "side"),
    [
        ((0, 0), (0, 0), Side.BEFORE),
        ((2, 4), (2, 4), Side.BEFORE),  # typing right at the region's start
        ((1, 0), (2, 4), Side.BEFORE),  # a change that ends where the region starts
        ((5, 0), (5, 0), Side.AFTER),  # typing right at the region's end
        ((5, 0), (9, 9), Side.AFTER),
        ((2, 3), (2, 5), Side.INSIDE),  # overlaps the start
        ((4, 9), (5, 1), Side.INSIDE),  # overlaps the end
        ((3, 0), (3, 0), Side.INSIDE),
        ((0, 0), (9, 0), Side.INSIDE),  # covers it
    ],
)
def test_where_a_foreign_change_falls(start: Pos, end: Pos, side: Side) -> None:
    doc = Document("u", "\n".join("x" * 12 for _ in range(10)))
    change = doc.make_change(start, end, "typed")
    assert classify(change, *REGION) is side


def test_typing_into_an_empty_region_counts_as_before_it() -> None:
    doc = Document("u", "abc")
    assert classify(doc.make_change((0, 1), (0, 1), "x"), (0, 1), (0, 1)) is Side.BEFORE


@given(edited(), st.data())
def test_offset_in_counts_code_points_and_line_breaks(
    case: tuple[Document, Pos, Pos, str], data: st.DataObject
) -> None:
    doc, start, end, _ = case
    assert offset_in(doc, start, end) == offset(doc, end) - offset(doc, start)
    pos = data.draw(positions(doc))
    assert offset_in(doc, pos, pos) == 0


@st.composite
def two_edits(draw: st.DrawFn) -> tuple[Document, tuple[Pos, Pos, str], tuple[Pos, Pos, str]]:
    doc = Document("u", draw(texts))
    edits = []
    for _ in range(2):
        a, b = draw(positions(doc)), draw(positions(doc))
        edits.append((min(a, b), max(a, b), draw(st.sampled_from(["", "a", "ab", "b\n", "é"]))))
    return doc, edits[0], edits[1]


def after(doc: Document, edit: tuple[Pos, Pos, str]) -> str:
    copy = Document("u", doc.text)
    copy.apply(copy.make_change(*edit))
    return copy.text


@settings(max_examples=500)
@given(two_edits())
def test_same_effect_means_the_same_resulting_text(
    case: tuple[Document, tuple[Pos, Pos, str], tuple[Pos, Pos, str]],
) -> None:
    doc, a, b = case
    assert same_effect(doc, a, b) == (after(doc, a) == after(doc, b))


def test_a_minimal_diff_echo_is_recognised_as_our_edit() -> None:
    # we inserted "ab" after "xab"; Neovim reports the same change as an insertion of "ba"
    # two columns earlier (its own minimal diff)
    doc = Document("u", "xab\n")
    ours = ((0, 3), (0, 3), "ab")
    echoed = ((0, 2), (0, 2), "ba")
    assert same_effect(doc, ours, echoed)
    assert not same_effect(doc, ours, ((0, 0), (0, 0), "ab"))


def test_same_effect_gives_up_beyond_the_window() -> None:
    doc = Document("u", "a\n" * 50)
    # deleting the first line or the 41st gives the same text...
    first, far = ((0, 0), (1, 0), ""), ((40, 0), (41, 0), "")
    assert after(doc, first) == after(doc, far)
    assert same_effect(doc, first, far)
    # ...but a window of more than `max_lines` lines is not compared (O(edit), not O(document))
    assert not same_effect(doc, first, far, max_lines=10)
    assert same_effect(doc, first, first, max_lines=0)  # the very same edit always is
