"""The server's copy of an open document: a list of lines, updated in O(change).

pygls rebuilds the whole text on every incremental change (~3 ms at 1 MB); this model
splices only the touched lines (DESIGN I6b). Internally positions are `(line, column)`
with columns in code points (Python string indices); `Encoding` converts to and from
the negotiated LSP position encoding (utf-8, utf-16 or utf-32) using only the one line
involved, never `len()` of a whole line in the wrong unit (DESIGN I7).
Lines keep their line break ("\\n", "\\r\\n" or "\\r"); columns never count it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Pos = tuple[int, int]
"""(line, column in code points)."""


def _break_len(line: str) -> int:
    last = line[-1:]
    if last == "\n":
        return 2 if line[-2:-1] == "\r" else 1
    return 1 if last == "\r" else 0


def content(line: str) -> str:
    """A stored line without its line break."""
    return line[: len(line) - _break_len(line)]


_OTHER_BREAKS = re.compile("[\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_LSP_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")


def split_lines(text: str) -> list[str]:
    """Split at LSP line breaks (\\n, \\r\\n, \\r) keeping them; at least one line."""
    if _OTHER_BREAKS.search(text) is None:
        lines = text.splitlines(keepends=True)
    else:
        # str.splitlines also splits on \\v, \\f, U+2028...; LSP does not.
        lines = _LSP_LINE.findall(text)
        rest = text[sum(map(len, lines)) :]
        if rest:
            lines.append(rest)
    if not lines or _break_len(lines[-1]):
        lines.append("")
    return lines


def common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix of `a` and `b`."""
    low, high = 0, min(len(a), len(b))
    while low < high:  # binary search on slices: fast in C for long equal runs
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def common_suffix(a: str, b: str, prefix: int) -> int:
    """Length of the longest common suffix of `a` and `b` that stays clear of `prefix`."""
    low, high = 0, min(len(a), len(b)) - prefix
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle :] == b[len(b) - middle :]:
            low = middle
        else:
            high = middle - 1
    return low


def extent(start: Pos, text: str) -> Pos:
    """The position right after `text` inserted at `start`."""
    parts = split_lines(text)
    if len(parts) == 1:
        return (start[0], start[1] + len(parts[0]))
    return (start[0] + len(parts) - 1, len(parts[-1]))


class Encoding:
    """Converts columns between code points and the client's position encoding."""

    def __init__(self, name: str = "utf-16") -> None:
        if name not in ("utf-8", "utf-16", "utf-32"):
            name = "utf-16"
        self.name = name

    def units(self, text: str) -> int:
        """Length of `text` in client code units."""
        if self.name == "utf-32" or text.isascii():
            return len(text)
        if self.name == "utf-8":
            return len(text.encode("utf-8", "surrogatepass"))
        return len(text.encode("utf-16-le", "surrogatepass")) // 2

    def to_client(self, line_text: str, column: int) -> int:
        return self.units(line_text[:column])

    def from_client(self, line_text: str, units: int) -> int:
        """Code-point column of `units` client units into `line_text` (clamped to the line)."""
        if units <= 0:
            return 0
        if self.name == "utf-32" or line_text.isascii():
            return min(units, len(line_text))
        count = 0
        for index, char in enumerate(line_text):
            if count >= units:
                return index
            code = ord(char)
            if self.name == "utf-8":
                count += 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
            else:
                count += 2 if code > 0xFFFF else 1
        return len(line_text)


@dataclass
class Change:
    """One content change in code points: `old` at [start, end) was replaced by `text`."""

    start: Pos
    end: Pos
    text: str
    old: str

    @property
    def new_end(self) -> Pos:
        return extent(self.start, self.text)


class Document:
    """An open text document as the server knows it (from didOpen/didChange)."""

    def __init__(self, uri: str, text: str, version: int = 0, language_id: str = "") -> None:
        self.uri = uri
        self.version = version
        self.language_id = language_id
        self.lines: list[str] = split_lines(text)
        self.changes_received = 0  # didChange notifications applied so far

    # --------------------------------------------------------------- reading

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def line(self, index: int) -> str:
        """The content of line `index` without its line break ("" past the end)."""
        if 0 <= index < len(self.lines):
            return content(self.lines[index])
        return ""

    @property
    def line_count(self) -> int:
        return len(self.lines)

    def end(self) -> Pos:
        return (len(self.lines) - 1, len(content(self.lines[-1])))

    def clamp(self, pos: Pos) -> Pos:
        line, col = pos
        if line < 0:
            return (0, 0)
        lines = self.lines
        if line >= len(lines):
            return self.end()
        size = len(lines[line]) - _break_len(lines[line])
        if 0 <= col <= size:  # the common case (~14 times an edit cycle): as it is
            return pos
        return (line, max(0, min(col, size)))

    def slice(self, start: Pos, end: Pos) -> str:
        """The text between two positions (line breaks included)."""
        (sl, sc), (el, ec) = self.clamp(start), self.clamp(end)
        if (sl, sc) >= (el, ec):
            return ""
        if sl == el:
            return self.lines[sl][sc:ec]
        parts = [self.lines[sl][sc:]]
        parts.extend(self.lines[sl + 1 : el])
        parts.append(self.lines[el][:ec])
        return "".join(parts)

    def line_break(self) -> str:
        """The document's dominant line break (first one found)."""
        for line in self.lines[:200]:
            n = _break_len(line)
            if n:
                return line[-n:]
        return "\n"

    # --------------------------------------------------------------- positions

    def from_client(self, encoding: Encoding, line: int, character: int) -> Pos:
        lines = self.lines
        if line >= len(lines):
            return self.end()
        if line < 0:
            return (0, 0)
        text = lines[line]
        if character > 0 and (encoding.name == "utf-32" or text.isascii()):
            # Encoding.from_client's own shortcut, without copying the line (hot: 6 times
            # an edit cycle)
            return (line, min(character, len(text) - _break_len(text)))
        return (line, encoding.from_client(content(text), character))

    def to_client(self, encoding: Encoding, pos: Pos) -> tuple[int, int]:
        line, col = self.clamp(pos)
        return (line, encoding.to_client(self.line(line), col))

    # --------------------------------------------------------------- writing

    def make_change(self, start: Pos, end: Pos, text: str) -> Change:
        start, end = self.clamp(start), self.clamp(end)
        if end < start:
            start, end = end, start
        return Change(start=start, end=end, text=text, old=self.slice(start, end))

    def apply(self, change: Change) -> None:
        """Apply a change in code points; costs O(lines touched + inserted)."""
        (sl, sc), (el, ec) = change.start, change.end
        head = self.lines[sl][:sc]
        tail = self.lines[el][ec:]
        fuses = (change.text + tail).startswith("\n")
        if sc == 0 and sl > 0 and self.lines[sl - 1].endswith("\r") and fuses:
            # A lone CR before us and an LF at our start fuse into one CRLF break.
            sl -= 1
            head = self.lines[sl]
        new_lines = split_lines(head + change.text + tail)
        if el < len(self.lines) - 1:
            # `tail` ends with line el's break, so the split ends with an empty remainder
            # that is really the start of line el + 1, which stays as it is.
            new_lines.pop()
        self.lines[sl : el + 1] = new_lines

    def replace_all(self, text: str) -> None:
        self.lines = split_lines(text)
