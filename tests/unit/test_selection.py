"""What an action rewrites: the selection grown to whole lines, or the block at the cursor.

Each case is a document, a selection (or cursor) and the exact text the action must rewrite.
Documents mark the cursor with `‸` (removed before use) so the tables stay readable.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import pytest

from responses_lsp.actions.selection import action_range, clear_cache
from responses_lsp.editing.document import Document, Pos

CURSOR = "‸"


def doc_and_cursor(marked: str, language: str, uri: str = "file:///t") -> tuple[Document, Pos]:
    before, _, _ = marked.partition(CURSOR)
    lines = before.splitlines(keepends=True)
    if not lines or lines[-1].endswith(("\n", "\r")):
        pos = (len(lines), 0)
    else:
        pos = (len(lines) - 1, len(lines[-1]))
    return Document(uri, marked.replace(CURSOR, ""), 1, language), pos


def rewritten(doc: Document, start: Pos, end: Pos, scope: str = "function") -> str | None:
    rng = action_range(doc, start, end, scope=scope)
    return None if rng is None else doc.slice(*rng)


# ---------------------------------------------------------------- non-empty selections

TEXT = "first\n    second line\n    third line\nlast"


@dataclass(frozen=True)
class Sel:
    name: str
    start: Pos
    end: Pos
    expected: str | None
    text: str = TEXT


SELECTIONS = [
    Sel("partial lines grow to whole lines", (1, 6), (2, 5), "    second line\n    third line\n"),
    Sel("a part of one line is the whole line", (1, 4), (1, 8), "    second line\n"),
    Sel("ending at column 0 leaves that line out", (1, 0), (2, 0), "    second line\n"),
    Sel("ending at column 0 after a partial start", (0, 3), (2, 0), "first\n    second line\n"),
    Sel("the last line runs to the document end", (2, 2), (3, 2), "    third line\nlast"),
    Sel("a reversed selection is the same", (2, 5), (1, 6), "    second line\n    third line\n"),
    Sel("positions past the end are clamped", (3, 0), (99, 9), "last"),
    Sel("whitespace only is nothing", (1, 0), (2, 0), None, "a\n   \nb\n"),
    Sel("an empty document is nothing", (0, 0), (0, 0), None, ""),
    Sel("CRLF lines keep their breaks", (0, 1), (1, 1), "a\r\nb\r\n", "a\r\nb\r\nc\r\n"),
    Sel("non-ASCII columns are code points", (0, 2), (1, 1), "héé 😀\nñ\n", "héé 😀\nñ\nz"),
]


@pytest.mark.parametrize("case", SELECTIONS, ids=lambda c: c.name)
def test_a_selection_is_rewritten_as_whole_lines(case: Sel) -> None:
    doc = Document("file:///t.txt", case.text, 1, "plaintext")
    assert rewritten(doc, case.start, case.end) == case.expected


def test_whole_line_ranges_start_at_column_0_and_end_at_the_next_line() -> None:
    doc = Document("file:///t.txt", TEXT, 1, "plaintext")
    assert action_range(doc, (1, 6), (2, 5), scope="selection") == ((1, 0), (3, 0))
    assert action_range(doc, (2, 1), (3, 1), scope="selection") == ((2, 0), (3, 4))


# ---------------------------------------------------------------- Python cursor, via ast

PY = '''\
"""Module."""
import os

CONFIG = {
    "a": 1,
}


@app.route("/")
@login_required
def index(request):
    def inner(x):
        return x

    y = inner(1)
    return y
    # a trailing comment of the body


class Store(Base):
    name = "store"

    async def fetch(self, key):
        return await self.db.get(key)

    @property
    def size(self) -> int:
        return 0
'''

INDEX = PY[PY.index("@app") : PY.index("\n\n\nclass")] + "\n"
INNER = "    def inner(x):\n        return x\n"
STORE = PY[PY.index("class Store") :]
FETCH = "    async def fetch(self, key):\n        return await self.db.get(key)\n"
CONFIG = 'CONFIG = {\n    "a": 1,\n}\n'
SIZE = "    @property\n    def size(self) -> int:\n        return 0\n"


@dataclass(frozen=True)
class Cur:
    name: str
    marked: str
    expected: str | None
    scope: str = "function"
    language: str = "python"


def mark(text: str, anchor: str, offset: int = 0) -> str:
    """`text` with the cursor placed `offset` characters into the first `anchor`."""
    at = text.index(anchor) + offset
    return text[:at] + CURSOR + text[at:]


PYTHON_CURSORS = [
    Cur("in a function body: the function", mark(PY, "y = inner"), INDEX),
    Cur("on a decorator: the decorated function", mark(PY, "@login"), INDEX),
    Cur("in a nested function: the inner one", mark(PY, "return x", 3), INNER),
    Cur("on a trailing comment: the function", mark(PY, "# a trailing"), INDEX),
    Cur("in a method of a class: the method", mark(PY, "return await"), FETCH),
    Cur("in an async def: the async def", mark(PY, "async def", 6), FETCH),
    Cur("in a decorated method: with its decorator", mark(PY, "return 0"), SIZE),
    Cur("on the class line: the class", mark(PY, "class Store"), STORE, "function_or_class"),
    Cur("on the class line, function scope: the class", mark(PY, "class Store"), STORE),
    Cur("on a class attribute: the class", mark(PY, 'name = "'), STORE, "function_or_class"),
    Cur("in a method, function_or_class: the method", mark(PY, "return await"), FETCH, "selection"),
    Cur("in a top-level statement: the statement", mark(PY, '"a"'), CONFIG),
    Cur("on a blank line between definitions: nothing", mark(PY, "\n\nclass Store"), None),
    Cur("at the end of the file: nothing", PY + CURSOR, None),
]

BROKEN = """\
import os

