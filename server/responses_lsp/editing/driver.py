"""The glue between the LSP connection and the edit engine, one per server.

It owns the open documents (didOpen/didChange/didClose, in O(change)), hands every content
change to the document's `DocStreamer` before applying it, and sends what the streamers
decide as `workspace/applyEdit`. Acknowledgements arrive through a done-callback that runs
while the response is being read, so the engine sees them in wire order relative to the
didChange notifications that follow (that order is how a skipped edit is recognised).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from responses_lsp.editing.document import Document, Encoding, Pos
from responses_lsp.editing.echo import ContentChange, apply_did_change
from responses_lsp.editing.live_region import OutgoingEdit, RegionJob
from responses_lsp.editing.streamer import DocStreamer

log = logging.getLogger(__name__)

SendEdit = Callable[["OutgoingEdit"], "Future[Any]"]

REPLY_GAP = 0.05
"""Seconds between our answer to a request and the next edit we send, for the clients that
need it (`EditDriver.gap_after_replies`; see `after_reply`)."""


def _applied(future: Future[Any]) -> tuple[bool, str]:
    """Whether the client applied the edit, and if not, why (its reason or its error)."""
    if future.cancelled():
        return False, "the request was cancelled"
    error = future.exception()
    if error is not None:
        log.warning("workspace/applyEdit failed: %s", error)
        return False, f"error: {str(error)[:200]}"
    result = future.result()
    applied = getattr(result, "applied", None)
    if applied is None and isinstance(result, dict):
        applied = result.get("applied")
    reason = ""
    if not applied:
        reason = str(getattr(result, "failure_reason", None) or "")
        if isinstance(result, dict):
            reason = str(result.get("failureReason") or reason)
        if reason:
            log.info("client did not apply the edit: %s", reason)
        reason = f"applied: false, {reason[:200]}" if reason else "applied: false"
    return bool(applied), reason


class EditDriver:
    """Open documents + one streamer per document with running jobs."""

    def __init__(
        self,
        *,
        send: SendEdit,
        flush_interval: float = 0.034,
        clock: Callable[[], float] = time.monotonic,
        versioned: bool = True,
        settle_timeout: float = 2.0,
    ) -> None:
        self.send = send
        self.flush_interval = flush_interval
        self.clock = clock
        self.versioned = versioned
        self.open_version_is_real = False  # see DocStreamer (False for Neovim)
        self.version_late = False  # see DocStreamer (True for eglot)
        self.gap_after_replies = False  # True for Emacs' jsonrpc.el clients (see `after_reply`)
        self.settle_timeout = settle_timeout
        self.encoding = Encoding("utf-16")
        self.docs: dict[str, Document] = {}
        self.streamers: dict[str, DocStreamer] = {}
        self._quiet_until = float("-inf")  # see `after_reply`
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._timer_at: dict[str, float] = {}

    # ------------------------------------------------------------------ documents

    def open(self, uri: str, text: str, version: int, language_id: str) -> None:
        self.close(uri)
        self.docs[uri] = Document(uri, text, version, language_id)

    def close(self, uri: str) -> None:
        streamer = self.streamers.pop(uri, None)
        if streamer is not None:
            streamer.close()
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        self.docs.pop(uri, None)

    def close_all(self) -> None:
        """Stop every streamer (shutdown): no edit is sent after this."""
        for uri in list(self.streamers):
            streamer = self.streamers.pop(uri)
            streamer.close()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def after_reply(self) -> None:
        """We just answered a request: no edit goes out for `REPLY_GAP` seconds.

        Emacs 28's jsonrpc.el (eglot 1.9) reads the answer to a synchronous request (every
        `M-x eglot-execute-command`, code-action menu, completion...) with a non-local exit
        out of its process filter: whatever arrived in the same read after that answer is
        left unparsed until more output comes. An applyEdit written right behind the
        answer (the restoring edit of `responses-lsp-cancel`, about 1 run in 8) then sat in
        Emacs' buffer while the server waited for its reply: nothing more was ever sent.
        A short gap puts the edit in a later read. Only the clients that may read this way
        get it (`gap_after_replies`, set from `initialize`): elsewhere it would add its 50 ms to the
        lag of every edit that follows a code-action request, which VS Code sends on every
        cursor move.
        """
        if not self.gap_after_replies:
            return
        until = self.clock() + REPLY_GAP
        self._quiet_until = until
        for uri, streamer in list(self.streamers.items()):
            streamer.quiet_until = max(streamer.quiet_until, until)
            self._arm(uri, streamer)

    def get(self, uri: str) -> Document | None:
        return self.docs.get(uri)

    def change(self, uri: str, version: int, changes: list[Any]) -> None:
        """Apply one didChange (lsprotocol content change events), in order."""
        doc = self.docs.get(uri)
        if doc is None:
            log.warning("didChange for a document that is not open: %s", uri)
            return
        events: list[ContentChange] = []
        for event in changes:
            rng = getattr(event, "range", None)
            if rng is None:
                events.append((None, event.text))
            else:
                events.append(
                    (
                        ((rng.start.line, rng.start.character), (rng.end.line, rng.end.character)),
                        event.text,
                    )
                )
        streamer = self.streamers.get(uri)
        apply_did_change(doc, streamer, self.encoding, events, version)
        if streamer is not None:
            self.pump(uri)

    # ------------------------------------------------------------------ jobs

    def start_region(
        self, uri: str, start: Pos, end: Pos, *, keep_partial: bool, job_id: int | None = None
    ) -> RegionJob:
        """Track a new region (raises `Overlap` when it overlaps a running job)."""
        doc = self.docs[uri]
        streamer = self.streamers.get(uri)
        if streamer is None:
            streamer = DocStreamer(
                doc,
                self.encoding,
                clock=self.clock,
                flush_interval=self.flush_interval,
                settle_timeout=self.settle_timeout,
                versioned=self.versioned,
                open_version_is_real=self.open_version_is_real,
                version_late=self.version_late,
            )
            self.streamers[uri] = streamer
        # The job starts while its request is being answered: its first edit too keeps
        # `REPLY_GAP` from the answer (see `after_reply`).
        if self.gap_after_replies:
            streamer.quiet_until = max(
                streamer.quiet_until, self._quiet_until, self.clock() + REPLY_GAP
            )
        return streamer.add_job(start, end, keep_partial=keep_partial, job_id=job_id)

    def pump(self, uri: str) -> None:
        """Send whatever the document's streamer wants to send now; arm its timer."""
        streamer = self.streamers.get(uri)
        if streamer is None:
            return
        edit = streamer.poll()
        if edit is not None:
            future = self.send(edit)
            sent = edit

            def acked(done: Future[Any]) -> None:
                self._acked(uri, sent, done)

            future.add_done_callback(acked)
        self._arm(uri, streamer)
        if not streamer.active and not streamer.pending and streamer.outstanding is None:
            self.streamers.pop(uri, None)

    def next_edit_in(self, uri: str) -> float:
        """Seconds until the document's next edit may go (0 or less: now). A stream being
        read into the document is read no sooner (`api.pacing`)."""
        streamer = self.streamers.get(uri)
        return 0.0 if streamer is None else streamer.next_send_at() - self.clock()

    def _acked(self, uri: str, edit: OutgoingEdit, future: Future[Any]) -> None:
        streamer = self.streamers.get(uri)
        if streamer is None:
            return
        applied, reason = _applied(future)
        streamer.on_ack(edit.sent_id, applied, reason)
        self.pump(uri)

    def _arm(self, uri: str, streamer: DocStreamer) -> None:
        wake = streamer.wake_at()
        timer = self._timers.get(uri)
        if timer is not None:
            if wake is not None and self._timer_at.get(uri) == wake and not timer.cancelled():
                return  # already armed for that moment (the common case while streaming)
            timer.cancel()
            del self._timers[uri]
        if wake is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        delay = max(0.0, wake - self.clock())
        self._timer_at[uri] = wake
        self._timers[uri] = loop.call_later(delay, self._wake, uri)

    def _wake(self, uri: str) -> None:
        self._timers.pop(uri, None)
        self.pump(uri)

    def stats(self, uri: str) -> tuple[int, int]:
        streamer = self.streamers.get(uri)
        return (streamer.stats_edits, streamer.stats_bytes) if streamer else (0, 0)
