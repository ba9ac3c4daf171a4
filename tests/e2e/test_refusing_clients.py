"""Editors that refuse our edits, and an editor that merges its didChange notifications.

A client may answer every `workspace/applyEdit` with `applied: false`, or with a JSON-RPC
error. The job backs off, stops after a few refusals in a row, leaves the buffer as it
was, and tells the user why; the number of applyEdit requests stays bounded (before
issue 10: ~800 and ~1,500 requests for one job, which then ended "unconfirmed" silently).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as t

from responses_lsp.loopback import LoopbackServer, Reply
from tests.e2e.conftest import Session, open_session
from tests.fakes.samples import ASYNC_FETCH, CURSOR, SOURCE

MAX_REQUESTS = 12
"""A refusing client gets at most this many applyEdit requests for one job."""


async def _run_refused(session: Session) -> dict[str, Any]:
    session.api.script(Reply.text(ASYNC_FETCH, chunks=3, pace_tps=100))  # ~1 s of tokens
    uri = session.open("app.py", SOURCE)
    result = await asyncio.wait_for(
        session.run(uri, "refactor-to-async", session.span(uri, CURSOR)), 20
    )
    await session.editor.settle()
    assert session.editor.text(uri) == SOURCE  # untouched
    return result


@pytest.mark.parametrize("profile", ["vscode", "neovim"])
async def test_a_client_that_answers_applied_false_stops_the_job_and_says_why(
    profile: str, loopback: LoopbackServer, tmp_path: Path
) -> None:
    async with open_session(profile, loopback, tmp_path) as session:
        session.editor.reject_next = 10**9  # applied: false, always
        result = await _run_refused(session)
        requests = len(session.editor.applied)
        assert 1 <= requests <= MAX_REQUESTS, requests
        assert result["outcome"] == "error", result
        assert "refused" in result["message"] and "not changed" in result["message"]
        await session.wait_for(lambda: any("refused" in m for m in session.messages()))


@pytest.mark.parametrize("profile", ["vscode", "neovim"])
async def test_a_client_that_answers_with_an_error_stops_the_job_and_says_why(
    profile: str, loopback: LoopbackServer, tmp_path: Path
) -> None:
    async with open_session(profile, loopback, tmp_path) as session:
        calls: list[t.ApplyWorkspaceEditParams] = []

        def failing(params: t.ApplyWorkspaceEditParams) -> t.ApplyWorkspaceEditResult:
            calls.append(params)
            raise RuntimeError("Edits on `app.py' require version 3, you have 4")

        session.editor._on_apply_edit = failing  # type: ignore[method-assign]
        result = await _run_refused(session)
        assert 1 <= len(calls) <= MAX_REQUESTS, len(calls)
        assert result["outcome"] == "error", result
        assert "refused" in result["message"] and "error" in result["message"]
        await session.wait_for(lambda: any("refused" in m for m in session.messages()))
