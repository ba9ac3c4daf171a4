"""Finished edits followed through later changes (`jobs/landed.py`): moved by changes before
them, left by changes after them, forgotten by changes that touch them or replace the whole
text; confirmed against the text itself (client position units: UTF-16 and UTF-8)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from responses_lsp.editing.document import Document, Encoding
from responses_lsp.jobs.landed import LandedEdits

ORIGINAL = "def f():\n    return 1\n"
WRITTEN = "def f() -> int:\n    return 1  # 😀\n"
TEXT = "x = 'é😀'\n" + WRITTEN + "print(f())\n"


@dataclass
class P:
    line: int
    character: int


@dataclass
class R:
    start: P
    end: P


@dataclass
class C:
    range: R | None
    text: str


def change(doc: Document, enc: Encoding, start: int, end: int, text: str) -> C:
    """The content change replacing [start, end) of doc's text (offsets), applied to doc."""

    def pos(offset: int) -> P:
        before = doc.text[:offset]
        line = before.count("\n")
        col = len(before) - (before.rfind("\n") + 1)
        return P(*doc.to_client(enc, (line, col)))

    c = C(R(pos(start), pos(end)), text)
    full = doc.text
    doc.replace_all(full[:start] + text + full[end:])
    return c


@pytest.fixture(params=["utf-16", "utf-8"])
def enc(request: pytest.FixtureRequest) -> Encoding:
    return Encoding(str(request.param))


def landed_doc(enc: Encoding) -> tuple[Document, LandedEdits]:
    doc = Document("file:///m.py", TEXT, 1, "python")
    edits = LandedEdits()
    edits.add(
        job_id=7, action="a", doc=doc, encoding=enc, start=(1, 0), end=(3, 0), original=ORIGINAL
    )
    return doc, edits


def test_changes_before_and_after_move_it_and_it_stays_intact(enc: Encoding) -> None:
    doc, edits = landed_doc(enc)
    first = change(doc, enc, 0, 0, "# 😀 top\n\n")  # before: two lines down
    at_line_start = change(doc, enc, doc.text.index("x ="), doc.text.index("x ="), "ü")
    after = change(doc, enc, doc.text.index("print"), doc.text.index("print"), "# end\n")
    edits.changed(doc.uri, enc, [first, at_line_start, after])
    [(landed, start, end)] = edits.intact(doc, enc)
    assert (landed.job_id, start, end) == (7, (3, 0), (5, 0))
    assert doc.slice(start, end) == WRITTEN
    # typing right where it starts (a new line above it) moves it too
    at = doc.text.index("def f")
    edits.changed(doc.uri, enc, [change(doc, enc, at, at, "\n")])
    assert edits.find(doc, enc, 7) is not None


def test_a_change_inside_forgets_it(enc: Encoding) -> None:
    doc, edits = landed_doc(enc)
    at = doc.text.index("1  #")
    edits.changed(doc.uri, enc, [change(doc, enc, at, at + 1, "2")])
    assert edits.intact(doc, enc) == []
    assert doc.uri not in edits.by_uri


def test_a_whole_text_change_forgets_it(enc: Encoding) -> None:
    doc, edits = landed_doc(enc)
    edits.changed(doc.uri, enc, [C(None, doc.text)])
    assert edits.intact(doc, enc) == []


def test_text_that_no_longer_matches_is_not_offered(enc: Encoding) -> None:
    doc, edits = landed_doc(enc)
    doc.replace_all(doc.text.replace("int", "str"))  # a change the tracker was not told of
    assert edits.intact(doc, enc) == []


def test_nothing_is_kept_for_an_edit_that_changed_nothing(enc: Encoding) -> None:
    doc = Document("file:///m.py", ORIGINAL, 1, "python")
    edits = LandedEdits()
    edits.add(
        job_id=1, action="a", doc=doc, encoding=enc, start=(0, 0), end=(2, 0), original=ORIGINAL
    )
    assert edits.intact(doc, enc) == []
