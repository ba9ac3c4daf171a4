"""Cache-friendly requests (issue 15, item 4), through the real server: consecutive actions of
one session — on files of different languages — start with the same bytes (instructions, the
history, the previous turn's record), the `prompt_cache_key` stays, and the loopback's prefix
cache reports the cached tokens in the action's usage."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import open_session
from tests.loopback import LoopbackServer, Reply

PY = "def fetch(url):\n    return get(url)\n"
PY_CODE = "async def fetch(url):\n    return await get(url)\n"
JS = "function load(url) {\n  return get(url);\n}\n"
JS_CODE = "async function load(url) {\n  return await get(url);\n}\n"
REASONING = {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAB" + "r" * 6000}


def prompt(body: dict[str, object]) -> str:
    """The request as the provider's cache sees it (instructions, tools, input, in order)."""
    return json.dumps([body.get("instructions"), body.get("tools"), body["input"]])


async def test_consecutive_actions_share_the_longest_prefix(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(
        Reply.items([REASONING, {"type": "message", "text": PY_CODE}]),
        Reply.text(JS_CODE),
        Reply.text(PY_CODE),
    )
    async with open_session("neovim", loopback, tmp_path) as s:
        py = s.open("app.py", PY)
        first = await s.run(py, "refactor-to-async", s.span(py, 0, len(PY)))
        assert first["outcome"] == "applied", first
        js = s.open("web.js", JS, "javascript")
        second = await s.run(js, "refactor-to-async", s.span(js, 0, len(JS)))
        assert second["outcome"] == "applied", second
        text = s.editor.text(py)
        third = await s.run(py, "add-type-hints", s.span(py, 0, len(text)))
        assert third["outcome"] == "applied", third
    one, two, three = (r.body for r in loopback.requests)
    assert one["prompt_cache_key"] == two["prompt_cache_key"]
    # the same instructions for Python and JavaScript (the user message names the language)
    assert one["instructions"] == two["instructions"]
    assert "JavaScript" in json.dumps(two["input"][-1])
    # the first request's record comes back first, byte for byte; then its answer, then the
    # second request's record and full message
    record, message = one["input"]
    assert two["input"][0] == record and two["input"][-1] != message
    assert record["content"][0]["text"].startswith("Request: Refactor to async")
    assert len(json.dumps(record)) < len(json.dumps(message)) // 2  # the short form
    shared = len(prompt(one).split(json.dumps(message)[:-1], 1)[0])
    assert prompt(two)[:shared] == prompt(one)[:shared]
    assert three["input"][: len(two["input"]) - 1] == two["input"][:-1]
    # the loopback's prefix cache saw it: the third request starts with the second up to
    # its record, and that is more than 1,024 tokens (the 6 KB reasoning item of the first
    # answer): only the second answer and the new message are new
    assert first["usage"]["cachedInputTokens"] == 0
    assert second["usage"]["cachedInputTokens"] == 0  # instructions + a record: < 1,024
    cached = third["usage"]["cachedInputTokens"]
    assert 1024 <= cached <= len(prompt(two).encode()) // 4
    assert f"({cached:,} cached)" in third["usage"]["text"]
