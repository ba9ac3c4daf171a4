"""`responses-lsp apply`: run one code action on a file, without an editor.

The file is opened in the real language server through a real LSP client (the same
codeAction → executeCommand → applyEdit path as an editor); the endpoint, model and key
come from the environment as for the server (`--base-url`/`--model` override them). By
default a unified diff is printed; `--write` writes the file; `-` reads stdin and prints
the new text (or the diff with `--diff`), so the command fits in pipelines.

What is rewritten: `FILE` alone is the whole file; `FILE:START-END` is lines START to END
(1-based, inclusive); `FILE:START` is a cursor on line START, which the action expands
as an editor would: the enclosing function (or class, for docstrings), or the line block
in languages without a parser.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lsprotocol import types as t

from responses_lsp.cli.buffer import TextBuffer
from responses_lsp.cli.console import (
    CHECK_HINT,
    EXIT_API,
    EXIT_CODES_HELP,
    EXIT_FAILURE,
    EXIT_NO_CHANGE,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    Rate,
    StatusLine,
    Style,
    diff_stat,
    guarded,
    job_error,
    model_argument,
    note,
    paint_diff,
    plural,
    split_lines,
    unified_diff,
    url_argument,
    use_color,
)
from responses_lsp.cli.lsp_client import (
    ActionDisabled,
    ActionNotOffered,
    Callbacks,
    EditorSession,
    LspClientError,
    Progress,
    ServerExited,
)
from responses_lsp.settings import resolve_settings

_TARGET = r"^(?P<path>.+?):(?P<start>\d+)(?:-(?P<end>\d+))?$"

LANGUAGES = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascriptreact",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "typescriptreact",
    ".rs": "rust",
    ".go": "go",
    ".java": "java",
    ".kt": "kotlin",
    ".kts": "kotlin",
    ".swift": "swift",
    ".cs": "csharp",
    ".dart": "dart",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".rb": "ruby",
    ".php": "php",
    ".lua": "lua",
    ".sh": "shellscript",
    ".bash": "shellscript",
    ".sql": "sql",
    ".scala": "scala",
    ".ex": "elixir",
    ".exs": "elixir",
    ".hs": "haskell",
    ".ml": "ocaml",
    ".zig": "zig",
    ".vue": "vue",
    ".svelte": "svelte",
}


_DESCRIPTION = """\
Run one AI code action on a file through the language server, against the
configured endpoint (OPENAI_BASE_URL, OPENAI_API_KEY, RESPONSES_LSP_MODEL).

what is rewritten:
  FILE            the whole file
  FILE:START      the function (or block) around line START, as an editor
                  expands a cursor
  FILE:START-END  lines START to END (1-based, inclusive)
  -               stdin; prints the new text (with --diff: the diff);
                  give its lines with --lines START[-END]

actions: refactor-to-async, add-type-hints, add-docstrings,
  edit-with-instruction (needs --instruction), fix-diagnostics (needs
  --diagnostic), and the custom actions of the settings."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "apply",
        help="run one action on a file (prints a diff; --write writes it)",
        description=_DESCRIPTION,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--action", required=True, metavar="ID", help="the action id")
    parser.add_argument("target", metavar="FILE[:START[-END]]", help="what to rewrite")
    parser.add_argument(
        "--lines", metavar="START[-END]", help="the lines, as after FILE: (needed with -)"
    )
    parser.add_argument("--instruction", metavar="TEXT", help="for edit-with-instruction")
    parser.add_argument(
        "--diagnostic",
        action="append",
        default=[],
        metavar="MESSAGE",
        help="a problem in the range, for fix-diagnostics (repeatable)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--write", action="store_true", help="write the result to FILE")
    output.add_argument(
        "--diff", action="store_true", help="print a unified diff (the default for files)"
    )
    parser.add_argument("--base-url", type=url_argument, metavar="URL", help="endpoint host")
    parser.add_argument("--model", type=model_argument, metavar="MODEL", help="model id")
    parser.add_argument("--language", metavar="ID", help="LSP language id (default: by extension)")
    parser.add_argument(
        "--stdin-filename", metavar="NAME", help="the file name stdin stands for (with -)"
    )
    parser.add_argument("--no-color", action="store_true", help="no ANSI colours in the diff")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show the server's log and tracebacks"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    return guarded("apply", args.verbose, lambda: asyncio.run(_apply(args)))


# ------------------------------------------------------------------ input


class Target:
    """What to rewrite: a path ("-" for stdin) and 1-based lines (`end` inclusive)."""

    def __init__(self, path: str, start: int | None = None, end: int | None = None) -> None:
        self.path = path
        self.start = start
        self.end = end


