"""The Codex `apply_patch` format: parsing a patch, and applying it to file texts (pure, no I/O).

    *** Begin Patch
    *** Add File: <path>          then the content, every line prefixed with "+"
    *** Delete File: <path>
    *** Update File: <path>
    *** Move to: <path>           optional, right after Update File (a rename)
    @@ <anchor line>              starts a hunk; plain "@@" without an anchor
     context / -removed / +added  hunk lines; the first hunk may omit "@@"
    *** End of File               optional: the hunk must match at the end of the file
    *** End Patch

Parsing is forgiving where models commonly slip: CRLF, blank lines around the patch and between
sections, trailing spaces on markers, a bare empty line inside a hunk (an empty context line),
several `@@ anchor` lines in a row (each found after the previous), and unified-diff headers
(`@@ -3,7 +3,8 @@ def f():` keeps `def f():` as the anchor). Everything else malformed is a
`PatchError` with the 1-based line number and what was expected.

`apply_patch` finds each hunk's old lines (context and `-` lines) after the previous hunk: first
exactly, then ignoring trailing whitespace, then leading and trailing whitespace, then also
typographic punctuation (like Codex's `seek_sequence`). Context lines keep the file's own text
even when they matched fuzzily, so only `-`/`+` lines change. It keeps each untouched line's
ending, gives new lines the file's style (that of its first line break) and keeps whether the file
ends with a line break. New files end with "\\n".
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from responses_lsp.tools.errors import PatchError

BEGIN, END, END_OF_FILE = "*** Begin Patch", "*** End Patch", "*** End of File"
ADD, DELETE, UPDATE, MOVE = "*** Add File:", "*** Delete File:", "*** Update File:", "*** Move to:"
_HEADERS = f"'{ADD} <path>', '{DELETE} <path>', '{UPDATE} <path>' or '{END}'"
_UNIFIED = re.compile(r"-\d+(?:,\d+)? \+\d+(?:,\d+)? @@ ?(.*)")
_PUNCTUATION = str.maketrans(
    {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-"}
    | {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "}
)
_NORMALIZERS: tuple[Callable[[str], str], ...] = (  # seek_sequence's passes, strictest first
    str,
    str.rstrip,
    str.strip,
    lambda line: line.strip().translate(_PUNCTUATION),
)


@dataclass(frozen=True)
class AddFile:
    path: str
    content: str


@dataclass(frozen=True)
class DeleteFile:
    path: str


@dataclass(frozen=True)
class Chunk:
    """One hunk: `old` = context and `-` lines in order, `new` = context and `+` lines."""

    anchor: str | None
    old: tuple[str, ...]
    new: tuple[str, ...]
    end_of_file: bool
    outer_anchors: tuple[str, ...] = ()  # earlier `@@` lines of a run, found before `anchor`


@dataclass(frozen=True)
class UpdateFile:
    path: str
    move_to: str | None
    chunks: tuple[Chunk, ...]


Patch = tuple[AddFile | DeleteFile | UpdateFile, ...]


@dataclass(frozen=True)
class FileChange:
    """One file's change; texts are whole files (None where the file does not exist)."""

    kind: Literal["add", "update", "delete"]
    path: str
    new_path: str | None
    old_text: str | None
    new_text: str | None


# -- parsing -----------------------------------------------------------------------------------


