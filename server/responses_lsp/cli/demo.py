"""`responses-lsp demo`: watch a refactor stream into a file, with no API key.

Starts the loopback Responses server in this process with a scripted, paced reply (the
bundled `demo/weather.py.txt` rewritten as `demo/weather_async.py.txt`), starts the real
language server against it, opens a copy of the example in a temporary directory and runs
"Refactor to async" on it through a real LSP client, exactly as an editor would. The
document is drawn as it changes: on a terminal the rewritten region is redrawn in place
(new text bright, the original still below it dimmed) under a progress line with tokens
and tokens/s; elsewhere the new text is printed as it arrives. Then a coloured diff.
`--real` sends the same request to the configured endpoint instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from typing import IO, Any

from lsprotocol import types as t

from responses_lsp.api.client import endpoint
from responses_lsp.cli.console import (
    EXIT_API,
    EXIT_CODES_HELP,
    EXIT_FAILURE,
    EXIT_OK,
    CommandError,
    Rate,
    StatusLine,
    Style,
    clip,
    display_width,
    guarded,
    is_terminal,
    job_error,
    note,
    paint_diff,
    plural,
    say,
    unified_diff,
    use_color,
)
from responses_lsp.cli.demo_serve import DEMO_KEY, serve
from responses_lsp.cli.lsp_client import (
    Callbacks,
    EditorSession,
    LspClientError,
    Progress,
    ServerExited,
)
from responses_lsp.loopback import LoopbackServer, Reply
from responses_lsp.redaction import mask
from responses_lsp.settings import resolve_settings

DEFAULT_SPEED = 200.0
ACTION = "refactor-to-async"
EXAMPLE = "weather.py"
FRAME_INTERVAL = 1 / 30
"""Seconds between two redraws of the live view on a terminal."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="watch a scripted refactor stream into a file (no API key needed)",
        description=(
            "Run 'Refactor to async' on a bundled example file through the real language\n"
            "server and watch the rewrite stream into the buffer. The model's reply is\n"
            "scripted and served by a local loopback server: no network, no API key."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--real",
        action="store_true",
        help="ask the configured endpoint instead (OPENAI_BASE_URL, OPENAI_API_KEY, "
        "RESPONSES_LSP_MODEL)",
    )
    parser.add_argument(
        "--speed",
        type=_positive,
        default=DEFAULT_SPEED,
        metavar="TOKENS_PER_S",
        help=f"pace of the scripted reply (default: {DEFAULT_SPEED:g})",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="serve the scripted endpoint on 127.0.0.1 for your own editor and print the "
        "settings to use (Ctrl+C stops)",
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="port for --serve (default: 8765; 0 = any free)"
    )
    parser.add_argument("--no-color", action="store_true", help="no ANSI colours")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the server's log")
    parser.add_argument("--output-file", type=Path, help=argparse.SUPPRESS)
    return parser


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 1_000_000:
        raise argparse.ArgumentTypeError("must be a positive number of tokens per second")
    return value


def run(args: argparse.Namespace) -> int:
    if args.serve:
        return guarded("demo", args.verbose, lambda: serve(args))
    return guarded("demo", args.verbose, lambda: asyncio.run(_demo(args)))


def _bundled(name: str) -> str:
    return files("responses_lsp").joinpath("demo", name).read_text(encoding="utf-8")


async def _demo(args: argparse.Namespace) -> int:
    original = _bundled(EXAMPLE + ".txt")
    style = Style(use_color(sys.stdout, args.no_color))
    with tempfile.TemporaryDirectory(prefix="responses-lsp-demo-") as tmp:
        root = Path(tmp)
        path = root / EXAMPLE
        path.write_text(original, encoding="utf-8")
        env = dict(os.environ)
        env["RESPONSES_LSP_LOG"] = "info" if args.verbose else "warning"
        if args.real:
            _intro_real(style)
            final = await _watch(args, root, path, original, env, {}, style)
        else:
            scripted = _bundled("weather_async.py.txt")
            reply = Reply.text(scripted, fence="python", pace_tps=args.speed)
            with LoopbackServer(expected_key=DEMO_KEY, default=reply) as api:
                _intro_scripted(style, args.speed)
                settings = {"baseUrl": api.base_url, "apiKey": DEMO_KEY}
                final = await _watch(args, root, path, original, env, settings, style)
    if args.output_file is not None:
        args.output_file.write_text(final, encoding="utf-8", newline="")
    say(
        style("Next: ", "bold")
        + "`responses-lsp check` tests your endpoint and key; "
        + "`responses-lsp apply --action refactor-to-async FILE:LINE` runs an action on your code."
    )
    return EXIT_OK


