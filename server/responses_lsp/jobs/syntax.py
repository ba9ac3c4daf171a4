"""Does the document still parse with the model's code in it? Before and after, compared.

`errors(text, language_id)` lists a text's syntax errors: Python with the standard library
(`compile`, which reports the first error only), other languages with tree-sitter when the
optional `parse` extra is installed (`pip install 'responses-lsp[parse]'`: tree-sitter and
one prebuilt grammar wheel per language; nothing is downloaded at run time). It answers None
when no parser knows the language, so "not checked" is never mistaken for "no errors".

`introduced(...)` compares the document before the edit with the document after it: an
error outside the edited lines counts as new only when it was not there before (at the same
line once the edit's line shift is undone), and the edited lines are worse only when they
hold more errors than the original lines did. A document that did not parse before the
action is therefore not blamed on it. Pure functions, no I/O.
"""

from __future__ import annotations

import ast
import importlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the optional `parse` extra: imported on first use (`_tree_sitter_parser`)
    from tree_sitter import Node, Parser

MAX_CHARS = 250_000
"""Documents larger than this are not checked: a parse holds the GIL (no thread helps), and
at about 0.3 s per million characters two parses of a larger document would stall the event
loop noticeably (the job's message says it was not checked)."""

PYTHON = ("python",)
TREE_SITTER: dict[str, tuple[str, str]] = {
    # LSP languageId -> (grammar module, function returning the language)
    "javascript": ("tree_sitter_javascript", "language"),
    "javascriptreact": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "typescriptreact": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "java": ("tree_sitter_java", "language"),
    "shellscript": ("tree_sitter_bash", "language"),
    "sh": ("tree_sitter_bash", "language"),
    "bash": ("tree_sitter_bash", "language"),
}
"""The languages the `parse` extra checks."""
EXTRA_HINT = "pip install 'responses-lsp[parse]'"


@dataclass(frozen=True)
class SyntaxProblem:
    line: int  # 0-based, in the text that was parsed
    column: int
    message: str

    def describe(self) -> str:
        return f"line {self.line + 1}: {self.message}"


# ---------------------------------------------------------------------- parsers


def python_errors(text: str) -> list[SyntaxProblem]:
    """The first syntax error of Python `text` (the compiler stops there), or none."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning: invalid escapes and the like
            compile(text, "<document>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        line = max(0, (exc.lineno or 1) - 1)
        column = max(0, (exc.offset or 1) - 1)
        return [SyntaxProblem(line, column, exc.msg or "invalid syntax")]
    return []


_parsers: dict[str, Parser | None] = {}


def _tree_sitter_parser(language_id: str) -> Parser | None:
    """A tree-sitter parser for `language_id`, or None (unknown language, or no extra)."""
    if language_id in _parsers:
        return _parsers[language_id]
    spec = TREE_SITTER.get(language_id)
    parser: Parser | None = None
    if spec is not None:
        try:
            tree_sitter = importlib.import_module("tree_sitter")
            grammar: Callable[[], object] = getattr(importlib.import_module(spec[0]), spec[1])
            parser = tree_sitter.Parser(tree_sitter.Language(grammar()))
        except (ImportError, AttributeError, ValueError):  # not installed, or an ABI mismatch
            parser = None
    _parsers[language_id] = parser
    return parser


def tree_sitter_errors(parser: Parser, text: str) -> list[SyntaxProblem]:
    """Every ERROR and MISSING node of `text`'s tree (outermost ones; none inside another)."""
    data = text.encode("utf-8", "surrogatepass")
    tree = parser.parse(data)
    found: list[SyntaxProblem] = []
    stack = [tree.root_node]
    while stack and len(found) < 200:
        node = stack.pop()
        if node.is_missing:
            found.append(_problem(data, node, f"missing {node.type!r}"))
            continue
        if node.is_error:
            snippet = data[node.start_byte : node.end_byte].decode("utf-8", "replace")
            snippet = " ".join(snippet.split())[:40]
            found.append(_problem(data, node, f"unexpected {snippet!r}" if snippet else "error"))
            continue
        if node.has_error:
            stack.extend(reversed(node.children))
    found.sort(key=lambda p: (p.line, p.column))
    return found


def _problem(data: bytes, node: Node, message: str) -> SyntaxProblem:
    row, byte_column = node.start_point
    line_start = node.start_byte - byte_column
    column = len(data[line_start : node.start_byte].decode("utf-8", "replace"))
    return SyntaxProblem(row, column, message)


def checker_for(language_id: str) -> str | None:
    """Who checks `language_id`: "python", "tree-sitter", or None (not checked)."""
    if language_id in PYTHON:
        return "python"
    if _tree_sitter_parser(language_id) is not None:
        return "tree-sitter"
    return None


def errors(text: str, language_id: str) -> list[SyntaxProblem] | None:
    """The syntax errors of `text`; None when it cannot be checked."""
    if len(text) > MAX_CHARS:
        return None
    if language_id in PYTHON:
        try:
            return python_errors(text)
        except (ValueError, RecursionError, MemoryError):  # NUL bytes, absurd nesting
            return None
    parser = _tree_sitter_parser(language_id)
    if parser is None:
        return None
    return tree_sitter_errors(parser, text)


def extra_missing(language_id: str) -> bool:
    """`language_id` would be checked with the `parse` extra, which is not installed."""
    return language_id in TREE_SITTER and _tree_sitter_parser(language_id) is None


def available() -> dict[str, list[str]]:
    """What `responses-lsp check` reports: the languages checked, and those that need the extra."""
    checked = list(PYTHON)
    missing: list[str] = []
    for language_id in TREE_SITTER:
        (checked if _tree_sitter_parser(language_id) is not None else missing).append(language_id)
    return {"checked": checked, "missing": missing}


# ---------------------------------------------------------------------- comparison


def introduced(
    before: list[SyntaxProblem],
    after: list[SyntaxProblem],
    first_line: int,
    old_lines: int,
    new_lines: int,
) -> list[SyntaxProblem]:
    """The errors of `after` that the edit brought in (empty: not worse than `before`).

    The edit replaced lines `[first_line, first_line + old_lines)` of the document before by
    `new_lines` lines (partial lines at either end count as edited lines)."""
    shift = new_lines - old_lines
    old_end, new_end = first_line + old_lines, first_line + new_lines

    known = {p.line for p in before if not first_line <= p.line < old_end}
    inside_before = [p for p in before if first_line <= p.line < old_end]
    inside_after = [p for p in after if first_line <= p.line < new_end]
    new: list[SyntaxProblem] = []
    for problem in after:
        if problem.line < first_line:
            old_line = problem.line
        elif problem.line >= new_end:
            old_line = problem.line - shift
        else:
            continue  # inside: counted below
        if old_line not in known:
            new.append(problem)
    if len(inside_after) > len(inside_before):
        new.extend(inside_after)
    new.sort(key=lambda p: (p.line, p.column))
    return new