def parse_patch(text: str) -> Patch:
    """The sections of patch `text`; a `PatchError` with the line number says what is wrong."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not filled:
        raise PatchError(f"the patch is empty; write '{BEGIN}', the file sections, '{END}'")
    first, last = filled[0], filled[-1]
    if lines[first].strip() != BEGIN:
        raise PatchError(f"expected '{BEGIN}' as the first line, got {lines[first]!r}", first + 1)
    if lines[last].strip() != END:
        raise PatchError(f"expected '{END}' as the last line, got {lines[last]!r}", last + 1)
    return _Parser(lines, last).parse(first + 1)


def _header_path(line: str, marker: str, number: int) -> str:
    path = line[len(marker) :].strip()
    if not path:
        raise PatchError(f"missing path after '{marker}'", number)
    return path


class _Parser:
    def __init__(self, lines: list[str], end: int) -> None:
        self.lines, self.end, self.i = lines, end, 0

    def parse(self, start: int) -> Patch:
        self.i = start
        sections: list[AddFile | DeleteFile | UpdateFile] = []
        while self.i < self.end:
            line, number = self.lines[self.i], self.i + 1
            self.i += 1
            if not line.strip():
                continue
            if line.startswith(ADD):
                sections.append(self._add(_header_path(line, ADD, number)))
            elif line.startswith(DELETE):
                sections.append(DeleteFile(_header_path(line, DELETE, number)))
            elif line.startswith(UPDATE):
                sections.append(self._update(_header_path(line, UPDATE, number), number))
            elif line.strip() == END:
                raise PatchError(f"'{END}' before the end; remove the text after it", number)
            elif line.startswith("***"):
                raise PatchError(f"unknown header {line!r}; expected {_HEADERS}", number)
            else:
                hint = "; every line of an added file starts with '+'" if line[:1] == "+" else ""
                raise PatchError(f"expected a file header ({_HEADERS}), got {line!r}{hint}", number)
        if not sections:
            raise PatchError(f"the patch has no file sections; expected {_HEADERS}", self.end + 1)
        return tuple(sections)

    def _add(self, path: str) -> AddFile:
        content: list[str] = []
        while self.i < self.end and self.lines[self.i].startswith("+"):
            content.append(self.lines[self.i][1:])
            self.i += 1
        return AddFile(path, "".join(line + "\n" for line in content))

    def _update(self, path: str, number: int) -> UpdateFile:
        move_to = None
        if self.i < self.end and self.lines[self.i].startswith(MOVE):
            move_to = _header_path(self.lines[self.i], MOVE, self.i + 1)
            self.i += 1
        chunks: list[Chunk] = []
        while self.i < self.end and not self.lines[self.i].startswith("***"):
            if not self.lines[self.i].strip():
                after = self._next_filled()
                if after == self.end or self.lines[after].startswith(("***", "@@")):
                    self.i = after  # blank lines before a section or a hunk: separators
                    continue
            chunks.append(self._chunk(first=not chunks))
        if not chunks and move_to is None:
            raise PatchError(
                f"'{UPDATE} {path}' has no hunks; add '@@' hunks with ' ', '-' and '+' lines",
                number,
            )
        return UpdateFile(path, move_to, tuple(chunks))

    def _next_filled(self) -> int:
        i = self.i
        while i < self.end and not self.lines[i].strip():
            i += 1
        return i

    def _chunk(self, *, first: bool) -> Chunk:
        start = self.i + 1
        anchors: list[str] = []
        while self.i < self.end and self.lines[self.i].startswith("@@"):
            anchor = self.lines[self.i][2:].removeprefix(" ")
            unified = _UNIFIED.fullmatch(anchor)
            anchor = unified.group(1) if unified else anchor
            if anchor.strip():
                anchors.append(anchor)
            self.i += 1
        if self.i == start - 1 and not first:
            raise PatchError("expected '@@' to start the next hunk", start)
        old: list[str] = []
        new: list[str] = []
        changed, end_of_file, bare_blanks = False, False, 0
        while self.i < self.end:
            line = self.lines[self.i]
            if line.rstrip() == END_OF_FILE:
                end_of_file, bare_blanks = True, 0
                self.i += 1
                break
            if line.startswith(("@@", "***")):
                break
            bare_blanks = bare_blanks + 1 if line == "" else 0
            kind, body = line[:1], line[1:]
            if kind in ("", " "):
                old.append(body)
                new.append(body)
            elif kind in "-+":
                (old if kind == "-" else new).append(body)
                changed = True
            else:
                raise PatchError(
                    "expected a hunk line starting with ' ' (context), '-' (remove), '+' (add), "
                    f"or '@@'; got {line!r}",
                    self.i + 1,
                )
            self.i += 1
        if bare_blanks:  # blank separator lines before the next section, not context
            del old[-bare_blanks:], new[-bare_blanks:]
        if not changed:
            raise PatchError("this hunk has no changes: give it '-' and/or '+' lines", start)
        inner = anchors.pop() if anchors else None
        return Chunk(inner, tuple(old), tuple(new), end_of_file, tuple(anchors))


# -- applying ----------------------------------------------------------------------------------


def _key(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/"))


def _moves(section: UpdateFile) -> bool:
    return section.move_to is not None and _key(section.move_to) != _key(section.path)


def apply_patch(patch: Patch, read: Callable[[str], str | None]) -> list[FileChange]:
    """The changes `patch` makes, given `read(path)`: a file's current text, None if missing."""
    seen: set[str] = set()
    for section in patch:
        targets = [section.path]
        if isinstance(section, UpdateFile) and section.move_to is not None and _moves(section):
            targets.append(section.move_to)
        for target in targets:
            if _key(target) in seen:
                raise PatchError(
                    f"two sections of the patch touch {target}; "
                    "put all the changes to one file in a single section"
                )
            seen.add(_key(target))
    return [_change(section, read) for section in patch]


def _change(
    section: AddFile | DeleteFile | UpdateFile, read: Callable[[str], str | None]
) -> FileChange:
    path = section.path
    current = read(path)
    if isinstance(section, AddFile):
        if current is not None:
            raise PatchError(f"cannot add {path}: it already exists; use '{UPDATE} {path}'")
        return FileChange("add", path, None, None, section.content)
    if current is None:
        verb = "delete" if isinstance(section, DeleteFile) else "update"
        raise PatchError(f"cannot {verb} {path}: file not found; use list_files to see what exists")
    if isinstance(section, DeleteFile):
        return FileChange("delete", path, None, current, None)
    move_to = section.move_to if _moves(section) else None
    if move_to is not None and read(move_to) is not None:
        raise PatchError(f"cannot move {path} to {move_to}: that file already exists")
    new_text = _apply_chunks(path, current, section.chunks)
    return FileChange("update", path, move_to, current, new_text)


