"""The CLI's editor buffer: an open document as an editor holds it, edited by LSP edits.

Independent of the server's own document model on purpose: the CLI is a client, and it
applies `workspace/applyEdit` the way an editor does (positions in its negotiated encoding).
"""

from __future__ import annotations

import re

from lsprotocol import types as t

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")
_BREAKS = ("\r\n", "\r", "\n")


def _split(text: str) -> list[str]:
    """Lines with their LSP line breaks (\\n, \\r\\n, \\r); the last one has none."""
    lines = _LINE.findall(text)
    lines.append(text[sum(map(len, lines)) :])
    return lines


def _content(line: str) -> str:
    for brk in _BREAKS:
        if line.endswith(brk):
            return line[: -len(brk)]
    return line


class TextBuffer:
    """An open document as the editor holds it: its lines (with breaks) and its version."""

    def __init__(
        self, uri: str, text: str, language_id: str, *, version: int = 1, encoding: str = "utf-16"
    ) -> None:
        self.uri = uri
        self.language_id = language_id
        self.version = version
        self.encoding = encoding
        self.lines = _split(text)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    @property
    def line_count(self) -> int:
        return len(self.lines)

    def _units(self, ch: str) -> int:
        if self.encoding == "utf-8":
            return len(ch.encode("utf-8"))
        if self.encoding == "utf-32":
            return 1
        return 2 if ord(ch) > 0xFFFF else 1

    def position(self, line: int, column: int = 0) -> t.Position:
        """The LSP position of (line, column in code points), clamped to the document."""
        line = max(0, min(line, len(self.lines) - 1))
        text = _content(self.lines[line])[: max(0, column)]
        return t.Position(line=line, character=sum(self._units(ch) for ch in text))

    def end(self) -> t.Position:
        return self.position(len(self.lines) - 1, len(self.lines[-1]))

    def first_non_blank(self, line: int) -> t.Position:
        text = _content(self.lines[max(0, min(line, len(self.lines) - 1))])
        return self.position(line, len(text) - len(text.lstrip()))

    def _column(self, line: int, units: int) -> int:
        text = _content(self.lines[line])
        used = 0
        for index, ch in enumerate(text):
            if used >= units:
                return index
            used += self._units(ch)
        return len(text)

    def _clamp(self, pos: t.Position) -> tuple[int, int]:
        if pos.line >= len(self.lines):
            return len(self.lines) - 1, len(_content(self.lines[-1]))
        return pos.line, self._column(pos.line, pos.character)

    def replace(self, rng: t.Range, new_text: str) -> None:
        """Apply one edit; only the lines it touches are split again."""
        (l1, c1), (l2, c2) = sorted((self._clamp(rng.start), self._clamp(rng.end)))
        piece = self.lines[l1][:c1] + new_text + self.lines[l2][c2:]
        first, last = l1, l2
        # a "\r" before the piece and a "\n" at its start are now one "\r\n" break
        if piece.startswith("\n") and first > 0 and self.lines[first - 1].endswith("\r"):
            first -= 1
            piece = self.lines[first] + piece
        # "\r" + "\n" on the next line is now one "\r\n" break
        if (
            piece.endswith("\r")
            and last + 1 < len(self.lines)
            and self.lines[last + 1].startswith("\n")
        ):
            last += 1
            piece += self.lines[last]
        parts = _split(piece)
        if last + 1 < len(self.lines) and parts[-1] == "":
            parts.pop()  # the piece ended with a break: the next stored line follows
        self.lines[first : last + 1] = parts


# ------------------------------------------------------------------ the client
