"""Turns a model's streamed rewrite into the exact text that goes into the user's buffer.

Owns the cleanup between the SSE text deltas and the edit streamer: Markdown fences (also when
split across chunks), chat prose before and after the code, re-basing indentation onto the
selection, tabs for tab-indented documents, line endings, blank lines at both ends; and
`looks_like_code`, the final "is this code at all?" check. Pure and stdlib-only.

Contract, for any split of one model output into chunks: `finish()` is the same (and equals
`sanitize(whole)`), and `emitted` is always a prefix of it. There is no divergence case: text
that might still be dropped is held back, never emitted and retracted. Held back, and until when:

* a line's leading whitespace, until its first other character; line breaks, until more
  non-blank text follows (so trailing blank lines never reach the buffer);
* a line that could still be a fence (only backticks/tildes so far), until it cannot be;
* before the first code line, a line that could be prose, until its first word or a code
  character (``= ; { } [ ] < >``, a call paren) rules prose out, else until its end; a
  prose-like line without final punctuation, until the next line shows whether a fence follows;
* in unfenced code after a blank line, prose-like lines and column-0 fences (an epilogue such as
  "Usage:" plus an example block): released when a code line follows, dropped at end of stream.
  That is how trailing prose goes without retraction; the price is lag on a prose-like
  paragraph inside code (e.g. a column-0 docstring paragraph) until the next code line.

Limits: a column-0 fence line inside fenced code closes it (CommonMark; models use a longer
fence when the code contains one); inside a fence that never closes, everything is code. With
`use_tabs`, spaces per tab is the smallest indentation step (2-8) seen before the first line that
needs converting (else 4) and is then fixed, so emitted text never changes. Only
column-0 lines can be prose, but a selection that is itself prose (a comment or docstring body)
should be sanitized with ``language="plaintext"``, which turns prose detection off.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass


@dataclass(frozen=True)
class SanitizerOptions:
    """What the sanitizer must know about the document and the selection being rewritten."""

    base_indent: str = ""  # leading whitespace of the selection's first non-blank line
    line_ending: str = "\n"  # the document's line ending: "\n" or "\r\n"
    trailing_newline: bool = True  # the original selection ended with a line break
    use_tabs: bool = False  # the document indents with tabs
    language: str = ""  # LSP language id, e.g. "python"


# Languages whose content is prose: no prose detection, and only a fence naming the document's
# own kind (or none) is taken as a wrapper; fences further down are content.
_PROSE_LANGUAGES = frozenset(
    {"markdown", "plaintext", "text", "restructuredtext", "rst", "latex", "tex", "asciidoc"}
    | {"org", "git-commit"}
)
_WRAPPER_INFOS = frozenset({"markdown", "md", "text", "txt", "plaintext"})
_KEY_VALUE_LANGUAGES = frozenset({"yaml", "dockercompose", "github-actions-workflow"})
# Case-sensitive: prose starts with an uppercase letter, so only capitalized keywords matter.
_KEYWORDS = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "WITH", "FROM", "WHERE"}
    | {"Dim", "Sub", "Function", "End", "Imports", "Namespace", "Module", "Option", "Public"}
    | {"Private", "Protected", "Friend"}
)
_OPENERS_ANY_CASE = frozenset({"here", "here's", "heres", "sure", "certainly", "below"})
_OPENERS_CAPITALIZED = frozenset(
    {"i", "i'll", "i've", "i'm", "i'd", "okay", "ok", "absolutely", "alright", "of"}
)
_ENDS = (".", ":", "!", "?")
_WIDE_ENDS = ("：", "。", "！", "？")  # noqa: RUF001 - full-width punctuation ends CJK prose
_FORBIDDEN = re.compile(r"[=(){}\[\];<>]")
_DECISIVE = re.compile(r"[=;{}\[\]<>]|(?<=\S)\(")  # code chars no span/parenthetical excuses
_SPAN = re.compile(r"`[^`]*`")
_PAREN = re.compile(r"(?<=\s)\([^()=;{}\[\]<>`]*\)")  # an English "(aside)"
_BULLET = re.compile(r"(?:[-*+•]|\d{1,3}[.)])\s+\S")
_YAML_KEY = re.compile(r"[\w-]+:(?:\s|$)")
_IDENT = re.compile(r"\w+")
_WORD_END = re.compile(r"\s")
_FENCE = re.compile(r"([ \t]*)(`{3,}|~{3,})(.*)")
_MAX_PROSE = 2000  # longer lines are never prose
_MAX_WORD = 40  # a longer first word is never prose
_MAX_FENCE = 200  # longer lines are never fences

_CODE, _MAYBE, _PROSE = 0, 1, 2  # a line's verdict; MAYBE = prose only if a fence follows
_TOP, _TOP_AFTER_PROSE, _TRAILING = 0, 1, 2  # where a line sits
_MODE_TOP, _MODE_FENCED, _MODE_CODE, _MODE_DONE = 0, 1, 2, 3


def _is_opener(word: str) -> bool:
    key = word.replace("\u2019", "'").rstrip(",.!:").lower()
    return key in _OPENERS_ANY_CASE or (word[0].isupper() and key in _OPENERS_CAPITALIZED)


def _is_keyword(word: str) -> bool:
    m = _IDENT.match(word)
    return m is not None and m.group() in _KEYWORDS


def _clean(text: str) -> bool:
    """No code characters outside `inline code` spans and English (asides)."""
    return not _FORBIDDEN.search(_PAREN.sub("", _SPAN.sub("", text)))


def _prose_kind(line: str, ctx: int, keys_are_code: bool = False) -> int:
    """Classify one complete line (without its line break) as code, maybe-prose or prose."""
    if not line or line[0].isspace() or len(line) > _MAX_PROSE:
        return _CODE
    if keys_are_code and _YAML_KEY.match(line):
        return _CODE
    text = line.rstrip()
    bullet = _BULLET.match(text)
    if bullet and ctx != _TOP:
        body = text[bullet.end() - 1 :]
        if len(body.split()) < 2 or not _clean(body):
            return _CODE
        if _YAML_KEY.match(body) and not body.endswith((".", "!", "?")):
            return _CODE
        return _PROSE if ctx == _TRAILING else _MAYBE
    words = text.split()
    first = words[0]
    if len(first) > _MAX_WORD:
        return _CODE
    if _is_opener(first):
        if text.endswith(_ENDS):
            return _PROSE
        return _MAYBE if len(words) >= 3 else _CODE
    if not first[0].isalpha() or first[0].islower() or _is_keyword(first):
        return _CODE
    if not _clean(text):
        return _CODE
    if text.endswith(_WIDE_ENDS):
        return _PROSE
    if len(words) < 3:
        return _PROSE if ctx == _TRAILING and text.endswith(":") else _CODE
    return _PROSE if text.endswith(_ENDS) else _MAYBE


def _could_be_prose(p: str, ctx: int, scanned: int) -> bool:
    """False only if no completion of the partial line `p` can be (maybe-)prose.

    `p[:scanned]` is known to hold no decisive code character, so only the rest is scanned.
    """
    if p[0].isspace() or len(p) > _MAX_PROSE:
        return False
    if ctx != _TOP and (p[0] in "-*+•" or p[0].isdigit()):
        return True
    cut = _WORD_END.search(p, 0, _MAX_WORD + 1)
    first = p[: cut.start()] if cut else p[: _MAX_WORD + 1]
    if len(first) > _MAX_WORD or not first[0].isalpha():
        return False
    if cut:
        if _is_opener(first):
            return True
        if first[0].islower() or _is_keyword(first):
            return False
    elif first[0].islower():
        key = first.replace("\u2019", "'").rstrip(",.!:").lower()
        if not any(opener.startswith(key) for opener in _OPENERS_ANY_CASE):
            return False
    tick = p.find("`")
    return not _DECISIVE.search(p, max(0, scanned - 1), tick if tick >= 0 else len(p))


def _fence(line: str, indent_ok: bool) -> re.Match[str] | None:
    """Match a fence line: groups are indentation, the backtick/tilde run, the info string."""
    if len(line) > _MAX_FENCE:
        return None
    m = _FENCE.fullmatch(line)
    if m is None or (m[1] and not indent_ok) or (m[2][0] == "`" and "`" in m[3]):
        return None
    return m


def _could_be_fence(p: str, indent_ok: bool) -> bool:
    if len(p) > _MAX_FENCE:
        return False
    rest = p.lstrip(" \t") if indent_ok else p
    if not rest:
        return True
    char = rest[0]
    if char not in "`~":
        return False
    run = len(rest) - len(rest.lstrip(char))
    return run == len(rest) or (run >= 3 and not (char == "`" and "`" in rest[run:]))


class StreamSanitizer:
    """Feed model text deltas in; get back the text to append to the buffer (see module doc)."""

    def __init__(self, options: SanitizerOptions) -> None:
        self._opts = options
        language = options.language.lower()
        self._prose_on = language not in _PROSE_LANGUAGES
        self._wrappers = None if self._prose_on else _WRAPPER_INFOS | {language}
        self._keys = language in _KEY_VALUE_LANGUAGES  # "Key: Some sentence." is code
        self._cr = False  # the last chunk ended in "\r"
        # Line stage: which lines are code.
        self._mode = _MODE_TOP
        self._parts: list[str] = []  # held text of the current line
        # Its length, whether it is whitespace only, and how much of it holds no code character.
        self._held, self._held_blank, self._scanned = 0, True, 0
        self._committed = False  # the current line is code and streams straight through
        self._pending: list[str] = []  # top: maybe-prose lines (and blanks after them)
        self._after_prose = False
        self._fence_indent, self._fence_char, self._fence_len = 0, "`", 3
        self._prev_blank = False
        self._tail: list[str] = []  # unfenced code: held epilogue (prose, example blocks)
        self._tail_inside = False  # the epilogue is inside a fenced example block
        # Layout stage: indentation, blank lines, line endings.
        self._started, self._out_base, self._at_line_start = False, "", True
        self._ws: list[str] = []  # held indentation of the current line
        self._newlines = 0  # held line breaks
        self._prev_width: int | None = None  # indentation width of the previous line
        self._step: int | None = None  # smallest indentation step seen
        self._unit: int | None = None  # spaces per tab, fixed at the first conversion
        self._out: list[str] = []  # everything laid out
        self._delta: list[str] = []  # laid out during the current feed()
        self._fed: list[str] = []  # returned by feed()
        self._final: str | None = None

    @property
    def emitted(self) -> str:
        """Everything returned by `feed()` so far, concatenated."""
        if len(self._fed) > 1:
            self._fed[:] = ["".join(self._fed)]
        return self._fed[0] if self._fed else ""

    def feed(self, chunk: str) -> str:
        """Consume a text delta; return the new stable text to append (may be "")."""
        if self._final is not None:
            raise RuntimeError("feed() after finish()")
        if self._cr:
            chunk, self._cr = "\r" + chunk, False
        if chunk.endswith("\r"):
            chunk, self._cr = chunk[:-1], True
        if "\r" in chunk:
            chunk = chunk.replace("\r\n", "\n").replace("\r", "\n")
        self._lines(chunk)
        delta = "".join(self._delta)
        self._delta.clear()
        if delta:
            self._fed.append(delta)
        return delta

    def finish(self) -> str:
        """End of stream: return the complete final text (not a delta). Idempotent."""
        if self._final is not None:
            return self._final
        if self._cr:
            self._lines("\n")
        if self._committed:
            self._committed = False
        elif self._held and self._mode != _MODE_DONE:
            self._line(self._take_line())
        if self._mode == _MODE_TOP and self._pending:
            self._to_code()  # maybe-prose with no fence after it is code
        text = "".join(self._out)
        if self._started and self._opts.trailing_newline:
            text += self._opts.line_ending
        self._final = text
        return text

    # -- line stage ------------------------------------------------------------------------

    def _lines(self, text: str) -> None:
        pos, n = 0, len(text)
        while pos < n:
            nl = text.find("\n", pos)
            end = n if nl < 0 else nl
            if end > pos:
                if self._committed:
                    self._layout(text[pos:end])
                elif self._mode != _MODE_DONE:
                    piece = text[pos:end]
                    self._parts.append(piece)
                    self._held += end - pos
                    if self._held_blank and piece.strip(" \t"):
                        self._held_blank = False
                    if nl < 0:
                        self._partial()
            if nl < 0:
                return
            if self._committed:
                self._committed = False
                self._prev_blank = False
                self._layout("\n")
            elif self._mode != _MODE_DONE:
                self._line(self._take_line())
            pos = nl + 1

    def _take_line(self) -> str:
        line = "".join(self._parts)
        self._parts.clear()
        self._held, self._held_blank, self._scanned = 0, True, 0
        return line

    def _partial(self) -> None:
        """Stream the held partial line now if no completion of it can be dropped."""
        mode = self._mode
        if self._held_blank or (mode == _MODE_CODE and self._tail_inside):
            return
        p = ""
        if self._held <= _MAX_PROSE:
            p = "".join(self._parts)
            self._parts[:] = [p]
        if mode == _MODE_FENCED:
            hold = bool(p) and self._could_close(p)
        elif mode == _MODE_TOP:
            ctx = _TOP_AFTER_PROSE if self._after_prose or self._pending else _TOP
            hold = bool(p) and (_could_be_fence(p, True) or self._could_prose(p, ctx))
        else:
            hold = bool(p) and (
                (self._prose_on and _could_be_fence(p, False))
                or ((self._prev_blank or bool(self._tail)) and self._could_prose(p, _TRAILING))
            )
        if hold:
            return
        if mode == _MODE_TOP:
            self._to_code()
        elif self._tail:
            self._release_tail()
        self._committed = True
        self._layout(self._take_line())

    def _could_prose(self, p: str, ctx: int) -> bool:
        if not self._prose_on or not _could_be_prose(p, ctx, self._scanned):
            return False
        self._scanned = len(p)
        return True

    def _kind(self, line: str, ctx: int) -> int:
        return _prose_kind(line, ctx, self._keys)

    def _could_close(self, p: str, complete: bool = False) -> bool:
        """Could `p` (or, if `complete`, is it) the fence line that closes the code block?"""
        body = p.lstrip(" \t")
        if len(p) > _MAX_FENCE or len(p) - len(body) > self._fence_indent:
            return False
        run = len(body) - len(body.lstrip(self._fence_char))
        rest = body[run:]
        if rest.strip(" \t"):
            return False
        return run >= self._fence_len or (not rest and not complete)

    def _line(self, line: str) -> None:
        """Route one complete line (no line break) that was held until its end."""
        blank = not line.strip(" \t")
        if self._mode == _MODE_FENCED:
            if self._could_close(line, complete=True):
                self._mode = _MODE_DONE
            else:
                self._layout(line + "\n")
        elif self._mode == _MODE_TOP:
            self._top_line(line, blank)
        elif self._tail:
            self._tail_line(line, blank)
        elif blank:
            self._layout("\n")
            self._prev_blank = True
        elif self._prose_on and (fence := _fence(line, False)):
            self._tail, self._tail_inside = [line], bool(fence[3].strip())
        elif self._prose_on and self._prev_blank and self._kind(line, _TRAILING) != _CODE:
            self._tail, self._tail_inside = [line], False
        else:
            self._layout(line + "\n")
            self._prev_blank = False

    def _top_line(self, line: str, blank: bool) -> None:
        if blank:
            if self._pending:
                self._pending.append("")
            return
        fence = _fence(line, True)
        info = (fence[3].split() or [""])[0].lower() if fence else ""
        if fence and (self._wrappers is None or info in self._wrappers):
            self._mode, self._pending = _MODE_FENCED, []
            self._fence_indent, self._fence_char = len(fence[1]), fence[2][0]
            self._fence_len = len(fence[2])
            return
        kind = _CODE
        if self._prose_on:
            ctx = _TOP_AFTER_PROSE if self._after_prose or self._pending else _TOP
            kind = self._kind(line, ctx)
        if kind == _PROSE:
            self._pending, self._after_prose = [], True
        elif kind == _MAYBE:
            self._pending.append(line)
        else:
            self._to_code()
            self._layout(line + "\n")

    def _tail_line(self, line: str, blank: bool) -> None:
        fence = None if blank else _fence(line, False)
        if fence:
            self._tail_inside = bool(fence[3].strip()) if self._tail_inside else True
        elif not (blank or self._tail_inside or self._kind(line, _TRAILING) != _CODE):
            self._release_tail()
            self._layout(line + "\n")
            self._prev_blank = False
            return
        self._tail.append(line)

    def _to_code(self) -> None:
        self._mode = _MODE_CODE
        for line in self._pending:
            self._layout(line + "\n")
        self._pending = []

    def _release_tail(self) -> None:
        for line in self._tail:
            self._layout(line + "\n")
        self._tail, self._tail_inside = [], False

    # -- layout stage ----------------------------------------------------------------------

    def _layout(self, text: str) -> None:
        """Re-indent and emit code text (with "\n" line breaks)."""
        pos, n = 0, len(text)
        while pos < n:
            if self._at_line_start:
                start = pos
                while pos < n and text[pos] in " \t":
                    pos += 1
                if pos > start:
                    self._ws.append(text[start:pos])
                if pos == n:
                    return
                if text[pos] == "\n":
                    self._ws.clear()
                    self._newlines += self._started
                    pos += 1
                    continue
                self._at_line_start = False
                self._start_line("".join(self._ws))
                self._ws.clear()
            nl = text.find("\n", pos)
            end = n if nl < 0 else nl
            if end > pos:
                self._emit(text[pos:end])
            if nl < 0:
                return
            self._newlines += 1
            self._at_line_start = True
            pos = nl + 1

    def _start_line(self, ws: str) -> None:
        opts = self._opts
        if not self._started:
            self._started, self._out_base, rel, head = True, ws, "", ""
        else:
            head = opts.line_ending * self._newlines
            rel = ws[len(self._out_base) :] if ws.startswith(self._out_base) else ws
        self._newlines = 0
        width = len(ws) if not ws.strip(" ") else None
        if width is not None and self._prev_width is not None and self._unit is None:
            step = width - self._prev_width
            if 2 <= step <= 8 and (self._step is None or step < self._step):
                self._step = step
        self._prev_width = width
        if opts.use_tabs and " " in rel:
            if self._unit is None:
                self._unit = self._step or 4
            rel = rel.replace(" " * self._unit, "\t")
        self._emit(head + opts.base_indent + rel)

    def _emit(self, text: str) -> None:
        self._out.append(text)
        self._delta.append(text)


def sanitize(text: str, options: SanitizerOptions) -> str:
    """Sanitize a complete model output (same result as streaming it in any chunks)."""
    sanitizer = StreamSanitizer(options)
    sanitizer.feed(text)
    return sanitizer.finish()


def looks_like_code(text: str, language: str) -> bool:
    """False for empty text, all-prose text, and (Python) unparsable text carrying chat marks.

    Conservative: a Python syntax error alone is not enough (the selection may be a fragment,
    or the model's code merely broken); it must come with a prose line or a fence line.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return False
    if language.lower() in _PROSE_LANGUAGES:
        return True
    keys = language.lower() in _KEY_VALUE_LANGUAGES
    if all(_prose_kind(line, _TRAILING, keys) != _CODE for line in lines):
        return False
    if language.lower() != "python" or _python_parses(text):
        return True
    return not any(_prose_kind(line, _TRAILING) == _PROSE or _fence(line, True) for line in lines)


def _python_parses(text: str) -> bool:
    """Does the text parse, after dedent and trivial completions of a cut-out fragment?"""
    source = textwrap.dedent(text)
    first = _IDENT.match(source.lstrip())
    head = ""
    if first and first.group() in ("elif", "else"):
        head = "if 1:\n    pass\n"
    elif first and first.group() in ("except", "finally"):
        head = "try:\n    pass\n"
    last = source.rstrip().rsplit("\n", 1)[-1]
    tail = ""
    if last.rstrip().endswith(":"):
        tail = "\n" + last[: len(last) - len(last.lstrip())] + "    pass\n"
    for candidate in (source, head + source.strip("\n") + tail):
        try:
            ast.parse(candidate)
            return True
        except SyntaxError:
            continue
        except (ValueError, RecursionError, MemoryError):
            return True  # cannot tell: err on the side of code
    return False