def _intro_scripted(style: Style, speed: float) -> None:
    say(style("responses-lsp demo", "bold") + " — the model's reply is scripted.")
    say(
        f"A local loopback server plays a recorded answer at ~{speed:g} tokens/s: "
        "no network, no API key."
    )
    say("Run `responses-lsp demo --real` to ask your configured endpoint instead.")
    say()


def _intro_real(style: Style) -> None:
    """Say which endpoint answers (the settings come from the environment, as for `apply`)."""

    resolved = resolve_settings()
    settings = resolved.settings
    if not resolved.has_key:
        raise CommandError(
            f"no API key: set {settings.api_key_env} (or run the demo without --real)",
            hint="`responses-lsp check` shows what the server would use",
            code=EXIT_API,
        )
    say(style("responses-lsp demo --real", "bold") + " — the model answers for real.")
    say(f"Endpoint {endpoint(settings.base_url, 'responses')}, model {settings.model},")
    say(f"key {mask(resolved.api_key)} from {resolved.key_source}.")
    say()


async def _watch(
    args: argparse.Namespace,
    root: Path,
    path: Path,
    original: str,
    env: dict[str, str],
    settings: dict[str, Any],
    style: Style,
) -> str:
    """Run the action in a real server and draw the document as it changes; the final text."""

    view = LiveView(sys.stdout, style, original, title=f"{EXAMPLE} — Refactor to async (AI)")
    callbacks = Callbacks(
        on_change=lambda doc: view.show(doc.text),
        on_progress=view.progress,
        on_message=view.message,
    )
    settings = {"session": "off", **settings}
    started = time.monotonic()
    try:
        async with EditorSession(
            env=env, root=root, settings=settings, verbose=args.verbose, callbacks=callbacks
        ) as editor:
            doc = editor.open(path, original, "python")
            whole = t.Range(start=doc.position(0, 0), end=doc.end())
            say(
                f"The language server has {EXAMPLE} open (a copy, in {root}); like an editor, "
                "this demo selects the whole file and runs “Refactor to async (AI)”:"
            )
            say()
            view.begin()
            result: dict[str, Any] = {}
            try:
                result = await editor.run_action(doc, ACTION, whole)
            finally:
                view.end(result)
            final = doc.text
    except ServerExited as exc:
        tail = "; ".join(exc.details[-3:])
        raise CommandError(str(exc), hint=tail or "run again with -v") from exc
    except LspClientError as exc:
        raise CommandError(str(exc), code=EXIT_FAILURE) from exc
    for message in dict.fromkeys(view.notes):  # warnings the server showed, once each
        if message != result.get("message"):
            note(message)
    if result.get("outcome") != "applied":
        raise job_error(result)
    seconds = time.monotonic() - started
    say(
        style("✓ ", "green", "bold")
        + f"applied in {seconds:.1f} s: {plural(int(result.get('tokens', 0)), 'token')} "
        "streamed into the "
        f"buffer as {result.get('edits', 0)} edits ({_size(int(result.get('editBytes', 0)))})."
    )
    say()
    diff = unified_diff(original, final, f"a/{EXAMPLE}", f"b/{EXAMPLE}")
    sys.stdout.write(paint_diff(diff, style))
    say()
    return final


def _size(count: int) -> str:
    return f"{count} bytes" if count < 2048 else f"{count / 1024:.1f} KB"


# ------------------------------------------------------------------ the live view


