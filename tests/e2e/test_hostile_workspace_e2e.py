"""A hostile workspace end to end: the model's tool calls meet special files and regex bombs,
and the server stays responsive (DESIGN I9).

Each scenario drives the real server over stdio and a scripted model on the loopback Responses
endpoint: the model calls a tool on a pathological input; the editor meanwhile asks for code
actions and cancels. Timings are measured at the client, the way a user would feel them.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as t

from tests.e2e.conftest import Session, open_session
from tests.loopback import LoopbackServer, Reply

FIXTURE = Path(__file__).parent / "fixtures" / "shop"
ACTION = "refactor-to-async-with-callers"
BOMB_LINE = "a" * 40 + "!\n"  # (a+)+$ backtracks 2**40 times on it in Python's re
PROMPT = 0.5
"""Seconds: "well under a second" for a request the editor waits on."""


def tool_outputs(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in body["input"] if i.get("type", "").endswith("_call_output")]


def progress_messages(s: Session) -> list[str]:
    return [
        str(r.message)
        for reports in s.client.progress_reports.values()
        for r in reports
        if getattr(r, "message", None)
    ]


def ends(s: Session) -> list[t.WorkDoneProgressEnd]:
    return [
        r
        for reports in s.client.progress_reports.values()
        for r in reports
        if isinstance(r, t.WorkDoneProgressEnd)
    ]


@asynccontextmanager
async def killed_on_failure(s: Session) -> AsyncIterator[None]:
    """A server frozen by the bug never answers shutdown: kill it so the test fails, not hangs."""
    try:
        yield
    except BaseException:
        server = s.client._server
        if server is not None and server.returncode is None:
            server.kill()
        raise


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(FIXTURE, root)
    return root


async def test_codeaction_and_cancel_are_answered_while_a_search_grinds_through_a_bomb(
    loopback: LoopbackServer, workspace: Path
) -> None:
    # ~60 MB of text the search may read (each file under the 1 MB search limit), every line
    # a regex bomb for a backtracking engine: the slowest search the budgets allow.
    data = workspace / "data"
    data.mkdir()
    bomb = BOMB_LINE * 23_000  # 966,000 bytes
    for n in range(60):
        (data / f"bomb{n:02}.txt").write_text(bomb)

    def reply(request: Any) -> Reply:
        if not tool_outputs(request.body):
            return Reply.function_call("search", json.dumps({"pattern": "(a+)+$", "regex": True}))
        return Reply.text("Nothing to change.")

    loopback.responder = reply
    async with open_session("vscode", loopback, workspace) as s, killed_on_failure(s):
        source = (workspace / "shop" / "api.py").read_text()
        uri = s.open("shop/api.py", source)
        span = s.span(uri, source.index("response = requests"))
        run = s.start(uri, ACTION, span)
        await s.wait_for(lambda: "searching for '(a+)+$'" in progress_messages(s), 20)

        started = time.monotonic()
        actions = await asyncio.wait_for(s.actions(uri, span), 10)
        code_action_seconds = time.monotonic() - started
        assert len(loopback.requests) == 1, "the search was over before the codeAction"
        assert code_action_seconds < PROMPT, code_action_seconds
        assert any(a.title for a in actions)

        s.editor.type_at(uri, 0, "# typed while the tool runs\n")  # didChange
        other = s.open("shop/other.py", "def other():\n    return 2\n")  # didOpen
        started = time.monotonic()
        other_actions = await asyncio.wait_for(s.actions(other, s.span(other, 5)), 10)
        other_seconds = time.monotonic() - started
        assert other_actions and other_seconds < PROMPT, other_seconds
        assert len(loopback.requests) == 1, "the search was over before the other document"

        started = time.monotonic()
        cancelled = await asyncio.wait_for(s.execute("responses-lsp.cancel", {"uri": uri}), 10)
        cancel_seconds = time.monotonic() - started
        assert cancelled == {"cancelled": 1}
        assert cancel_seconds < PROMPT, cancel_seconds

        await s.wait_for(lambda: bool(ends(s)), 5)  # the job ends cleanly, at once
        assert "cancelled" in str(ends(s)[-1].message)
        result = await asyncio.wait_for(run, 10)
        if isinstance(result, dict) and "outcome" in result:
            assert result["outcome"] == "cancelled", result
        assert len(loopback.requests) == 1  # no further request after the cancel
        assert s.editor.applied == []
        assert s.editor.text(uri) == "# typed while the tool runs\n" + source
        print(
            f"codeAction {code_action_seconds * 1000:.0f} ms, cancel {cancel_seconds * 1000:.0f} ms"
        )


async def test_a_fifo_is_refused_to_the_model_and_the_job_goes_on(
    loopback: LoopbackServer, workspace: Path
) -> None:
    os.mkfifo(workspace / "shop" / "pipe.py")
    patch = "*** Begin Patch\n*** Update File: shop/pipe.py\n@@\n-x\n+y\n*** End Patch\n"

    def reply(request: Any) -> Reply:
        done = len(tool_outputs(request.body))
        if done == 0:
            return Reply.function_call("read_file", json.dumps({"path": "shop/pipe.py"}))
        if done == 1:
            return Reply.custom_tool_call("apply_patch", patch)
        if done == 2:
            return Reply.function_call("list_files", json.dumps({"glob": "shop/*"}))
        return Reply.text("That file is a pipe; nothing to change.")

    loopback.responder = reply
    try:
        async with open_session("vscode", loopback, workspace) as s, killed_on_failure(s):
            source = (workspace / "shop" / "api.py").read_text()
            uri = s.open("shop/api.py", source)
            span = s.span(uri, source.index("response = requests"))
            result = await asyncio.wait_for(s.run(uri, ACTION, span), 20)
            if isinstance(result, dict) and "outcome" in result:
                assert result["outcome"] == "unchanged", result
            await s.wait_for(lambda: len(loopback.requests) == 4, 10)
            read, patched, listed = tool_outputs(loopback.requests[-1].body)
            assert read["output"].startswith("error: refused: shop/pipe.py is a FIFO")
            assert patched["output"].startswith("error:") and "FIFO" in patched["output"]
            assert "shop/api.py" in listed["output"] and "pipe.py" not in listed["output"]
            assert s.editor.applied == []
    finally:  # a server blocked in open() on the FIFO (the bug) is released by a writer
        try:
            os.close(os.open(workspace / "shop" / "pipe.py", os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
