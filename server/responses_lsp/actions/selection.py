"""What text an action rewrites: the selection grown to whole lines, or the block at the cursor.

`action_range` runs when a command runs, never inside `textDocument/codeAction`. Ranges are
always whole lines: from column 0 of the first line to the start of the line after the last
one (or the document end), so the rewrite carries its own line breaks and base indentation.

A cursor (empty selection) expands by scope ("function", "function_or_class"; "selection"
behaves like "function_or_class"):

* Python: the innermost enclosing `def`/`async def` or `class`, decorators and trailing
  comments of its body included. "function" prefers a function and falls back to the class;
  a cursor outside every definition takes the top-level statement it is in. Spans come from
  `ast`, cached per (uri, version, line count) so a second run at the same version is free.
* Other languages, and Python that does not parse (mid-edit): the *line block*, by
  indentation. From the cursor line, walk up the chain of enclosing lines (each the nearest
  line above with less indentation; closing lines such as `}`, `end`, `else`, `)` belong to
  the block above them and are skipped). The header is the innermost chain line that looks like
  a definition for the scope (`def`, `function`, `func`, `fn`, an arrow function, a method
  signature ending in `{`; with classes also `class`, `struct`, `impl`, `module`, ...), else the
  outermost one. The block is the header, the lines below it that are blank or indented
  deeper, and the closing lines at the header's indentation (`}`, `end`, `} else {`, ...),
  plus decorator/annotation lines (`@...`, `#[...]`) right above the header.

A cursor on a blank line between top-level blocks, and a whitespace-only result, give None.
"""

from __future__ import annotations

import ast
import re
from collections import OrderedDict
from dataclasses import dataclass

from responses_lsp.editing.document import Document, Pos

_CACHE_SIZE = 16


@dataclass(frozen=True)
class _Span:
    kind: str  # "function" | "class" | "statement" (a top-level statement)
    start: int  # first line (decorators included), 0-based
    end: int  # last line, inclusive


_cache: OrderedDict[tuple[str, int, int], tuple[_Span, ...] | None] = OrderedDict()


def clear_cache(uri: str | None = None) -> None:
    """Forget cached Python spans (of one document, e.g. on didClose, or of all)."""
    for key in [k for k in _cache if uri is None or k[0] == uri]:
        del _cache[key]


def action_range(doc: Document, start: Pos, end: Pos, *, scope: str) -> tuple[Pos, Pos] | None:
    """The whole-line range an action rewrites, or None when there is nothing to rewrite."""
    start, end = sorted((doc.clamp(start), doc.clamp(end)))
    if start != end:
        first, last = start[0], end[0]
        if end[1] == 0 and last > first:
            last -= 1  # a selection ending at column 0 does not include that line
        lines: tuple[int, int] | None = (first, last)
    else:
        lines = _python_block(doc, start[0], scope) if doc.language_id == "python" else None
        if lines is None:
            lines = line_block(doc, start[0], scope)
    if lines is None:
        return None
    rng = ((lines[0], 0), _after_line(doc, lines[1]))
    if not doc.slice(*rng).strip():
        return None
    return rng


def _after_line(doc: Document, line: int) -> Pos:
    return (line + 1, 0) if line + 1 < doc.line_count else doc.end()


# ------------------------------------------------------------------ Python, via ast


def _python_block(doc: Document, line: int, scope: str) -> tuple[int, int] | None:
    spans = _python_spans(doc)
    if spans is None:
        return None
    if scope == "function":
        order: tuple[tuple[str, ...], ...] = (("function",), ("class",), ("statement",))
    else:
        order = (("function", "class"), ("statement",))
    for kinds in order:
        inner = [s for s in spans if s.kind in kinds and s.start <= line <= s.end]
        if inner:
            best = max(inner, key=lambda s: (s.start, -s.end))
            return (best.start, best.end)
    return None  # a comment or blank line outside every statement: the line block decides


