"""The server's document model (`editing/document.py`): lines, positions, encodings, edits.

The reference for every property is the plain string: a position `(line, column)` is an offset
into the text (LSP lines end at LF, CRLF or a lone CR, nothing else), an edit is a slice
replacement, and a client column is the length of the line's prefix in the client's code
units (UTF-8 bytes, UTF-16 units, or code points).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from responses_lsp.editing.document import (
    Change,
    Document,
    Encoding,
    common_prefix,
    common_suffix,
    content,
    extent,
    split_lines,
)

ENCODINGS = ("utf-8", "utf-16", "utf-32")
# ASCII, 2-, 3- and 4-byte UTF-8 (the last two UTF-16 units), every LSP line break, and the
# characters str.splitlines breaks at but LSP does not
ALPHABET = ["a", "b", " ", "é", "€", "😀", "𝄞", "\n", "\r", "\r\n", "\v", "\f", "\u2028", "\x85"]
texts = st.lists(st.sampled_from(ALPHABET), max_size=24).map("".join)
LSP_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def reference_lines(text: str) -> list[str]:
    """LSP lines with their breaks; a text ending in a break has an empty last line."""
    lines = LSP_LINE.findall(text)
    if not lines or lines[-1].endswith(("\n", "\r")):
        lines.append("")
    return lines


def offset(lines: list[str], pos: tuple[int, int]) -> int:
    return sum(len(line) for line in lines[: pos[0]]) + pos[1]


def units(text: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == "utf-16":
        return len(text.encode("utf-16-le", "surrogatepass")) // 2
    return len(text)


@st.composite
def positions(draw: st.DrawFn, doc: Document) -> tuple[int, int]:
    line = draw(st.integers(0, doc.line_count - 1))
    return (line, draw(st.integers(0, len(doc.line(line)))))


# ---- lines ------------------------------------------------------------------------------------


@given(texts)
def test_split_lines_breaks_only_at_lsp_line_breaks(text: str) -> None:
    lines = split_lines(text)
    assert "".join(lines) == text
    assert lines == reference_lines(text)
    for line in lines[:-1]:
        assert content(line) + line[len(content(line)) :] == line
        assert line[len(content(line)) :] in ("\n", "\r\n", "\r")
    assert content(lines[-1]) == lines[-1]  # the last line has no break


def test_line_breaks_of_every_kind() -> None:
    doc = Document("file:///a", "one\r\ntwo\rthree\nfour\x85five\u2028six")
    assert [doc.line(i) for i in range(doc.line_count)] == [
        "one",
        "two",
        "three",
        "four\x85five\u2028six",
    ]
    assert doc.line_break() == "\r\n"
    assert Document("u", "a\rb\nc").line_break() == "\r"
    assert Document("u", "no break").line_break() == "\n"
    assert Document("u", "").lines == [""]
    assert Document("u", "x\n").lines == ["x\n", ""]
    assert doc.line(-1) == "" and doc.line(99) == ""


@given(texts, texts)
def test_common_prefix_and_suffix_are_the_longest(a: str, b: str) -> None:
    prefix = common_prefix(a, b)
    assert a[:prefix] == b[:prefix]
    assert prefix == min(len(a), len(b)) or a[prefix] != b[prefix]
    suffix = common_suffix(a, b, prefix)
    assert suffix <= min(len(a), len(b)) - prefix
    assert a[len(a) - suffix :] == b[len(b) - suffix :]
    longer = suffix + 1
    assert longer > min(len(a), len(b)) - prefix or a[len(a) - longer] != b[len(b) - longer]


@given(texts, texts)
def test_extent_is_where_inserted_text_ends(before: str, inserted: str) -> None:
    if before.endswith("\r") and inserted.startswith("\n"):
        return  # the CR and LF would fuse into one break: covered by the apply tests below
    doc = Document("u", before)
    start = doc.end()
    doc.apply(doc.make_change(start, start, inserted))
    assert extent(start, inserted) == doc.end()


# ---- positions and encodings ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "column", "expected"),
    [
        # "a" 1/1/1, "é" 2/1/1, "€" 3/1/1, "😀" 4/2/1 (a surrogate pair in UTF-16)
        ("aé€😀b", 5, {"utf-8": 11, "utf-16": 6, "utf-32": 5}),
        ("aé€😀b", 4, {"utf-8": 10, "utf-16": 5, "utf-32": 4}),
        ("aé€😀b", 3, {"utf-8": 6, "utf-16": 3, "utf-32": 3}),
        ("😀😀", 1, {"utf-8": 4, "utf-16": 2, "utf-32": 1}),
        ("plain", 3, {"utf-8": 3, "utf-16": 3, "utf-32": 3}),
        ("", 0, {"utf-8": 0, "utf-16": 0, "utf-32": 0}),
    ],
)
def test_client_columns_in_every_encoding(line: str, column: int, expected: dict[str, int]) -> None:
    for name, client_units in expected.items():
        encoding = Encoding(name)
        assert encoding.to_client(line, column) == client_units
        assert encoding.from_client(line, client_units) == column


@given(texts, st.sampled_from(ENCODINGS), st.data())
def test_client_positions_round_trip(text: str, name: str, data: st.DataObject) -> None:
    doc = Document("u", text)
    encoding = Encoding(name)
    pos = data.draw(positions(doc))
    line, character = doc.to_client(encoding, pos)
    assert line == pos[0]
    assert character == units(doc.line(pos[0])[: pos[1]], name)
    assert doc.from_client(encoding, line, character) == pos


@given(texts, st.sampled_from(ENCODINGS), st.integers(-3, 40))
def test_a_column_inside_a_character_or_past_the_line_is_clamped(
    text: str, name: str, character: int
) -> None:
    doc = Document("u", text)
    encoding = Encoding(name)
    for line in range(doc.line_count):
        column = doc.from_client(encoding, line, character)[1]
        assert 0 <= column <= len(doc.line(line))
        # never before the unit asked for (a unit inside a character rounds up to its end)
        assert units(doc.line(line)[:column], name) >= min(
            max(character, 0), units(doc.line(line), name)
        )
        # and never a whole character further
        if column > 0:
            assert units(doc.line(line)[: column - 1], name) < max(character, 1)


@given(texts, st.integers(-2, 8), st.integers(-3, 40))
def test_clamp_keeps_a_position_in_the_document(text: str, line: int, column: int) -> None:
    doc = Document("u", text)
    lines = reference_lines(text)
    if line < 0:
        expected = (0, 0)
    elif line >= len(lines):
        expected = (len(lines) - 1, len(lines[-1].rstrip("\r\n")))
    else:
        expected = (line, max(0, min(column, len(lines[line].rstrip("\r\n")))))
    assert doc.clamp((line, column)) == expected


def test_surrogate_pairs_and_lone_surrogates() -> None:
    utf16 = Encoding("utf-16")
    line = "x😀y"
    assert utf16.to_client(line, 2) == 3  # the pair is two units
    assert utf16.from_client(line, 1) == 1
    assert utf16.from_client(line, 2) == 2  # the middle of the pair: after the character
    assert utf16.from_client(line, 3) == 2
    lone = "a\ud800b"  # a lone surrogate (editors may hold one) is one UTF-16 unit, 3 UTF-8 bytes
    assert utf16.to_client(lone, 2) == 2
    assert Encoding("utf-8").to_client(lone, 2) == 4
    assert Encoding("utf-8").from_client(lone, 4) == 2


def test_out_of_range_positions() -> None:
    doc = Document("u", "ab\ncd")
    utf16 = Encoding("utf-16")
    assert doc.from_client(utf16, 7, 0) == doc.end() == (1, 2)
    assert doc.from_client(utf16, -1, 5) == (0, 0)
    assert doc.from_client(utf16, 0, 99) == (0, 2)
    assert doc.from_client(utf16, 0, -4) == (0, 0)
    assert doc.to_client(utf16, (9, 9)) == (1, 2)
    assert doc.clamp((-2, 3)) == (0, 0)
    assert doc.clamp((0, 99)) == (0, 2)
    assert doc.slice((1, 1), (0, 1)) == ""  # reversed: empty
    assert doc.slice((0, 1), (5, 5)) == "b\ncd"
    assert Encoding("latin-1").name == "utf-16"  # unknown encodings fall back to LSP's default


# ---- edits ------------------------------------------------------------------------------------


@settings(max_examples=400)
@given(texts, texts, st.data())
def test_an_edit_is_a_slice_replacement(text: str, new: str, data: st.DataObject) -> None:
    doc = Document("u", text)
    a, b = data.draw(positions(doc)), data.draw(positions(doc))
    lines = list(doc.lines)
    start, end = min(a, b), max(a, b)
    change = doc.make_change(b, a, new)  # either order
    assert (change.start, change.end) == (start, end)
    assert change.old == text[offset(lines, start) : offset(lines, end)] == doc.slice(start, end)
    doc.apply(change)
    expected = text[: offset(lines, start)] + new + text[offset(lines, end) :]
    assert doc.text == expected
    assert doc.lines == reference_lines(expected)  # incl. a lone CR meeting an LF: one CRLF


@pytest.mark.parametrize(
    ("text", "start", "end", "new", "after"),
    [
        ("abc\ndef\n", (0, 0), (0, 0), "X", "Xabc\ndef\n"),  # at the start
        ("abc\ndef\n", (2, 0), (2, 0), "tail", "abc\ndef\ntail"),  # at the end
        ("abc\ndef\n", (0, 1), (1, 2), "Y", "aYf\n"),  # across lines
        ("abc\ndef\nghi", (0, 3), (2, 0), "\n--\n", "abc\n--\nghi"),  # multi-line replace
        ("a\r\nb\r\n", (0, 1), (0, 1), "\r\nc", "a\r\nc\r\nb\r\n"),  # CRLF kept
        ("a\rb", (1, 0), (1, 1), "\n", "a\r\n"),  # lone CR + inserted LF: one CRLF
        ("a\r\nb", (0, 1), (1, 0), "", "ab"),  # deleting a CRLF break
        ("a\rb\nc", (1, 0), (1, 1), "", "a\r\nc"),  # a deletion fuses CR and LF
        ("😀\n😀", (0, 1), (1, 0), "", "😀😀"),
    ],
)
def test_edits_at_the_edges(
    text: str, start: tuple[int, int], end: tuple[int, int], new: str, after: str
) -> None:
    doc = Document("u", text)
    doc.apply(doc.make_change(start, end, new))
    assert doc.text == after
    assert doc.lines == reference_lines(after)


def test_out_of_range_edits_are_clamped_to_the_document() -> None:
    doc = Document("u", "ab\ncd")
    change = doc.make_change((0, 1), (8, 8), "Z")
    assert (change.start, change.end, change.old) == ((0, 1), (1, 2), "b\ncd")
    doc.apply(change)
    assert doc.text == "aZ"
    doc.apply(doc.make_change((-1, -1), (-1, 0), "<"))
    assert doc.text == "<aZ"


def test_change_new_end_and_replace_all() -> None:
    change = Change(start=(2, 3), end=(4, 0), text="x\r\ny\rz", old="")
    assert change.new_end == (4, 1)
    assert Change(start=(2, 3), end=(2, 3), text="abc", old="").new_end == (2, 6)
    doc = Document("u", "old", version=3, language_id="python")
    doc.replace_all("new\ntext")
    assert doc.lines == ["new\n", "text"] and doc.version == 3 and doc.language_id == "python"