@decorator
def handler(x):
    if x:
        return (
    y = 1

class A:
    @property
    def g(self):
        return 1
"""
HANDLER = BROKEN[BROKEN.index("@decorator") : BROKEN.index("\nclass")]

UNPARSABLE_AND_ENCODED = [
    Cur("unparsable Python: the def by indentation", mark(BROKEN, "y = 1"), HANDLER),
    Cur("unparsable Python: decorators included", mark(BROKEN, "@decorator"), HANDLER),
    Cur(
        "unparsable Python: the method in the class",
        mark(BROKEN, "return 1"),
        "    @property\n    def g(self):\n        return 1\n",
    ),
    Cur(
        "CRLF Python: lines keep their breaks",
        "class A:\r\n    def f(self):\r\n        retur‸n 1\r\n\r\nx = 1\r\n",
        "    def f(self):\r\n        return 1\r\n",
    ),
    Cur(
        "non-ASCII Python: the whole function",
        "def grüße():\n    s = 'héllo 😀'\n    return s‸\n",
        "def grüße():\n    s = 'héllo 😀'\n    return s\n",
    ),
]


@pytest.mark.parametrize("case", PYTHON_CURSORS + UNPARSABLE_AND_ENCODED, ids=lambda c: c.name)
def test_a_python_cursor_takes_the_enclosing_definition(case: Cur) -> None:
    doc, pos = doc_and_cursor(case.marked, case.language)
    assert rewritten(doc, pos, pos, case.scope) == case.expected


def test_python_spans_are_parsed_once_per_document_version(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_cache()
    calls: list[str] = []
    real_parse = ast.parse

    def counting_parse(source: str) -> ast.Module:
        calls.append(source)
        return real_parse(source)

    monkeypatch.setattr(ast, "parse", counting_parse)
    doc, pos = doc_and_cursor(mark(PY, "return await"), "python", uri="file:///cache.py")
    for _ in range(3):
        assert rewritten(doc, pos, pos) == FETCH
    assert len(calls) == 1
    doc.version += 1
    assert rewritten(doc, pos, pos) == FETCH
    assert len(calls) == 2
    clear_cache("file:///cache.py")
    assert rewritten(doc, pos, pos) == FETCH
    assert len(calls) == 3


# ---------------------------------------------------------------- other languages: line block

JS = """\
import x from 'y';

function foo(a) {
  const b = 1;
  if (a) {
    return b;
  } else {
    return 2;
  }
}

class K {
  bar(a, b) {
    return a + b;
  }
}

const f = async (x) => {
  await x;
};
"""
FOO = JS[JS.index("function foo") : JS.index("\nclass K")]
K = JS[JS.index("class K") : JS.index("\nconst f")]

GO = """\
package main

import (
\t"fmt"
)

type S struct {
\tA int
}

func (s *S) Hello(
\tname string,
) error {
\tfmt.Println(name)
\treturn nil
}
"""
HELLO = GO[GO.index("func (s") :]

LUA = """\
local M = {}

function M.setup(opts)
  opts = opts or {}
  if opts.x then
    print(1)
  end
end

return M
"""
SETUP = LUA[LUA.index("function M") : LUA.index("\nreturn M")]

RUBY = """\
class Foo
  def bar
    1
  end

  def baz(items)
    items.each do |y|
      puts y
    end
  end
end
"""
BAZ = "  def baz(items)\n    items.each do |y|\n      puts y\n    end\n  end\n"


def at(language: str, text: str, anchor: str, expected: str | None, scope: str = "function") -> Cur:
    """A cursor case named after where the cursor is."""
    return Cur(f"{language}: {anchor.strip()!r}", mark(text, anchor), expected, scope, language)


def inline(name: str, language: str, marked: str, whole: bool = True) -> Cur:
    """A small document that is, as a whole, the block at its cursor (or has none)."""
    expected = marked.replace(CURSOR, "") if whole else None
    return Cur(f"{language}: {name}", marked, expected, "function", language)


BLOCK_CURSORS = [
    # the function around an if/else, from inside it, its closing brace and its first line
    at("javascript", JS, "return 2", FOO),
    at("javascript", JS, "}\n\nclass", FOO),
    at("javascript", JS, "function foo", FOO),
    at("javascript", JS, "return a + b", "  bar(a, b) {\n    return a + b;\n  }\n"),
    at("javascript", JS, "class K", K, "function_or_class"),
    at("javascript", JS, "await x", "const f = async (x) => {\n  await x;\n};\n"),
    at("javascript", JS, "import", "import x from 'y';\n"),  # a top-level statement
    at("javascript", JS, "\nfunction foo", None),  # a blank line between blocks
    at("go", GO, '"fmt"', 'import (\n\t"fmt"\n)\n'),
    at("go", GO, "A int", "type S struct {\n\tA int\n}\n", "function_or_class"),
    at("go", GO, "return nil", HELLO),  # a multi-line signature
    at("go", GO, "name string", HELLO),
    at("lua", LUA, "print(1)", SETUP),  # in a nested if ... end
    at("lua", LUA, "end\n\nreturn", SETUP),  # on the final end
    at("lua", LUA, "return M", "return M\n"),
    at("ruby", RUBY, "puts y", BAZ),  # in a do block in a method of a class
    at("ruby", RUBY, "class Foo", RUBY, "function_or_class"),
    inline("Allman braces", "c", "int f(void)\n{\n    ‸return 0;\n}\n"),
    inline("attributes above", "rust", "#[test]\nfn it() {\n    ‸ok();\n}\n"),
    inline("CRLF", "javascript", "function f() {\r\n  ‸g();\r\n}\r\n"),
    inline("non-ASCII", "javascript", "function ü() {\n  s = '😀‸';\n}\n"),
    inline("whitespace only", "go", "  \n ‸\n\n", whole=False),
    inline("empty document", "lua", "‸", whole=False),
]


@pytest.mark.parametrize("case", BLOCK_CURSORS, ids=lambda c: c.name)
def test_a_cursor_elsewhere_takes_the_line_block(case: Cur) -> None:
    doc, pos = doc_and_cursor(case.marked, case.language)
    assert rewritten(doc, pos, pos, case.scope) == case.expected
