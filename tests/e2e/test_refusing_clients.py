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
from pytest_lsp import client_capabilities

from tests.e2e.conftest import Session, open_session
from tests.fakes.lsp_editor import FakeEditor
from tests.fakes.samples import ASYNC_FETCH, CURSOR, FETCH, SOURCE
from tests.loopback import LoopbackServer, Reply

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


# ----------------------------------------------------------------- an eglot-like client


class EglotEditor(FakeEditor):
    """Like Emacs eglot: records changes and sends them late, in one didChange, merging a
    change into the previous one when it touches that one's new text (several streamed
    inserts of ours arrive as one content change); a versioned edit whose version is not
    the buffer's is answered with a JSON-RPC error."""

    IDLE = 0.3  # eglot-send-changes-idle-time is 0.5 s; restarted by every change

    @property
    def capabilities(self) -> t.ClientCapabilities:
        return client_capabilities("emacs@v29.1")

    def _replace(self, uri: str, start: int, end: int, text: str) -> None:
        doc = self.docs[uri]
        before = doc.text
        doc.text = before[:start] + text + before[end:]
        doc.version += 1
        last = doc.pending[-1] if doc.pending else None
        if last is not None and last["start"] <= start and end <= last["start"] + len(last["text"]):
            inner = last["text"]
            at = start - last["start"]
            last["text"] = inner[:at] + text + inner[at + end - start :]
        else:
            doc.pending.append({"before": before, "start": start, "end": end, "text": text})
        if doc.timer:
            doc.timer.cancel()
        doc.timer = asyncio.get_running_loop().call_later(self.IDLE, self._flush, doc)

    def _on_apply_edit(self, params: t.ApplyWorkspaceEditParams) -> t.ApplyWorkspaceEditResult:
        for change in params.edit.document_changes or []:
            if isinstance(change, t.TextDocumentEdit):
                doc = self.docs.get(change.text_document.uri)
                version = change.text_document.version
                if doc is not None and version is not None and version != doc.version:
                    self.rejected += 1
                    raise RuntimeError(
                        f"Edits on `{doc.uri}' require version {version}, you have {doc.version}"
                    )
        return super()._on_apply_edit(params)


async def test_an_eglot_like_client_gets_the_rewrite_once_even_while_the_user_types(
    loopback: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("responses_lsp.testing.session.FakeEditor", EglotEditor)
    async with open_session("eglot", loopback, tmp_path) as session:
        editor = session.editor
        # token-sized deltas for ~2 s: many streamed inserts merge into one content change
        session.api.script(Reply.text(ASYNC_FETCH, chunks=2, pace_tps=80))
        uri = session.open("app.py", SOURCE)
        job = session.start(uri, "refactor-to-async", session.span(uri, CURSOR))
        await asyncio.sleep(0.6)
        editor.type_at(uri, 0, "# typed during the stream\n")  # above the region
        result = await asyncio.wait_for(job, 30)
        await editor.settle(0.8)
        assert result["outcome"] == "applied", result
        expected = "# typed during the stream\n" + SOURCE.replace(FETCH, ASYNC_FETCH)
        assert editor.text(uri) == expected