def _python_spans(doc: Document) -> tuple[_Span, ...] | None:
    key = (doc.uri, doc.version, doc.line_count)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    try:
        tree: ast.Module | None = ast.parse(doc.text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = None
    spans = None if tree is None else tuple(_spans_of(doc, tree))
    _cache[key] = spans
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return spans


def _spans_of(doc: Document, tree: ast.Module) -> list[_Span]:
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            last = _with_trailing_comments(doc, node.lineno - 1, (node.end_lineno or 0) - 1)
            spans.append(_Span(kind, first, last))
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            spans.append(_Span("statement", node.lineno - 1, (node.end_lineno or 0) - 1))
    return spans


def _with_trailing_comments(doc: Document, header: int, last: int) -> int:
    """Extend a body's last line over comment lines indented deeper than its header."""
    depth = _indent(doc.line(header))
    line = last + 1
    while line < doc.line_count:
        text = doc.line(line)
        if text.strip():
            if not (text.lstrip().startswith("#") and _indent(text) > depth):
                break
            last = line
        line += 1
    return last


# ------------------------------------------------------------------ the line block

_CLOSER = re.compile(
    r"[})\]]|(?:end|else|elif|elsif|elseif|except|finally|catch|rescue|ensure)\b|\{\s*$"
)
_DECORATOR = re.compile(r"(?:@|#\[)(?!.*[{;]\s*$)")  # not CSS `@media ... {` / `@import ...;`
_CONTROL = (
    r"(?:if|for|foreach|while|switch|when|match|catch|with|using|lock|synchronized|return"
    r"|else|do|try|new|await|throw)\b"
)
_FUNCTION = re.compile(
    r"\b(?:def|function|func|fn|fun|sub|proc|method|macro)\b"
    r"|=>\s*[{(]?\s*$"
    rf"|^(?!{_CONTROL})[^=(]*\b[\w$]+\s*\(.*\)[^()]*\{{\s*$"
)
_CLASS = re.compile(
    r"\b(?:class|struct|interface|trait|impl|module|enum|record|object|namespace|protocol"
    r"|extension)\b\s*[\w$:<]"
    r"|\btype\s+\w+\s+(?:struct|interface)\b"
)


def _indent(text: str) -> int:
    return len(text[: len(text) - len(text.lstrip())].expandtabs(8))


def _is_closer(text: str) -> bool:
    return _CLOSER.match(text.strip()) is not None


def line_block(
    doc: Document, line: int, scope: str = "function_or_class"
) -> tuple[int, int] | None:
    """The line block at `line` (see the module docstring) as (first, last) line, or None."""
    anchor = _anchor(doc, line)
    if anchor is None:
        return None
    chain = [anchor]
    if _is_closer(doc.line(anchor)):
        header = _above(doc, anchor, _indent(doc.line(anchor)) + 1)
        chain = [header] if header is not None else []
    while chain and _indent(doc.line(chain[-1])) > 0:
        outer = _above(doc, chain[-1], _indent(doc.line(chain[-1])))
        if outer is None:
            break
        chain.append(outer)
    if not chain:
        return None
    header = _pick_header(doc, chain, scope)
    return (_decorators_above(doc, header), _block_end(doc, header))


def _anchor(doc: Document, line: int) -> int | None:
    """The non-blank line the block is sought from; None for a blank line between blocks."""
    if not doc.line(line).strip():
        below = next((i for i in range(line + 1, doc.line_count) if doc.line(i).strip()), None)
        if below is None:
            return None
        text = doc.line(below)
        if _indent(text) == 0 and not _is_closer(text):
            return None
        line = below
    while _DECORATOR.match(doc.line(line).lstrip()) and line + 1 < doc.line_count:
        line += 1  # a decorator belongs to what it decorates
    return line


def _above(doc: Document, line: int, below_indent: int) -> int | None:
    """The nearest line above `line` indented less than `below_indent` that opens a block."""
    for i in range(line - 1, -1, -1):
        text = doc.line(i)
        if text.strip() and _indent(text) < below_indent and not _is_closer(text):
            return i
    return None


def _pick_header(doc: Document, chain: list[int], scope: str) -> int:
    """The innermost chain line that defines what the scope asks for, else the outermost."""

    def innermost(*patterns: re.Pattern[str]) -> int | None:
        matches = (i for i in chain if any(p.search(doc.line(i).strip()) for p in patterns))
        return next(matches, None)

    if scope == "function":
        found = innermost(_FUNCTION)
        found = innermost(_CLASS) if found is None else found
    else:
        found = innermost(_FUNCTION, _CLASS)
    return chain[-1] if found is None else found


def _decorators_above(doc: Document, header: int) -> int:
    depth = _indent(doc.line(header))
    first = header
    while first > 0:
        text = doc.line(first - 1)
        if not (_DECORATOR.match(text.lstrip()) and _indent(text) == depth):
            break
        first -= 1
    return first


def _block_end(doc: Document, header: int) -> int:
    depth = _indent(doc.line(header))
    last = header
    for i in range(header + 1, doc.line_count):
        text = doc.line(i)
        if not text.strip():
            continue
        if _indent(text) > depth or (_indent(text) == depth and _is_closer(text)):
            last = i
        else:
            break
    return last