def parse_target(text: str, lines: str | None = None) -> Target:
    """`FILE`, `FILE:START` or `FILE:START-END` (a file whose name ends like that wins);
    `lines` ("START" or "START-END", from --lines) replaces the suffix."""

    if lines is not None:
        text = f"{text}:{lines}"
        if re.match(_TARGET, text) is None:
            raise CommandError(
                f"bad --lines {lines!r}", hint="--lines START or START-END", code=EXIT_USAGE
            )
    found = re.match(_TARGET, text)
    if found is None or (lines is None and Path(text).exists()):
        _check_suffix(text, lines)
        return Target(text)
    start = int(found["start"])
    end = int(found["end"]) if found["end"] else None
    if start < 1 or (end is not None and end < start):
        raise CommandError(
            f"bad line range in {text!r}",
            hint="lines are 1-based: FILE:START or FILE:START-END with START <= END",
            code=EXIT_USAGE,
        )
    return Target(found["path"], start, end)


def _check_suffix(text: str, lines: str | None) -> None:
    """`app.py:abc` (no such file, but `app.py` exists) is a mistyped line range, not a
    file name: say so instead of "cannot read app.py:abc"."""

    path, colon, suffix = text.rpartition(":")
    if lines is not None or not colon or not path or Path(text).exists():
        return
    if Path(path).is_file():
        raise CommandError(
            f"bad line range {suffix!r} in {text!r}",
            hint="FILE, FILE:START or FILE:START-END, lines 1-based (e.g. app.py:12-30)",
            code=EXIT_USAGE,
        )


def not_offered(action_id: str, offered: Sequence[str], language: str) -> Exception:
    """The usage error for an action the menu does not show, with a "did you mean"."""

    listed = ", ".join(offered) or "none"
    close = difflib.get_close_matches(action_id, list(offered), n=1, cutoff=0.6)
    if action_id == "fix-diagnostics":
        close = []  # a real action, offered only with diagnostics
    elif not close:
        close = [o for o in offered if action_id and action_id.lower() in o.lower()][:1]
    hint = "fix-diagnostics needs --diagnostic; --language sets the language"
    if close:
        hint = f"did you mean --action {close[0]}?"
    return CommandError(
        f"the action {action_id!r} is not offered for this {language} file "
        f"(offered here: {listed})",
        hint=hint,
        code=EXIT_USAGE,
    )


def guess_language(name: str) -> str:
    return LANGUAGES.get(Path(name).suffix.lower(), "plaintext")


def _read(target: Target, args: argparse.Namespace) -> tuple[str, Path, str]:
    """(text, the path the document stands for, how to name it in messages)."""

    if target.path == "-":
        if args.write:
            raise CommandError("--write needs a file, not stdin", code=EXIT_USAGE)
        data = sys.stdin.buffer.read()
        name = args.stdin_filename or "stdin"
        path = Path.cwd() / name
        display = name
    else:
        path = Path(target.path)
        display = target.path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(
                f"cannot read {display}: {exc.strerror or exc}", code=EXIT_USAGE
            ) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError(f"{display} is not UTF-8 text", code=EXIT_USAGE) from exc
    return text, path, display


def _root(path: Path) -> Path:
    """The workspace folder: the current directory when the file is inside it."""
    cwd = Path.cwd()
    resolved = path.absolute()
    return cwd if resolved.is_relative_to(cwd) else resolved.parent


def check_lines(text: str, target: Target, display: str) -> None:
    """A usage error when the target's lines are not in the file."""

    last = target.end if target.end is not None else target.start
    count = len(split_lines(text.replace("\r\n", "\n").replace("\r", "\n")))
    if last is not None and last > max(count, 1):
        raise CommandError(
            f"line {last} is past the end of {display} ({count} lines)", code=EXIT_USAGE
        )


def selection(doc: TextBuffer, target: Target) -> t.Range:
    """The range the editor would send: whole lines, a cursor, or the whole file."""

    if target.start is None:
        return t.Range(start=doc.position(0, 0), end=doc.end())
    if target.end is None:
        cursor = doc.first_non_blank(target.start - 1)
        return t.Range(start=cursor, end=cursor)
    end = doc.position(target.end, 0) if target.end < doc.line_count else doc.end()
    return t.Range(start=doc.position(target.start - 1, 0), end=end)


# ------------------------------------------------------------------ the run


