"""No edit of ours travels in the same read as our answer to a request (issue 10).

Emacs 28's jsonrpc.el (eglot 1.9) reads the answer to a synchronous request (every command
eglot executes, the code-action menu, completion) with a non-local exit out of its process
filter: a message that arrived in the same read, after that answer, stays unparsed until
more output comes. On the Emacs tier, `M-x responses-lsp-cancel` once everything streamed
so far had been echoed got `{"cancelled": 1}`, and the restoring edit the server wrote a
millisecond later sat in Emacs' buffer while the server waited for its reply: nothing more
happened (about 1 run in 8; eglot's log showed the edit arrive 16 s later, when something
else was written). The server now keeps `REPLY_GAP` between an answer and its next edit.
"""

from __future__ import annotations

import time
from typing import Any

from lsprotocol import types as t

from responses_lsp.editing.driver import REPLY_GAP
from tests.e2e.conftest import Session
from tests.fakes.samples import ASYNC_FETCH, CURSOR, SOURCE
from tests.loopback import Reply  # the fault DSL (Reply.stall)


def _timestamp_edits(session: Session) -> list[tuple[float, str]]:
    """(arrival time, label) of every applyEdit the editor gets from now on."""
    arrivals: list[tuple[float, str]] = []
    handle = session.editor._on_apply_edit

    def on_apply_edit(params: t.ApplyWorkspaceEditParams) -> Any:
        arrivals.append((time.monotonic(), params.label or ""))
        return handle(params)

    session.editor._on_apply_edit = on_apply_edit  # type: ignore[method-assign]
    return arrivals


async def test_the_restoring_edit_keeps_clear_of_the_cancel_answer(session: Session) -> None:
    # The stream stalls after a few deltas: everything sent is applied and echoed, nothing
    # is on its way when the cancel comes (the case that lost the restore on Emacs 28).
    session.api.script(Reply.stall(after_events=6, text=ASYNC_FETCH, chunks=3, seconds=30))
    uri = session.open("app.py", SOURCE)
    arrivals = _timestamp_edits(session)
    job = session.start(uri, "refactor-to-async", session.span(uri, CURSOR))
    # (the deltas before the stall arrive together: one read, one edit)
    await session.wait_for(lambda: len(arrivals) >= 1)
    await session.editor.settle()
    sent_before = len(arrivals)
    assert (await session.execute("responses-lsp.cancel"))["cancelled"] == 1
    answered = time.monotonic()
    assert (await job)["outcome"] == "cancelled"
    await session.wait_for(lambda: session.editor.text(uri) == SOURCE, limit=5)
    restoring = arrivals[sent_before:]
    assert restoring, "no restoring edit was sent"
    assert all("insert" not in label for _, label in restoring), restoring
    # The answer was read by the time `execute` returned; the first restoring edit comes
    # at least most of REPLY_GAP later (before: about a millisecond, the same read).
    gap = restoring[0][0] - answered
    assert gap >= REPLY_GAP * 0.6, f"restoring edit {gap * 1000:.1f} ms after the answer"
