"""`responses-lsp demo --serve`: the scripted demo endpoint for your own editor, no key.

Serves the loopback Responses endpoint on 127.0.0.1 and prints the settings that point an
editor's server at it. Its "model" answers every action from the request itself, so what
you see in the editor is the server's real streaming, undo and cancel behaviour on your
own code: "Refactor to async" makes the selection's functions `async` (and `time.sleep`
an awaited `asyncio.sleep`); any other action adds a comment line saying it was scripted.
Multi-file actions get a plain text answer and change nothing. Ctrl+C stops it.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading

from responses_lsp.loopback import LoopbackServer, RecordedRequest, Reply

DEMO_KEY = "sk-demo-loopback-not-a-real-key"
"""The key the demo's loopback server expects (it is not a secret)."""

_SELECTION = re.compile(r"<(selection(?:-\d+)?)>\n(.*?)</\1>", re.DOTALL)
_LINE_COMMENT = {
    "python": "#",
    "ruby": "#",
    "shell": "#",
    "lua": "--",
    "sql": "--",
    "haskell": "--",
}
_NOTE = "edited by the responses-lsp demo (a scripted reply, not a model)"


def _user_text(body: dict[str, object]) -> str:
    texts: list[str] = []
    items = body.get("input")
    for item in items if isinstance(items, list) else []:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, list):
            texts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        elif isinstance(content, str):
            texts.append(content)
    return "\n".join(texts)


def scripted_rewrite(prompt: str, language: str = "python") -> str | None:
    """The demo "model": the selection of `prompt`, rewritten as its task asks; None when
    the prompt has no selection."""
    matches = list(_SELECTION.finditer(prompt))
    if not matches:
        return None
    found = matches[-1]  # the user's selection comes after the context
    code = found.group(2)
    task = prompt[: found.start()].lower()
    if "async" in task:
        code = re.sub(r"^(\s*)def ", r"\1async def ", code, flags=re.MULTILINE)
        code = code.replace("time.sleep(", "await asyncio.sleep(")
        return code
    indent = re.match(r"[ \t]*", code)
    lead = indent.group(0) if indent else ""
    mark = _LINE_COMMENT.get(language, "//")
    return f"{lead}{mark} {_NOTE}\n{code}"


def _respond(request: RecordedRequest, pace: float) -> Reply:
    body = request.body or {}
    prompt = _user_text(body)
    found = re.search(r"^File: .* \(([^)]*)\)$", prompt, re.MULTILINE)
    language = found.group(1).lower() if found else "python"
    text = scripted_rewrite(prompt, language)
    if text is None:
        return Reply.text("The demo endpoint only rewrites selections.", pace_tps=pace)
    return Reply.text(text, pace_tps=pace)


def settings_text(base_url: str) -> str:
    """What to tell the user: the settings, the environment, and where they go."""
    settings = {"responsesLsp": {"baseUrl": base_url, "apiKey": DEMO_KEY}}
    return "\n".join(
        [
            f"Serving the scripted demo endpoint on {base_url} (no network, no key; Ctrl+C stops).",
            "",
            "Start your editor's responses-lsp with this environment:",
            f"  OPENAI_BASE_URL={base_url} OPENAI_API_KEY={DEMO_KEY}",
            "or with these settings (initializationOptions / workspace configuration):",
            "  " + json.dumps(settings),
            "",
            "VS Code: set responsesLsp.baseUrl to the URL above and run 'Responses LSP: Set API",
            f"Key' with {DEMO_KEY}. Neovim: `OPENAI_BASE_URL={base_url} "
            f"OPENAI_API_KEY={DEMO_KEY} nvim app.py`.",
            "Then select a function and open the code-action menu.",
        ]
    )


def serve(args: argparse.Namespace) -> int:
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    server = LoopbackServer("127.0.0.1", args.port, expected_key=DEMO_KEY)
    server.responder = lambda request: _respond(request, args.speed)
    with server:
        sys.stdout.write(settings_text(server.base_url) + "\n")
        sys.stdout.flush()
        try:
            while not done.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0