class LiveView:
    """Draws the region being rewritten as the editor buffer changes.

    While a job streams, the region holds the new text followed by what is left of the
    original (see `editing.streamer`); the view shows both, the new text bright and the
    original dimmed, scrolled to follow the end of the new text, with a status line.
    """

    def __init__(self, out: IO[str], style: Style, original: str, *, title: str) -> None:
        self.out = out
        self.style = style
        self.original = original
        self.title = title
        self.live = is_terminal(out)  # redraw in place
        self.rate = Rate()
        self.status = StatusLine() if not self.live else None
        self.edits = 0
        self.state = "starting the language server…"
        self.notes: list[str] = []
        self._text = original
        self._height = 0
        self._drawn_at = 0.0
        self._printed = ""  # plain mode: the new text written so far
        self._restarted = False

    # ---- events

    def begin(self) -> None:
        self.state = "asking the model…"
        if self.live:
            self.out.write("\x1b[?25l")  # hide the cursor while animating
            self._draw(force=True)
        elif self.status is not None:
            self.status.update(self.state, "begin")

    def show(self, text: str) -> None:
        self._text = text
        self.edits += 1
        if self.live:
            self._draw()
        else:
            self._print_new()

    def progress(self, progress: Progress) -> None:
        if progress.kind == "end":
            return
        message = progress.message or progress.title
        found = re.search(r"(\d+) tokens?\b", message)
        if found:
            self.rate.update(int(found.group(1)))
            self.state = "streaming"
        elif message:
            self.state = message
        if self.live:
            self._draw()
        elif self.status is not None and not found:
            self.status.update(message, message)

    def message(self, level: int, text: str) -> None:
        if level <= 2:  # errors and warnings
            self.notes.append(text)

    def end(self, result: dict[str, Any]) -> None:
        """The job ended (`result` is empty when it was interrupted)."""
        if self.live:
            self._erase()
            self.out.write("\x1b[?25h")
            self.out.flush()
            return
        applied = result.get("outcome") == "applied"
        if applied:
            self._print_new(final=True)
        elif self._printed:
            self.out.write("\n")
            self.out.flush()
        if self.status is not None and applied:
            self.status.update(f"done: {plural(int(result.get('tokens', 0)), 'token')}", "end")

    # ---- drawing

    def _split(self) -> tuple[str, str]:
        """(new text, original text still below it)."""
        if self.original and self._text.endswith(self.original):
            return self._text[: len(self._text) - len(self.original)], self.original
        return self._text, ""

    def _print_new(self, final: bool = False) -> None:
        new, _old = self._split()
        if final and new == self.original:
            return  # nothing was streamed
        if not new.startswith(self._printed):
            # a retry (the server resets the region) or a restore: say so if text comes again
            self._restarted = bool(self._printed)
            self._printed = ""
            if not new:
                return
        if self._restarted and new:
            self.out.write("\n[the stream restarted]\n")
            self._restarted = False
        chunk = new[len(self._printed) :]
        if final and new and not new.endswith("\n"):
            chunk += "\n"
        if chunk:
            self.out.write(chunk)
            self.out.flush()
        self._printed = new

    def _status_text(self) -> str:
        parts = [self.state]
        if self.rate.tokens:
            parts.append(plural(self.rate.tokens, "token"))
            if self.rate.per_second:
                parts.append(f"{self.rate.per_second:.0f} tok/s")
        if self.edits:
            parts.append(plural(self.edits, "edit"))
        return " · ".join(parts)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn_at < FRAME_INTERVAL:
            return
        self._drawn_at = now
        size = shutil.get_terminal_size()
        new, old = self._split()
        lines = render_frame(
            new,
            old,
            rows=max(6, size.lines - 4),
            cols=size.columns,
            style=self.style,
            title=self.title,
            status=self._status_text(),
        )
        self._erase()
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        self._height = len(lines)

    def _erase(self) -> None:
        if self._height:
            self.out.write(f"\x1b[{self._height}F\x1b[J")
            self._height = 0


def render_frame(
    new: str, old: str, *, rows: int, cols: int, style: Style, title: str, status: str
) -> list[str]:
    """One frame of the live view: a title, numbered lines around the end of the new text
    (new text bright, the original below it dim), and the status line; at most `rows` lines,
    none wider than `cols` columns."""

    new_lines = new.split("\n")
    old_lines = old.split("\n") if old else []
    if old_lines and old_lines[-1] == "":
        old_lines.pop()
    cursor = len(new_lines) - 1
    # the line under the cursor: the new text typed so far, then the rest of that original line
    tail = old_lines.pop(0) if old_lines else None
    if tail is None and new_lines[-1] == "" and cursor > 0:
        new_lines.pop()
        cursor -= 1
    lines = [(line, "new") for line in new_lines] + [(line, "old") for line in old_lines]
    body = max(1, rows - 2)
    start = max(0, min(cursor + 1 + min(4, len(old_lines)) - body, len(lines) - body))
    width = max(10, cols - 8)
    frame = [style(clip(f"── {title} " + "─" * 60, min(cols - 1, 72)), "dim")]
    for index, (line, kind) in enumerate(lines[start : start + body], start):
        bar = "│" if kind == "new" else "┊"
        text = style(clip(line, width), "green" if kind == "new" else "dim")
        if index == cursor and tail is not None:
            room = width - display_width(clip(line, width))
            text += style(clip(tail, room), "dim")
        frame.append(style(f"{index + 1:4} {bar} ", "dim") + text)
    frame.append(style(clip(status, cols - 1), "cyan"))
    return frame
