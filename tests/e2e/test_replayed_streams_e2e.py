"""Through the real server: streams in other implementations' shapes (tests/fixtures/streams),
a gateway that rejects freeform tools, and progress across retries (issue 11)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.e2e.conftest import open_session
from tests.loopback import LoopbackServer, Reply

STREAMS = Path(__file__).resolve().parents[1] / "fixtures" / "streams"
SHOP = Path(__file__).parent / "fixtures" / "shop"
SOURCE = "def fetch(url):\n    return get(url)\n"
CODE = "async def fetch(url):\n    return await get(url)\n"


def replay(name: str) -> Reply:
    body = (STREAMS / name).read_bytes()
    return Reply.raw_frames([p + b"\n\n" for p in body.split(b"\n\n") if p.strip()])


async def test_an_answer_only_in_output_item_done_is_applied(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    # issue 11: "the model's answer contained no code" (the Codex fixtures' shape)
    loopback.script(replay("codex_done_only.sse"))
    async with open_session("vscode", loopback, tmp_path) as s:
        uri = s.open("app.py", SOURCE)
        result = await s.run(uri, "refactor-to-async", s.span(uri, 0, len(SOURCE)))
        assert result["outcome"] == "applied", result
        assert s.editor.text(uri) == CODE


async def test_llama_stack_answers_stay_in_the_session(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    # issue 11: no output_item.* events -> the model's earlier answers were lost
    loopback.script(replay("llama_stack_text.sse"), Reply.text(CODE))
    async with open_session("neovim", loopback, tmp_path) as s:
        uri = s.open("app.py", SOURCE)
        first = await s.run(uri, "refactor-to-async", s.span(uri, 0, len(SOURCE)))
        assert first["outcome"] == "applied", first
        text = s.editor.text(uri)
        second = await s.run(uri, "add-type-hints", s.span(uri, 0, len(text)))
        assert second["outcome"] == "applied", second
    history = loopback.requests[1].body["input"]
    answers = [i for i in history if i.get("role") == "assistant"]
    assert [part["text"] for part in answers[0]["content"]] == [CODE]


async def test_progress_counts_only_the_tokens_of_the_attempt_that_worked(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    # issue 11: progress kept counting tokens across retries
    good = Reply.text(CODE, chunks=4)
    deltas = sum(
        1
        for f in good.render(model="m", input_bytes=1).frames
        if f.event and f.event["type"] == "response.output_text.delta"
    )
    loopback.script(Reply.drop(after_events=8, text=CODE, chunks=2), good)
    async with open_session("vscode", loopback, tmp_path) as s:
        uri = s.open("app.py", SOURCE)
        result = await s.run(uri, "refactor-to-async", s.span(uri, 0, len(SOURCE)))
    assert result["outcome"] == "applied", result
    assert result["tokens"] == deltas


def rejects_custom_tools_then_patches(patch: str) -> Any:
    """A gateway that takes only function tools (llama-stack: 400 on `custom`), and a model
    that sends apply_patch as a function call (a shape Codex accepts)."""

    def reply(request: Any) -> Reply:
        tools = request.body.get("tools") or []
        custom = [i for i, t in enumerate(tools) if t.get("type") == "custom"]
        if custom:
            return Reply.error(
                400,
                message=f"1 validation error: tools[{custom[0]}]: tag 'custom' not allowed",
                error_type="invalid_request_error",
            )
        outputs = [i for i in request.body["input"] if i.get("type") == "function_call_output"]
        if not outputs:
            return Reply.function_call("apply_patch", json.dumps({"input": patch}))
        return Reply.text("Switched to httpx.")

    return reply


async def test_apply_patch_as_a_function_where_custom_tools_are_rejected(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    # issue 11: llama-stack rejected every multi-file request; a function-call patch was refused
    root = tmp_path / "ws"
    shutil.copytree(SHOP, root)
    patch = (
        "*** Begin Patch\n*** Update File: shop/api.py\n@@\n"
        "-import requests\n+import httpx\n*** End Patch\n"
    )
    loopback.responder = rejects_custom_tools_then_patches(patch)
    async with open_session("vscode", loopback, root) as s:
        source = (root / "shop" / "api.py").read_text()
        uri = s.open("shop/api.py", source)
        span = s.span(uri, source.index("response = requests"))
        first = await s.run(uri, "refactor-to-async-with-callers", span)
        assert first["outcome"] == "applied", first
        again = await s.run(uri, "refactor-to-async-with-callers", span)
        assert again["outcome"] == "unchanged", again  # the model only answers this time
        assert "import httpx" in s.editor.text(uri)
    kinds = [
        sorted(t["type"] for t in (r.body.get("tools") or [])) for r in loopback.requests if r.body
    ]
    assert kinds[0].count("custom") == 1  # asked once with the freeform tool: 400
    assert all("custom" not in k for k in kinds[1:])  # then remembered for this base URL
    tool_outputs = [
        i
        for r in loopback.requests
        if r.body
        for i in r.body["input"]
        if i.get("type") == "function_call_output"
    ]
    assert tool_outputs[0]["output"].startswith("Success.")
