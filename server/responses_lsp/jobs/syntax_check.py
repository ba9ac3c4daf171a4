"""A single-file job's syntax check: the document with the answer in place against the
document as it was, and what the job's result says about it.

`SyntaxCheck` is asked by `SingleFileJob` once the answer is complete and before the
original is removed (the original still sits below the new text, so restoring it is the
engine's ordinary restore). The text around the region is read from the document at each
check, so edits the user made elsewhere meanwhile are on both sides of the comparison.
Its `verdict` ends in the result: `checked` (no new syntax error), `repaired` (the one repair
turn fixed it), `restored` (still worse: the original is back), `kept` (still worse, kept by
`syntaxCheck: "keep"`), `unchecked` (no parser for the language).
"""

from __future__ import annotations

from typing import Any

from responses_lsp.editing.document import Document
from responses_lsp.editing.live_region import RegionJob
from responses_lsp.jobs import syntax
from responses_lsp.jobs.syntax import SyntaxProblem


def _lines(text: str) -> int:
    return max(1, len(text.splitlines()))


class SyntaxCheck:
    def __init__(self, doc: Document, region: RegionJob) -> None:
        self.doc = doc
        self.region = region
        self.verdict = "unchecked"
        self.problems: list[SyntaxProblem] = []
        self.repair_asked = False
        self.skipped = ""  # why a checkable language was not checked
        self.code_lines = (0, 0)  # the model's code in the checked document (0-based)

    @property
    def language(self) -> str:
        return self.doc.language_id

    def start(self) -> bool:
        """Whether this document can be checked at all (its language, its size)."""
        if syntax.checker_for(self.language) is None:
            return False
        if sum(len(line) for line in self.doc.lines) > syntax.MAX_CHARS:
            self.skipped = f"the document is over {syntax.MAX_CHARS:,} characters"
            return False
        return True

    def introduced(self, code: str) -> list[SyntaxProblem]:
        """The syntax errors the document has with `code` in the region and not without."""
        doc, region = self.doc, self.region
        prefix = doc.slice((0, 0), region.start)
        suffix = doc.slice(region.end, doc.end())
        before = syntax.errors(prefix + region.original + suffix, self.language)
        after = syntax.errors(prefix + code + suffix, self.language)
        if before is None or after is None:  # too large to check
            return []
        first = region.start[0]
        self.code_lines = (first, first + _lines(code) - 1)
        return syntax.introduced(before, after, first, _lines(region.original), _lines(code))

    # ------------------------------------------------------------------ the result

    def suffix(self) -> str:
        """What the message of an applied job adds (empty when there is nothing to say)."""
        if self.verdict == "checked":
            return "; checked"
        if self.verdict == "repaired":
            first = self.problems[0]
            return f"; repaired (syntax error at line {first.line + 1} fixed by one repair turn)"
        if self.verdict == "kept":
            return (
                f"; kept with a syntax error at {self.problems[0].describe()} (syntaxCheck: keep)"
            )
        if self.skipped:
            return f"; not syntax-checked ({self.skipped})"
        if syntax.extra_missing(self.language):
            return f"; not syntax-checked (no {self.language} parser: {syntax.EXTRA_HINT})"
        return ""

    def restored_message(self) -> str:
        first = self.problems[0]
        low, high = self.code_lines
        where = f"line {low + 1}" if low == high else f"lines {low + 1}-{high + 1}"
        turn = " after one repair turn" if self.repair_asked else ""
        return (
            f"responses-lsp: restored: syntax error at line {first.line + 1} "
            f"({first.message}) in the model's code ({where}){turn}; the original code is "
            "back (syntaxCheck: keep keeps such answers)."
        )

    def details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"check": self.verdict}
        if self.problems:
            details["syntaxErrors"] = [
                {"line": p.line, "character": p.column, "message": p.message} for p in self.problems
            ]
        return details
