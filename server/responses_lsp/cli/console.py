"""What the commands print and how they end: exit codes, one-line errors with a hint,
colour, unified diffs and the progress line on stderr.

Results go to stdout (a diff, the new text, a report); progress and errors go to stderr.
An error is one line plus a hint, never a traceback unless `-v`. Every message passes
through `redaction.redact`, so the API key never reaches the terminal.
Imported only when a subcommand runs (never on the language server's startup path).
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import shutil
import sys
import time
import traceback
import unicodedata
from collections.abc import Callable
from typing import IO, Any

from responses_lsp.logging_setup import setup_stderr_logging
from responses_lsp.redaction import redact

EXIT_OK = 0
"""Success (`apply`: the text changed)."""
EXIT_NO_CHANGE = 1
"""`apply` ran and the text is the same."""
EXIT_USAGE = 2
"""Bad arguments or input (argparse exits with 2 as well)."""
EXIT_API = 3
"""The endpoint or its configuration failed: no key, 401, 403, 404, 429, 5xx, unreachable."""
EXIT_FAILURE = 4
"""Anything else: no code in the answer, the language server failed."""
EXIT_INTERRUPTED = 130
"""Ctrl+C (128 + SIGINT, the shell convention)."""

EXIT_CODES_HELP = """\
exit codes:
  0    success (apply: the text changed)
  1    apply: the action ran and the text did not change
  2    usage error (bad arguments, unreadable file, action not offered here)
  3    API or configuration error (no key, 401, 403, 404, 429, 5xx, endpoint unreachable)
  4    any other failure (no code in the answer, the language server failed)
  130  interrupted (Ctrl+C)"""


class CommandError(Exception):
    """A failure a command reports as one line (plus a hint) and an exit code."""

    def __init__(self, message: str, *, hint: str | None = None, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


def url_argument(text: str) -> str:
    """argparse type of `--base-url`: an http(s) URL."""

    if not text.strip().startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"must start with http:// or https://: {text!r}")
    return text.strip()


def model_argument(text: str) -> str:
    """argparse type of `--model`: a non-empty id."""

    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text.strip()


def _clean(text: str) -> str:
    return redact(text)


def say(text: str = "", *, stream: IO[str] | None = None) -> None:
    """One line to stdout (or `stream`), with secrets masked."""
    out = stream or sys.stdout
    out.write(_clean(text) + "\n")
    out.flush()


def note(text: str) -> None:
    """One line to stderr, with secrets masked."""
    say(text, stream=sys.stderr)


def report_error(command: str, message: str, hint: str | None = None) -> None:
    """`responses-lsp CMD: error: MESSAGE` and an indented hint, on stderr."""
    message = message.removeprefix("responses-lsp: ")
    note(f"responses-lsp {command}: error: {message}")
    if hint:
        note(f"  hint: {hint}")


def setup_logging(verbose: bool) -> None:
    """Library logs (pygls, httpx) on stderr with `-v`, masked; otherwise nowhere."""

    if verbose:
        setup_stderr_logging("info")
    else:
        root = logging.getLogger()
        root.addHandler(logging.NullHandler())  # no "last resort" printing of warnings
        root.setLevel(logging.CRITICAL)


def guarded(command: str, verbose: bool, body: Callable[[], int]) -> int:
    """Run a command's body; turn every way out into a message and an exit code."""

    setup_logging(verbose)
    try:
        return body()
    except CommandError as exc:
        report_error(command, exc.message, exc.hint)
        if verbose and exc.__cause__ is not None:
            note("".join(traceback.format_exception(exc.__cause__)).rstrip())
        return exc.code
    except KeyboardInterrupt:
        note(f"responses-lsp {command}: interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: one line, and the traceback only when asked for
        if verbose:
            note("".join(traceback.format_exception(exc)).rstrip())
        report_error(
            command,
            f"internal error ({type(exc).__name__}: {exc})",
            "run again with -v for the traceback" if not verbose else None,
        )
        return EXIT_FAILURE


def plural(count: int, word: str) -> str:
    """`1 token`, `2 tokens`."""
    return f"{count} {word}{'' if count == 1 else 's'}"


# ------------------------------------------------------------------ colour


def is_terminal(stream: IO[str]) -> bool:
    """A terminal that understands cursor movement (not a pipe, a file or TERM=dumb)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def use_color(stream: IO[str], disabled: bool = False) -> bool:
    """Colour only on a terminal, and never with `--no-color` or $NO_COLOR."""
    return not disabled and not os.environ.get("NO_COLOR") and is_terminal(stream)


class Style:
    """ANSI styles that turn into nothing when colour is off."""

    _CODES = {
        "bold": "1",
        "dim": "2",
        "red": "31",
        "green": "32",
        "yellow": "33",
        "blue": "34",
        "magenta": "35",
        "cyan": "36",
    }

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles or not text:
            return text
        codes = ";".join(self._CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


# ------------------------------------------------------------------ diffs


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split at "\\n" only (form feeds and the like stay inside)."""
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def unified_diff(old: str, new: str, old_label: str, new_label: str, context: int = 3) -> str:
    """A unified diff that `patch`/`git apply` accept (with "\\ No newline at end of file")."""

    out: list[str] = []
    for line in difflib.unified_diff(
        split_lines(old), split_lines(new), old_label, new_label, n=context
    ):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def paint_diff(diff: str, style: Style) -> str:
    """Colour a unified diff the way `git diff` does."""
    if not style.enabled:
        return diff
    painted = []
    for line in diff.splitlines(keepends=True):
        body, end = (line[:-1], "\n") if line.endswith("\n") else (line, "")
        if body.startswith(("---", "+++")):
            painted.append(style(body, "bold") + end)
        elif body.startswith("@@"):
            painted.append(style(body, "cyan") + end)
        elif body.startswith("+"):
            painted.append(style(body, "green") + end)
        elif body.startswith("-"):
            painted.append(style(body, "red") + end)
        else:
            painted.append(line)
    return "".join(painted)


def diff_stat(old: str, new: str) -> tuple[int, int]:
    """(lines added, lines removed)."""
    added = removed = 0
    for line in unified_diff(old, new, "a", "b", context=0).splitlines()[2:]:
        if line.startswith("+"):
            added += 1
        elif line.startswith("-"):
            removed += 1
    return added, removed


# ------------------------------------------------------------------ progress


def display_width(text: str) -> int:
    """Terminal columns of `text` (East Asian wide characters take two)."""

    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def clip(text: str, width: int) -> str:
    """`text` cut to `width` terminal columns (with an ellipsis when cut)."""
    if width <= 0:
        return ""
    if len(text) <= width and display_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = display_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


class StatusLine:
    """A progress line on stderr: redrawn in place on a terminal; elsewhere a line is
    printed only when the kind of status changes (so logs stay short)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = is_terminal(self.stream)
        self._shown = ""
        self._printed = ""
        self._kind: str | None = None

    def update(self, text: str, kind: str = "") -> None:
        text = _clean(text)
        if self.live:
            width = _terminal_width(self.stream)
            self.stream.write("\r\x1b[K" + clip(text, width - 1))
            self.stream.flush()
            self._shown = text
        elif kind != self._kind and text != self._printed:
            self.stream.write(text + "\n")
            self.stream.flush()
            self._printed = text
        self._kind = kind

    def clear(self) -> None:
        if self.live and self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        self._shown = ""

    def print(self, text: str) -> None:
        """A permanent line above the status."""
        shown = self._shown
        self.clear()
        note(text)
        if shown and self.live:
            self.update(shown, self._kind or "")


def _terminal_width(stream: Any) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        columns = 0
    return columns or shutil.get_terminal_size().columns  # 0: a pty without a size


class Rate:
    """Tokens per second, measured between the first and the latest observation."""

    def __init__(self) -> None:
        self._first: tuple[float, int] | None = None
        self._last: tuple[float, int] | None = None

    @property
    def tokens(self) -> int:
        return self._last[1] if self._last else 0

    def update(self, tokens: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if tokens <= self.tokens:
            return
        if self._first is None:
            self._first = (now, tokens)
        self._last = (now, tokens)

    @property
    def per_second(self) -> float:
        if self._first is None or self._last is None:
            return 0.0
        elapsed = self._last[0] - self._first[0]
        return (self._last[1] - self._first[1]) / elapsed if elapsed >= 0.1 else 0.0


# ------------------------------------------------------------------ job results

CHECK_HINT = "run `responses-lsp check` to test the endpoint, the model and the key"

# Refusals a job ends with before it asks the model (jobs.py), and what they mean here.
_REFUSALS: tuple[tuple[str, int, str | None], ...] = (
    ("unknown action", EXIT_USAGE, "`responses-lsp apply --help` lists the built-in actions"),
    ("secrets file", EXIT_USAGE, None),
    ("needs an instruction", EXIT_USAGE, "pass --instruction TEXT"),
    ("nothing to rewrite here", EXIT_USAGE, "choose lines that contain code"),
    ("API key is missing", EXIT_API, CHECK_HINT),
    ("internal error", EXIT_FAILURE, "run again with -v to see the server's log"),
    ("already running", EXIT_FAILURE, None),
    ("not open", EXIT_FAILURE, None),
)


def job_error(result: dict[str, Any]) -> CommandError:
    """The error for a job that did not apply (see `JobResult.as_json`)."""
    outcome = str(result.get("outcome") or "error")
    message = str(result.get("message") or f"the action ended with outcome {outcome!r}")
    kind = result.get("errorKind")
    if outcome == "error":
        if kind in ("api", "config"):
            return CommandError(message, hint=CHECK_HINT, code=EXIT_API)
        for needle, code, hint in _REFUSALS:
            if needle in message:
                return CommandError(message, hint=hint, code=code)
        # Everything else a job reports as an error comes from the endpoint (DESIGN §8).
        return CommandError(message, hint=CHECK_HINT, code=EXIT_API)
    if outcome == "restored":
        return CommandError(message, hint="try again, or rephrase with --instruction")
    return CommandError(message, code=EXIT_FAILURE)
