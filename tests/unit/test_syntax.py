"""The parse check's pieces: each parser finds the error and its line, the before/after
comparison blames an edit only for errors it brought in, and without the optional `parse`
extra the other languages are reported as not checked (never as "no errors")."""

from __future__ import annotations

import sys

import pytest

from responses_lsp.cli.check import syntax_summary
from responses_lsp.jobs import syntax
from responses_lsp.jobs.syntax import SyntaxProblem, errors, introduced


def test_python_reports_the_first_error_with_its_line() -> None:
    assert errors("x = 1\n", "python") == []
    [problem] = errors("x = 1\ndef f(:\n    pass\n", "python") or []
    assert (problem.line, problem.message) == (1, "invalid syntax")
    [problem] = errors("print((1,\n", "python") or []
    assert problem.message == "'(' was never closed"


@pytest.mark.parametrize(
    ("language", "good", "bad", "line"),
    [
        ("javascript", "const a = [1, 2];\n", "const a = 1;\nconst b = (a +;\n", 1),
        ("typescript", "let a: number = 1;\n", "let a: number = 1;\nlet b: = 2;\n", 1),
        (
            "go",
            "package m\nfunc f() int { return 1 }\n",
            "package m\nfunc f() int {\n return }}\n",
            2,
        ),
        ("rust", "fn f() -> i32 { 1 }\n", "fn f() -> i32 {\n    let x = ;\n}\n", 1),
        ("c", "int f(void) { return 1; }\n", "int f(void) {\n  return 1 +;\n}\n", 1),
        (
            "java",
            "class A { int f() { return 1; } }\n",
            "class A {\n  int f() { ; )\n}\n",
            1,
        ),
    ],
)
def test_tree_sitter_finds_errors_and_their_lines(
    language: str, good: str, bad: str, line: int
) -> None:
    assert errors(good, language) == []
    found = errors(bad, language)
    assert found, f"{language}: no error found in {bad!r}"
    assert found[0].line == line


def test_unknown_languages_are_not_checked() -> None:
    assert errors("anything (", "markdown") is None
    assert errors("x" * (syntax.MAX_CHARS + 1), "python") is None


def p(line: int) -> SyntaxProblem:
    return SyntaxProblem(line, 0, "error")


def test_comparison_blames_only_what_the_edit_brought_in() -> None:
    # the edit replaced lines 10-12 (3 lines) by 5 lines: later lines moved down by 2
    assert introduced([], [], 10, 3, 5) == []
    assert introduced([], [p(11)], 10, 3, 5) == [p(11)]  # a new error in the edit
    assert introduced([p(2)], [p(2)], 10, 3, 5) == []  # broken before, above the edit
    assert introduced([p(40)], [p(42)], 10, 3, 5) == []  # broken before, below (shifted)
    assert introduced([p(40)], [p(40)], 10, 3, 5) == [p(40)]  # a new one below the edit
    assert introduced([p(11)], [p(13)], 10, 3, 5) == []  # as broken as the original was
    assert introduced([p(11)], [p(11), p(13)], 10, 3, 5) == [p(11), p(13)]  # worse


def test_without_the_parse_extra_other_languages_say_not_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "tree_sitter", None)  # `import tree_sitter` fails
    monkeypatch.setattr(syntax, "_parsers", {})
    assert errors("func f() {", "go") is None
    assert syntax.extra_missing("go") and not syntax.extra_missing("python")
    assert syntax.checker_for("python") == "python" and syntax.checker_for("go") is None
    summary = syntax_summary()
    assert summary.startswith("checked: python (standard library); NOT checked: javascript,")
    assert "pip install 'responses-lsp[parse]'" in summary