def _split(text: str) -> tuple[list[str], list[str]]:
    """Lines of `text` and the line break after each ("" after a last line without one)."""
    pieces = text.split("\n")
    lines = [piece.removesuffix("\r") for piece in pieces[:-1]]
    endings = ["\r\n" if piece.endswith("\r") else "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
        endings.append("")
    return lines, endings


def seek_sequence(
    lines: Sequence[str], pattern: Sequence[str], start: int, eof: bool
) -> int | None:
    """Index of the first run of `pattern` in `lines` at or after `start` (at the end if `eof`)."""
    if not pattern:
        return start
    last = len(lines) - len(pattern)
    first = last if eof else start
    if last < start or first < start:
        return None
    for normalize in _NORMALIZERS:
        target = [normalize(line) for line in pattern]
        normal = [normalize(line) for line in lines[first:]]
        for i in range(last - first + 1):
            if normal[i : i + len(target)] == target:
                return first + i
    return None


def _not_found(
    path: str, number: int, chunk: Chunk, old: Sequence[str], lines: Sequence[str]
) -> PatchError:
    where = f" after '@@ {chunk.anchor}'" if chunk.anchor else ""
    shown = "\n".join(f"    {line}" for line in old[:6]) + ("\n    …" if len(old) > 6 else "")
    best, at = 0, -1  # the longest prefix of `old` that does appear, for a precise hint
    stripped = [line.strip() for line in lines]
    for i in range(len(lines)):
        k = 0
        while k < len(old) and i + k < len(lines) and stripped[i + k] == old[k].strip():
            k += 1
        if k > best:
            best, at = k, i
    hint = ""
    if 0 < best < len(old):
        actual = lines[at + best] if at + best < len(lines) else "(end of file)"
        hint = (
            f"\nthe first {best} line(s) match at line {at + 1}, but line {at + best + 1} is "
            f"{actual!r} where the patch expects {old[best]!r}"
        )
    return PatchError(
        f"{path}: could not find the lines of hunk {number}{where}:\n{shown}{hint}\n"
        "read the file again and copy the context and '-' lines exactly"
    )


def _keep_context(
    old: Sequence[str], new: Sequence[str], at: int, lines: list[str], endings: list[str], eol: str
) -> tuple[list[str], list[str]]:
    """`new` and its line endings, where lines kept from `old` (the context) keep the file's own
    text and ending: a fuzzy match may differ in whitespace, and only -/+ lines should change."""
    texts, breaks = list(new), [eol] * len(new)
    for block in SequenceMatcher(None, old, new, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            texts[block.b + k] = lines[at + block.a + k]
            breaks[block.b + k] = endings[at + block.a + k]
    return texts, breaks


def _apply_chunks(path: str, text: str, chunks: Sequence[Chunk]) -> str:
    lines, endings = _split(text)
    eol = endings[0] if endings and endings[0] else "\n"
    final_newline = text == "" or text.endswith("\n")
    replacements: list[tuple[int, int, tuple[list[str], list[str]]]] = []
    cursor = 0
    for number, chunk in enumerate(chunks, 1):
        anchor_at: int | None = None
        for anchor in (*chunk.outer_anchors, *([chunk.anchor] if chunk.anchor else [])):
            anchor_at = seek_sequence(lines, [anchor], cursor, False)
            if anchor_at is None:
                raise PatchError(
                    f"{path}: could not find the line '@@ {anchor}' (hunk {number}); "
                    "anchor on a line that exists, e.g. the 'def' or 'class' line"
                )
            cursor = anchor_at + 1
        old, new = list(chunk.old), list(chunk.new)
        if not old:  # pure insertion: after the anchor, else at the end of the file
            at = anchor_at + 1 if anchor_at is not None and not chunk.end_of_file else len(lines)
            replacements.append((at, 0, (new, [eol] * len(new))))
            cursor = at
            continue
        found = seek_sequence(lines, old, cursor, chunk.end_of_file)
        if found is None and anchor_at is not None:  # the hunk repeats its anchor line
            found = seek_sequence(lines, old, anchor_at, chunk.end_of_file)
        if found is None and len(old) > 1 and old[-1] == "" and new and new[-1] == "":
            old, new = old[:-1], new[:-1]
            found = seek_sequence(lines, old, cursor, chunk.end_of_file)
        if found is None:
            raise _not_found(path, number, chunk, chunk.old, lines)
        replacements.append((found, len(old), _keep_context(old, new, found, lines, endings, eol)))
        cursor = found + len(old)
    for at, count, (texts, breaks) in reversed(replacements):
        lines[at : at + count] = texts
        endings[at : at + count] = breaks
    if not lines:
        return ""
    endings[:-1] = [ending or eol for ending in endings[:-1]]
    endings[-1] = (endings[-1] or eol) if final_newline else ""
    return "".join(line + ending for line, ending in zip(lines, endings, strict=True))
