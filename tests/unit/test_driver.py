"""The edit driver (`editing/driver.py`): documents, one streamer per document, timers, sends.

Tested through its public API as the language server uses it: `open`/`change`/`close` from the
document notifications, `start_region` + the region's `set_target`/`finalize`/`restore` + `pump`
from a job, and the future of every `workspace/applyEdit` it sends. The client is modelled as
VS Code behaves (utf-16 positions; a versioned edit on another version is refused; the didChange
echo goes out before the answer). Time is virtual: the driver's clock is a fake, and the asyncio
loop the driver arms its timers on reads the same fake clock, so a timer fires exactly when the
test moves time past it and no test sleeps.
"""

from __future__ import annotations

import asyncio
import itertools
import selectors
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pytest
from lsprotocol import types as t

from responses_lsp.editing.document import Document, Encoding
from responses_lsp.editing.driver import REPLY_GAP, EditDriver
from responses_lsp.editing.live_region import Outcome, OutgoingEdit, Overlap, RegionJob

URI = "file:///work/app.py"
BEFORE = "import time\n\n"
ORIGINAL = "def fetch(url):\n    time.sleep(1)  # 😀 slow\n    return url\n"
AFTER = "\nprint(fetch('x'))\n"
ANSWER = "async def fetch(url):\n    await asyncio.sleep(1)  # 😀 fast\n    return url\n"
FLUSH = 0.050  # seconds between two sends of one document


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class VirtualLoop(asyncio.SelectorEventLoop):
    """A real asyncio loop whose time is the test's clock: `call_later` timers become due when
    the test advances the clock, and the loop never waits for real time while callbacks are
    ready (the test only ever awaits `asyncio.sleep(0)`)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(selectors.SelectSelector())
        self.fake_clock = clock

    def time(self) -> float:
        return self.fake_clock.now


def pending_timers(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    return [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]


@dataclass
class Client:
    """The editor: its own copy of the text, applying and echoing what the driver sends."""

    driver: EditDriver
    text: str
    version: int = 1
    auto: bool = True  # apply + echo + answer at once; False: keep edits in `waiting`
    refuse: str | None = None  # answer `applied: false` with this reason
    sent: list[OutgoingEdit] = field(default_factory=list)
    waiting: list[tuple[OutgoingEdit, Future[Any]]] = field(default_factory=list)

    def send(self, edit: OutgoingEdit) -> Future[Any]:
        self.sent.append(edit)
        future: Future[Any] = Future()
        if self.auto:
            self.answer(edit, future)
        else:
            self.waiting.append((edit, future))
        return future

    def answer(self, edit: OutgoingEdit, future: Future[Any]) -> None:
        if self.refuse is not None:
            future.set_result(t.ApplyWorkspaceEditResult(applied=False, failure_reason=self.refuse))
            return
        if edit.version is not None and edit.version != self.version:
            future.set_result(t.ApplyWorkspaceEditResult(applied=False, failure_reason="stale"))
            return
        self.edit(edit.start, edit.end, edit.new_text)
        future.set_result(t.ApplyWorkspaceEditResult(applied=True))

    def answer_waiting(self) -> None:
        waiting, self.waiting = self.waiting, []
        for edit, future in waiting:
            self.answer(edit, future)

    def edit(self, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
        """Change the buffer (an edit of ours, or the user typing) and send the didChange."""
        doc = Document(URI, self.text)
        utf16 = Encoding("utf-16")
        change = doc.make_change(doc.from_client(utf16, *start), doc.from_client(utf16, *end), text)
        doc.apply(change)
        self.text = doc.text
        self.version += 1
        rng = t.Range(start=t.Position(*start), end=t.Position(*end))
        self.driver.change(URI, self.version, [t.TextDocumentContentChangePartial(rng, text)])


class Harness:
    def __init__(self, text: str = BEFORE + ORIGINAL + AFTER, *, flush: float = FLUSH) -> None:
        self.clock = Clock()
        self.loop = VirtualLoop(self.clock)
        self.driver = EditDriver(send=self._send, flush_interval=flush, clock=self.clock)
        self.client = Client(self.driver, text)
        self.driver.open(URI, text, 1, "python")

    def _send(self, edit: OutgoingEdit) -> Future[Any]:
        return self.client.send(edit)

    def run(self, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
        try:
            self.loop.run_until_complete(body())
        finally:
            self.loop.close()

    async def advance(self, seconds: float) -> None:
        """Move the clock and let every timer that became due run."""
        self.clock.now += seconds
        for _ in range(5):
            await asyncio.sleep(0)

    async def until_done(self, job: RegionJob, *, step: float = FLUSH, limit: int = 400) -> None:
        for _ in range(limit):
            if job.done:
                return
            await self.advance(step)
        raise AssertionError(f"job still {job.phase} after {limit} steps")

    def region(self, *, keep_partial: bool = False) -> RegionJob:
        start = (2, 0)  # the line after BEFORE's blank line
        end = (2 + ORIGINAL.count("\n"), 0)
        return self.driver.start_region(URI, start, end, keep_partial=keep_partial, job_id=7)


def stream(job: RegionJob, text: str) -> None:
    """What the job does with the sanitized output so far (one place, should that seam change)."""
    job.set_target(text)


# ---- documents ----------------------------------------------------------------------------------


def test_documents_follow_did_open_change_and_close() -> None:
    h = Harness("a😀b\nline two\n")
    h.client.edit((0, 3), (0, 4), "B")  # utf-16 column 3 is after the surrogate pair
    assert h.driver.get(URI) is not None and h.driver.get(URI).text == "a😀B\nline two\n"  # type: ignore[union-attr]
    h.client.edit((1, 0), (2, 0), "")
    assert h.driver.get(URI).text == "a😀B\n"  # type: ignore[union-attr]
    h.driver.change(URI, 9, [t.TextDocumentContentChangeWholeDocument("whole\r\nnew")])
    doc = h.driver.get(URI)
    assert doc is not None and doc.text == "whole\r\nnew" and doc.version == 9
    h.driver.change("file:///not/open.py", 2, [t.TextDocumentContentChangeWholeDocument("x")])
    assert h.driver.get("file:///not/open.py") is None
    h.driver.close(URI)
    assert h.driver.get(URI) is None


# ---- a job from start to end --------------------------------------------------------------------


def test_a_streamed_job_ends_with_the_answer_in_the_editor() -> None:
    h = Harness()

    async def body() -> None:
        job = h.region()
        for end in range(5, len(ANSWER), 5):  # a token every 10 ms
            stream(job, ANSWER[:end])
            h.driver.pump(URI)
            await h.advance(0.010)
        job.finalize(ANSWER)
        h.driver.pump(URI)
        await h.until_done(job)
        assert job.outcome is Outcome.APPLIED
        assert h.client.text == BEFORE + ANSWER + AFTER
        assert h.driver.get(URI).text == h.client.text  # type: ignore[union-attr]
        assert all(edit.job_id == 7 and edit.uri == URI for edit in h.client.sent)
        assert pending_timers(h.loop) == []  # nothing left armed

    h.run(body)


def test_tokens_inside_the_flush_interval_are_coalesced_into_one_edit_on_one_timer() -> None:
    h = Harness()

    async def body() -> None:
        job = h.region()
        stream(job, "async ")
        h.driver.pump(URI)
        assert len(h.client.sent) == 1  # the first token goes out at once
        for end in range(7, 22):  # 15 tokens within 15 ms: nothing is sent...
            stream(job, ANSWER[:end])
            h.driver.pump(URI)
            await h.advance(0.001)
        assert len(h.client.sent) == 1
        timers = pending_timers(h.loop)
        assert len(timers) == 1  # ...and one timer is armed, not one per token
        assert timers[0].when() == pytest.approx(1000.0 + FLUSH)
        await h.advance(FLUSH)  # the window closes: one edit carries all 15 tokens
        assert len(h.client.sent) == 2
        assert ANSWER[6:21] in h.client.sent[1].new_text
        assert h.client.text.startswith(BEFORE + ANSWER[:21])

    h.run(body)


def test_at_most_one_edit_is_outstanding_and_an_answer_sends_the_next() -> None:
    h = Harness()
    h.client.auto = False

    async def body() -> None:
        job = h.region()
        stream(job, "async ")
        h.driver.pump(URI)
        assert len(h.client.sent) == 1
        stream(job, "async def ")
        h.driver.pump(URI)
        await h.advance(10 * FLUSH)
        assert len(h.client.sent) == 1  # no answer yet: nothing more is sent...
        assert pending_timers(h.loop) == []  # ...and no timer polls for it
        h.client.answer_waiting()  # the answer's done-callback pumps
        assert len(h.client.sent) == 2
        assert h.client.sent[1].new_text.startswith("def ")

    h.run(body)


def test_a_cancelled_job_restores_exactly_the_original() -> None:
    h = Harness()

    async def body() -> None:
        job = h.region()
        for end in range(4, 40, 4):
            stream(job, ANSWER[:end])
            h.driver.pump(URI)
            await h.advance(0.020)
        assert ANSWER[:20] in h.client.text
        job.restore()  # the user cancelled
        h.driver.pump(URI)
        await h.until_done(job)
        assert job.outcome is Outcome.RESTORED
        assert h.client.text == BEFORE + ORIGINAL + AFTER

    h.run(body)


def test_closing_the_document_cancels_its_timer_and_sends_nothing_more() -> None:
    h = Harness()

    async def body() -> None:
        job = h.region()
        stream(job, "async ")
        h.driver.pump(URI)
        stream(job, "async def fetch")
        h.driver.pump(URI)
        assert len(pending_timers(h.loop)) == 1
        h.driver.close(URI)
        assert pending_timers(h.loop) == []
        assert job.outcome is Outcome.CLOSED
        await h.advance(1.0)
        h.driver.pump(URI)  # a late pump from the job is harmless
        assert len(h.client.sent) == 1

    h.run(body)


def test_close_all_stops_every_document() -> None:
    h = Harness()

    async def body() -> None:
        job = h.region()
        stream(job, "async ")
        h.driver.pump(URI)
        stream(job, "async def")
        h.driver.pump(URI)
        h.driver.close_all()
        assert pending_timers(h.loop) == []
        assert job.outcome is Outcome.CLOSED
        await h.advance(1.0)
        assert len(h.client.sent) == 1
        assert h.driver.get(URI) is not None  # the documents stay open; only the jobs stop

    h.run(body)


def test_an_editor_that_refuses_every_edit_ends_the_job_with_its_reason() -> None:
    h = Harness()
    h.client.refuse = "read-only buffer"

    async def body() -> None:
        job = h.region()
        stream(job, "async def fetch(url):\n")
        h.driver.pump(URI)
        await h.until_done(job, step=1.0)
        assert job.outcome is Outcome.FAILED
        assert "read-only buffer" in job.failure
        assert h.client.text == BEFORE + ORIGINAL + AFTER  # nothing was applied
        assert len(h.client.sent) >= 2  # it tried again (with a backoff) before giving up

    h.run(body)


def test_a_failed_apply_edit_request_counts_as_not_applied() -> None:
    h = Harness()
    h.client.auto = False

    async def body() -> None:
        job = h.region()
        stream(job, "async ")
        h.driver.pump(URI)
        _edit, future = h.client.waiting.pop()
        future.set_exception(RuntimeError("client crashed"))  # a JSON-RPC error answer
        assert not job.done  # one failure is retried...
        await h.advance(5.0)
        assert len(h.client.sent) == 2  # ...by sending again

    h.run(body)


def test_overlapping_regions_are_refused() -> None:
    h = Harness()
    h.region()
    with pytest.raises(Overlap):
        h.driver.start_region(URI, (3, 0), (6, 0), keep_partial=False)
    other = h.driver.start_region(URI, (0, 0), (1, 0), keep_partial=False)  # the import line
    assert other.original == "import time\n"


def test_a_client_that_needs_it_gets_no_edit_within_the_reply_gap() -> None:
    # Emacs' jsonrpc.el may leave a message that shares a read with an answer unparsed
    # (EditDriver.after_reply): the first edit of a job and the first after an answer wait.
    h = Harness()
    h.driver.gap_after_replies = True

    async def body() -> None:
        job = h.region()  # started while its request is being answered
        stream(job, "async ")
        h.driver.pump(URI)
        assert h.client.sent == []
        await h.advance(REPLY_GAP / 2)
        assert h.client.sent == []
        await h.advance(REPLY_GAP / 2 + 0.001)
        assert len(h.client.sent) == 1
        h.driver.after_reply()  # e.g. a codeAction answered mid-stream
        stream(job, ANSWER[:21])
        h.driver.pump(URI)
        await h.advance(REPLY_GAP * 0.8)
        assert len(h.client.sent) == 1  # still inside the gap
        await h.advance(REPLY_GAP * 0.2 + 0.001)
        assert len(h.client.sent) == 2

    h.run(body)


def test_other_clients_get_no_reply_gap() -> None:
    h = Harness()  # gap_after_replies is off unless `initialize` says the client needs it

    async def body() -> None:
        job = h.region()
        h.driver.after_reply()
        stream(job, "async ")
        h.driver.pump(URI)
        assert len(h.client.sent) == 1  # at once

    h.run(body)


# ---- refusals: wait only for a didChange that has not arrived ------------------------------------


def test_a_rejection_whose_didchange_already_arrived_is_resent_without_waiting() -> None:
    """VS Code sends the user's keystroke before it answers `applied: false`: the explaining
    didChange is already here when the refusal arrives, so the resend goes out at that same
    instant (no `REJECTION_HOLD`), against the text as it is now."""
    h = Harness()
    h.client.auto = False

    async def body() -> None:
        job = h.region()
        stream(job, "async def fetch(url):\n")
        h.driver.pump(URI)
        assert len(h.client.sent) == 1
        await h.advance(2 * FLUSH)  # past the coalescing window: only the refusal holds it
        h.client.edit((0, 0), (0, 0), "# typed\n")  # the keystroke's didChange goes first...
        h.client.answer_waiting()  # ...then the answer: stale version, refused
        assert len(h.client.sent) == 2, "the resend waited for a didChange already received"
        resend = h.client.sent[1]
        assert resend.version == h.client.version
        h.client.auto = True
        h.client.answer_waiting()
        job.finalize(ANSWER)
        h.driver.pump(URI)
        await h.until_done(job)
        assert job.outcome is Outcome.APPLIED
        assert h.client.text == "# typed\n" + BEFORE + ANSWER + AFTER

    h.run(body)


def test_a_rejection_with_no_didchange_yet_waits_and_its_didchange_ends_the_wait() -> None:
    """A client that holds its didChange (Neovim debounces 150 ms): the refusal is not yet
    explained, so nothing is resent at once; the didChange, when it comes, ends the wait."""
    h = Harness()
    h.client.auto = False

    async def body() -> None:
        job = h.region()
        stream(job, "async def fetch(url):\n")
        h.driver.pump(URI)
        await h.advance(2 * FLUSH)
        h.client.version += 1  # the user typed; the client holds the didChange for now
        h.client.answer_waiting()  # stale version, refused
        assert len(h.client.sent) == 1  # no blind resend against text the server has not seen
        await h.advance(0.01)
        assert len(h.client.sent) == 1
        h.client.version -= 1  # the held didChange goes out now (it bumps the version again)
        h.client.edit((0, 0), (0, 0), "# typed\n")
        assert len(h.client.sent) == 2  # resent as soon as the didChange explains the refusal
        assert h.client.sent[1].version == h.client.version

    h.run(body)


# ---- cadence (issue 16) -------------------------------------------------------------------------


def _sends_at(flush: float, token_gap: float, read_late: float, seconds: float) -> list[float]:
    """Times of the sends of a stream read as `jobs.feed` reads it: a token every `token_gap`
    seconds, the socket read at `next_edit_in` minus READ_EARLY, plus `read_late` (the work of
    parsing what was read), then one pump."""
    from responses_lsp.jobs.feed import READ_EARLY

    h = Harness(flush=flush)
    times: list[float] = []
    send = h.client.send

    def timed(edit: OutgoingEdit) -> Future[Any]:
        times.append(h.clock.now)
        return send(edit)

    h.client.send = timed  # type: ignore[method-assign]

    async def body() -> None:
        job = h.region()
        text, start = "", h.clock.now
        words = iter(range(10**6))
        while h.clock.now - start < seconds:
            wait = max(0.0, h.driver.next_edit_in(URI) - READ_EARLY)
            await h.advance(max(wait, token_gap) + read_late)
            text += "".join(f"w{next(words)} " for _ in range(max(1, round(wait / token_gap))))
            stream(job, text)
            h.driver.pump(URI)
        job.restore()
        h.driver.pump(URI)

    h.run(body)
    return times


@pytest.mark.parametrize("read_late", [0.0, 0.0005, 0.003, 0.0079])
def test_a_fast_stream_keeps_the_grid_and_at_most_30_edits_in_any_second(read_late: float) -> None:
    """34 ms windows: a send a little late (the parsing of a read) keeps the next window on
    the grid (the cycle does not become 34 ms + the work of a read), and no second ever holds
    more than 30 edits."""
    times = _sends_at(0.034, 0.0005, read_late, 3.0)
    assert len(times) >= 80
    most = max(sum(1 for u in times if s <= u < s + 1.0) for s in times)
    assert most <= 30, most
    gaps = [b - a for a, b in itertools.pairwise(times)]
    mean = sum(gaps[5:-5]) / len(gaps[5:-5])
    assert abs(mean - 0.034) < 0.0015, f"cycle {mean * 1000:.2f} ms"  # not 34 + read_late
    assert min(gaps) >= 0.034 - 0.008 - 0.0015 - 1e-9


def test_a_slow_token_goes_out_the_moment_it_arrives() -> None:
    times = _sends_at(0.034, 0.1, 0.0, 1.0)  # a token every 100 ms
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(abs(g - 0.1) < 0.002 for g in gaps[1:-1]), gaps