async def _apply(args: argparse.Namespace) -> int:
    target = parse_target(args.target, args.lines)
    text, path, display = _read(target, args)
    check_lines(text, target, display)
    language = args.language or guess_language(args.stdin_filename or path.name)
    overrides: dict[str, Any] = {}
    if args.base_url:
        overrides["baseUrl"] = args.base_url
    if args.model:
        overrides["model"] = args.model
    resolved = resolve_settings(init_options=overrides)  # also registers the key for masking
    if not resolved.has_key:
        raise CommandError(
            f"no API key: set {resolved.settings.api_key_env} in the environment",
            hint=CHECK_HINT,
            code=EXIT_API,
        )

    status = StatusLine()
    rate = Rate()
    edits = 0
    label = f"{args.action} on {display}"

    def on_progress(progress: Progress) -> None:
        if progress.kind == "end":
            return
        message = progress.message or progress.title
        found = re.search(r"(\d+) tokens?\b", message)
        if found:
            rate.update(int(found.group(1)))
            speed = f" · {rate.per_second:.0f} tok/s" if rate.per_second else ""
            counts = f"{plural(rate.tokens, 'token')}{speed} · {plural(edits, 'edit')}"
            status.update(f"{label}: {counts}", "streaming")
        elif message:
            status.update(f"{label}: {message}", message)

    def on_change(_doc: TextBuffer) -> None:
        nonlocal edits
        edits += 1

    heard: list[str] = []
    env = dict(os.environ)
    env["RESPONSES_LSP_LOG"] = "info" if args.verbose else "warning"
    settings = {"session": "off", **overrides}
    callbacks = Callbacks(
        on_change=on_change,
        on_progress=on_progress,
        on_message=lambda level, message: heard.append(message) if level <= 2 else None,
    )
    started = time.monotonic()
    status.update(f"{label}: starting the language server…", "start")
    try:
        async with EditorSession(
            env=env, root=_root(path), settings=settings, verbose=args.verbose, callbacks=callbacks
        ) as editor:
            doc = editor.open(path, text, language)
            rng = selection(doc, target)
            diagnostics = [
                t.Diagnostic(range=rng, message=m, severity=t.DiagnosticSeverity.Error)
                for m in args.diagnostic
            ]
            status.update(f"{label}: asking the model…", "asking")
            result = await editor.run_action(
                doc, args.action, rng, instruction=args.instruction, diagnostics=diagnostics
            )
            new_text = doc.text
    except ActionNotOffered as exc:
        raise not_offered(exc.action_id, exc.offered, language) from exc
    except ActionDisabled as exc:
        raise CommandError(exc.reason, hint=CHECK_HINT, code=EXIT_API) from exc
    except ServerExited as exc:
        raise CommandError(
            str(exc), hint="; ".join(exc.details[-3:]) or "run again with -v", code=EXIT_FAILURE
        ) from exc
    except LspClientError as exc:
        raise CommandError(str(exc), code=EXIT_FAILURE) from exc
    finally:
        status.clear()

    outcome = result.get("outcome")
    final_message = str(result.get("message") or "")
    for message in dict.fromkeys(heard):
        if message != final_message:
            note(message)
    if outcome != "applied":
        raise job_error(result)
    seconds = time.monotonic() - started
    summary = f"{label}: {plural(int(result.get('tokens', 0)), 'token')} in {seconds:.1f} s"
    check = result.get("check")
    if check in ("checked", "repaired", "kept"):  # kept: the warning was noted above
        summary += f"; {check}" if check != "kept" else "; kept with syntax errors"
    usage = result.get("usage")
    if isinstance(usage, dict) and usage.get("text"):
        summary += f" · {usage['text']}"
    if new_text == text:
        note(f"{summary}; no change")
        if target.path == "-" and not args.diff:
            sys.stdout.write(text)
            sys.stdout.flush()
        return EXIT_NO_CHANGE
    _output(args, target, path, display, text, new_text, summary)
    return EXIT_OK


def _output(
    args: argparse.Namespace,
    target: Target,
    path: Path,
    display: str,
    old: str,
    new: str,
    summary: str,
) -> None:
    added, removed = diff_stat(old, new)
    if args.write:
        _write(path, new)
        note(f"{summary}; wrote {display} (+{added} -{removed} lines)")
        return
    note(f"{summary}; +{added} -{removed} lines")
    if target.path == "-" and not args.diff:
        sys.stdout.write(new)
    else:
        name = display.lstrip("/")
        diff = unified_diff(old, new, f"a/{name}", f"b/{name}")
        sys.stdout.write(paint_diff(diff, Style(use_color(sys.stdout, args.no_color))))
    sys.stdout.flush()


def _write(path: Path, text: str) -> None:
    """Replace the file atomically, keeping its permissions."""

    try:
        mode = path.stat().st_mode & 0o7777
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(text.encode("utf-8"))
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise CommandError(
            f"cannot write {path}: {exc.strerror or exc}", code=EXIT_FAILURE
        ) from exc
