"""The streaming-edit engine: tracked regions, echo reconciliation, coalesced edits.

One `DocStreamer` per open document owns the regions of the jobs running on it. A
region is `[S, E)`; while a job streams, the new text grows in `[S, N)` and the original
stays in `[N, E)` until the final edit removes it. Streamed edits are therefore pure
insertions at `N`; every deletion (removing the original, restoring on failure,
retracting, repairing) is sent only when the document is *settled* (no edit of ours is
unconfirmed), so it is computed against the text the client really has (DESIGN I4).

The server's copy of the document lags the client (Neovim debounces didChange by 150 ms,
and a versioned edit can be skipped while the client answers `applied: true`). So the
engine does not trust `applied`: every edit stays *pending* until the didChange echo shows
it, recognised by its effect, not its shape (`echo.py` splits each content change into
our edits and the user's, whatever the client merged, diffed or flushed late). An echo
that lands where we meant is confirmed; one that landed elsewhere because the user typed
meanwhile becomes a *stray* and is reverted; a pending edit the client acknowledged but a
later didChange shows missing was skipped and is sent again (never on a timer). A change
that is not ours and touches the inside of a region is the user editing the text being
rewritten: that job stops (DESIGN I5). A client that refuses edits gets a backoff, and
after `MAX_REFUSALS` in a row its jobs stop with a reason.

Pure code: no pygls, no asyncio. One state machine, kept in one module on purpose (~620
lines): the echo side and the sending side read and write the same anchors, strays and
pending edits, and the invariants are easier to check when both are in view. The driver
feeds `on_change`/`on_batch_end`/`on_ack` and calls `poll()` to learn the next edit to send
(at most one outstanding per document, successive sends at least `flush_interval` apart:
DESIGN I6).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from responses_lsp.editing.document import Change, Document, Encoding, Pos, common_prefix, extent
from responses_lsp.editing.geometry import Side, classify, map_pos, map_through, same_effect
from responses_lsp.editing.live_region import (
    Outcome,
    OutgoingEdit,
    Overlap,
    Phase,
    RegionJob,
    Sent,
    Stray,
)

log = logging.getLogger(__name__)

GRID_GRACE = 0.008
"""Seconds an edit may go after its window opened and still keep the windows on their grid."""

SEND_SLACK = 0.0015
"""Seconds before its window opens that an edit may already go: a stream read just before the
window (`jobs.feed`) sends at once instead of leaving its text to the window's timer, which
would send the text of the read before (a cycle late). With GRID_GRACE, at most
(1 s + GRID_GRACE + SEND_SLACK) / flush_interval edits fall in any second: 29.7 at 34 ms."""

REJECTION_HOLD = 0.05
"""Seconds to wait after `applied: false` for the didChange that explains it."""
USER_QUIET = 0.25
"""Seconds without a change of the user's before an unprotected deletion goes out (see
`_unprotected`): a client holding the keystrokes of a user still typing (Neovim debounces
150 ms) would otherwise apply it to text the server has not seen."""
REJECTIONS_BEFORE_UNVERSIONED = 4
"""Unexplained refusals of versioned edits (see `_refused`) after which versions are dropped."""
MAX_REFUSALS = 8
"""Edits refused (applied: false or an error) in a row, with no applied one in between,
after which the jobs on the document stop."""


class DocStreamer:
    """Owns the tracked regions on one document and decides every edit sent to it."""

    def __init__(
        self,
        doc: Document,
        encoding: Encoding,
        *,
        clock: Callable[[], float],
        flush_interval: float = 0.034,
        settle_timeout: float = 2.0,
        versioned: bool = True,
        open_version_is_real: bool = False,
        version_late: bool = False,
    ) -> None:
        self.doc = doc
        self.encoding = encoding
        self.clock = clock
        self.flush_interval = flush_interval
        self.settle_timeout = settle_timeout
        self.versioned = versioned
        # Neovim's didOpen says version 0 whatever its buffer's changedtick is, and skips
        # an edit older than its buffer: no version until its first didChange. Other
        # clients (eglot, VS Code) count from the version they opened with.
        self.open_version_is_real = open_version_is_real
        # eglot 1.17 bumps its version only when it sends didChange (flushed late, merged):
        # the version it will have when it applies an edit is known only while nothing of
        # ours is unechoed, and even then its unflushed changes may have moved the text.
        self.version_late = version_late
        self.jobs: list[RegionJob] = []
        self.pending: list[Sent] = []
        self.outstanding: Sent | None = None
        self._window = float("-inf")  # when the window of the last send opened (see _emit)
        self.hold_until = float("-inf")
        self.quiet_until = float("-inf")  # nothing sent before (set by the driver)
        self._rejections = 0  # unexplained refusals since the last didChange
        self._insert_rejections = 0  # refusals of versioned edits since the last didChange
        self.loose_inserts = False  # streamed inserts go unversioned (see `_refused`)
        self._quiet_since = clock()  # when the last didChange arrived (or the streamer began)
        self._user_at = float("-inf")  # when the server last saw a change of the user's
        self._failures = 0  # refusals in a row (see `on_batch_end` for the ones forgiven)
        self._stale_refusals: list[int] = []  # versions of the versioned edits among them
        self.last_refusal = ""
        self._ids = 0
        self._turn = 0
        self._due: float | None = None
        self.stats_edits = 0
        self.echoes_seen = 0
        self.stats_bytes = 0

    # ------------------------------------------------------------------ jobs

    def add_job(
        self, start: Pos, end: Pos, *, keep_partial: bool = False, job_id: int | None = None
    ) -> RegionJob:
        start, end = self.doc.clamp(start), self.doc.clamp(end)
        for job in self.jobs:
            if not job.done and start < job.end and job.start < end:
                raise Overlap(f"overlaps the region of job {job.id}")
            if not job.done and start == end == job.start:
                raise Overlap(f"overlaps the region of job {job.id}")
        self._ids += 1
        job = RegionJob(
            id=job_id if job_id is not None else self._ids,
            start=start,
            mid=start,
            end=end,
            original=self.doc.slice(start, end),
            keep_partial=keep_partial,
        )
        self.jobs.append(job)
        return job

    def close(self) -> None:
        """The document was closed: every job ends here, nothing more is sent."""
        for job in self.jobs:
            job._finish(Outcome.CLOSED)
        self.pending.clear()
        self.outstanding = None

    @property
    def active(self) -> bool:
        return any(not job.done for job in self.jobs)

    # ------------------------------------------------------------------ echo

    def candidates(self) -> list[tuple[Sent, tuple[Pos, Pos, str]]]:
        """Our pending edits that the next change could be, with their literal ranges."""
        out: list[tuple[Sent, tuple[Pos, Pos, str]]] = []
        for index, sent in enumerate(self.pending):
            if index > 0 and self.pending[index - 1].version is None:
                # Edits are applied in order, and only a versioned one can be skipped:
                # nothing after an unversioned edit can come back before it does.
                break
            out.append((sent, self.literal(sent)))
            if self.certainly_applied(sent):
                # Applied for sure, so never skipped: nothing after it comes back first
                # (a blank line that looks like a later edit of ours is not that edit).
                break
        return out

    def match(self, change: Change) -> int | None:
        """The index in `pending` of the edit whose effect `change` has, if any."""
        edit = (change.start, change.end, change.text)
        for sent, literal in self.candidates():
            if same_effect(self.doc, edit, literal):
                return self.pending.index(sent)
        return None

    def on_change(self, change: Change) -> None:
        """One content change from didChange, in code points, *before* it is applied."""
        index = self.match(change)
        if index is None:
            self.on_foreign(change)
        else:
            self.take(index, change)

    def take(self, index: int, change: Change) -> None:
        """`change` is the client applying `pending[index]` (earlier ones were skipped)."""
        sent = self.pending[index]
        for skipped in self.pending[:index]:
            self._log(skipped.job, f"edit {skipped.id} was skipped by the client; resending")
        del self.pending[: index + 1]
        self._echo_ours(sent, change)

    def on_batch_end(self) -> None:
        """After one didChange: edits acknowledged before it but not in it were skipped."""
        self._rejections = 0
        self._insert_rejections = 0
        self._quiet_since = self.clock()
        self.hold_until = float("-inf")
        stale = [v for v in self._stale_refusals if v < self.doc.version]
        if stale:
            # Those versioned edits were refused because the client's text had moved on:
            # this didChange proves it, so they say nothing against the client (a user
            # typing through a stream must not make the job give up). A client refusing
            # everything still stops after MAX_REFUSALS refusals no didChange explains.
            self._failures -= len(stale)
            self._stale_refusals = [v for v in self._stale_refusals if v >= self.doc.version]
        kept: list[Sent] = []
        for sent in self.pending:
            if sent.acked and sent.applied:
                self._log(sent.job, f"edit {sent.id} acknowledged but never applied; resending")
            else:
                kept.append(sent)
        self.pending = kept

    def on_ack(self, sent_id: int, applied: bool, reason: str = "") -> None:
        """The client answered our applyEdit (`reason`: why not, for a refusal or an error)."""
        if self.outstanding is not None and self.outstanding.id == sent_id:
            self.outstanding = None
        for sent in self.pending:
            if sent.id == sent_id:
                sent.acked, sent.applied, sent.acked_at = True, applied, self.clock()
                if applied:
                    self._failures = 0
                    self._stale_refusals.clear()
                else:
                    self.pending.remove(sent)
                    self._refused(sent, reason)
                break

    def _refused(self, sent: Sent, reason: str) -> None:
        """Back off after a refusal; give up after too many in a row (DESIGN I6).

        A refused versioned edit usually means the client's version moved: the user typed
        and the didChange saying so is on its way, or not sent yet (eglot and Neovim hold
        their changes for an idle moment, and a user who keeps typing keeps them held).
        Dropping versions then would send the next deletion unprotected against text the
        server has not seen. So a refusal counts towards dropping versions only when the
        server's own view cannot explain it: no didChange since the edit was sent, no edit
        of ours applied but not yet echoed (its didChange is owed), and the document quiet
        for `settle_timeout` (longer than any client holds its changes for an idle user).
        Only a client whose versions are broken refuses then; the others are waited for.
        Inserts are another matter: one that lands where the user's unreported typing moved
        the text deletes nothing and is moved back (a stray), so after
        `REJECTIONS_BEFORE_UNVERSIONED` refusals with no didChange between them the
        streamed inserts go unversioned (eglot holds its changes while the user keeps
        typing: without this the stream would stall and give up).
        """
        self._failures += 1
        if sent.version is not None:
            self._stale_refusals.append(sent.version)
        self.last_refusal = reason or "the editor did not apply the edit"
        now = self.clock()
        explained = self.doc.changes_received > sent.changes_before
        if explained:
            # The didChange that explains it (the user typed; a stale version) is here
            # already: try again at once, against the text as it is now.
            self.hold_until = now
        else:
            backoff = REJECTION_HOLD * 2 ** min(self._failures - 1, 3)
            self.hold_until = now + backoff
        owed = any(s.acked and s.applied for s in self.pending)
        quiet = now - self._quiet_since >= self.settle_timeout
        if sent.version is not None:
            self._insert_rejections += 1
            if self._insert_rejections >= REJECTIONS_BEFORE_UNVERSIONED and self.versioned:
                self.loose_inserts = True
        if sent.version is not None and not explained and not owed and quiet:
            self._rejections += 1
        if self._rejections >= REJECTIONS_BEFORE_UNVERSIONED and self.versioned:
            log.warning("client keeps rejecting versioned edits; sending unversioned edits")
            self.versioned = False
        if self._failures >= MAX_REFUSALS:
            self._give_up()

    def _give_up(self) -> None:
        """The editor refuses our edits: every job on this document stops here."""
        for job in self.jobs:
            if job.done:
                continue
            ours_left = bool(job.have or job.sentinel or job.strays)
            job.failure = (
                f"responses-lsp: the editor refused {self._failures} edits in a row "
                f"({self.last_refusal}); stopped. "
                + (
                    "Part of the rewrite may be in the buffer: undo it or re-run the action."
                    if ours_left
                    else "The buffer was not changed."
                )
            )
            self._log(job, job.failure)
            job._finish(Outcome.FAILED)
        self.pending.clear()

    def certainly_applied(self, sent: Sent) -> bool:
        """Whether the client's `applied: true` for `sent` proves its effect is in the
        text: always, but for Neovim's versioned edits (it skips one older than its
        buffer and still answers `applied: true`; Neovim is the client whose didOpen
        version is not real, see `open_version_is_real`)."""
        if not (sent.acked and sent.applied):
            return False
        return sent.version is None or self.open_version_is_real

    def literal(self, sent: Sent) -> tuple[Pos, Pos, str]:
        """Where `sent` lands if applied to the document as it is now (the client applies
        our positions, in its units, to whatever its buffer holds at that moment)."""
        start = self.doc.from_client(self.encoding, *sent.client_start)
        end = self.doc.from_client(self.encoding, *sent.client_end)
        return (start, max(start, end), sent.text)

    def _echo_ours(self, sent: Sent, change: Change) -> None:
        job = sent.job
        intended = self._intended(sent)
        if intended is not None and same_effect(
            self.doc, (change.start, change.end, change.text), (intended[0], intended[1], sent.text)
        ):
            self._confirm(
                sent, Change(intended[0], intended[1], sent.text, self.doc.slice(*intended))
            )
            return
        # Our edit landed somewhere else (the user typed before it arrived): a stray.
        literal = change  # where the client put it (same effect as `literal(sent)` or found)
        self._log(job, f"edit {sent.id} landed in the wrong place; repairing")
        merged = self._absorb(job, literal)
        self._map_all(literal)
        job.strays.append(merged)

    def _absorb(self, job: RegionJob, change: Change) -> Stray:
        """The stray `change` makes, merged with the job's strays it touches."""
        low, high = change.start, change.end
        touching = [s for s in job.strays if s.start <= change.end and change.start <= s.end]
        for stray in touching:
            low, high = min(low, stray.start), max(high, stray.end)
        restore = self.doc.slice(low, high)
        for stray in sorted(touching, key=lambda s: s.start, reverse=True):
            at = len(self.doc.slice(low, stray.start))
            size = len(self.doc.slice(stray.start, stray.end))
            restore = restore[:at] + stray.restore + restore[at + size :]
            job.strays.remove(stray)
        end = change.new_end if high == change.end else map_through(high, change, stick_right=True)
        return Stray(start=low, end=end, restore=restore)

    def _intended(self, sent: Sent) -> tuple[Pos, Pos] | None:
        job = sent.job
        if sent.intent == "insert":
            return (job.mid, job.mid)
        if sent.intent == "delete-original":
            keep = job.phase is Phase.KEEPING and job.sentinel is not None
            return (job.sentinel.end if keep and job.sentinel else job.mid, job.end)
        if sent.intent == "delete-new":
            return (job.start, job.mid)
        if sent.intent == "retract":
            return (extent(job.start, job.have[: sent.retract_to]), job.mid)
        if sent.intent == "revert" and sent.stray in job.strays and sent.stray is not None:
            return (sent.stray.start, sent.stray.end)
        return None

    def _confirm(self, sent: Sent, change: Change) -> None:
        job = sent.job
        self.echoes_seen += 1
        for other in self.jobs:
            if other is not job and not other.done:
                self._shift_if_before(other, change)
            self._map_strays(other, change, skip=sent.stray)
        if sent.intent == "insert":
            body = sent.text[: len(sent.text) - len(sent.sentinel)]
            job.have_text.append(body)
            job.end = map_through(job.end, change, stick_right=True)
            job.mid = extent(change.start, body)
            if sent.sentinel:
                job.sentinel = Stray(start=job.mid, end=change.new_end, restore="")
                if job.phase not in (Phase.STREAMING, Phase.FINALIZING, Phase.KEEPING):
                    job.drop_sentinel()  # the job stopped while this was on its way
        elif sent.intent == "delete-original":
            job.end = change.start
            if job.phase is not Phase.KEEPING:
                job.sentinel = None  # deleted with the original
        elif sent.intent == "delete-new":
            job.have = ""
            job.mid = job.start
            job.end = map_through(job.end, change, stick_right=False)
        elif sent.intent == "retract":
            job.have = job.have[: sent.retract_to]
            job.mid = change.start
            job.end = map_through(job.end, change, stick_right=False)
        elif sent.intent == "revert" and sent.stray is not None:
            job.strays.remove(sent.stray)
            job.start = map_through(job.start, change, stick_right=True)
            job.mid = map_through(job.mid, change, stick_right=False)
            job.end = map_through(job.end, change, stick_right=False)

    def _shift_if_before(self, job: RegionJob, change: Change) -> None:
        if classify(change, job.start, job.end) is Side.BEFORE:
            job.start = map_through(job.start, change, stick_right=True)
            job.mid = map_through(job.mid, change, stick_right=True)
            job.end = map_through(job.end, change, stick_right=True)

    def _map_all(self, change: Change, *, skip_stray: Stray | None = None) -> None:
        """Carry every anchor and stray through one of our misplaced edits."""
        for job in self.jobs:
            self._map_strays(job, change, skip=skip_stray)
            if job.done:
                continue
            job.start = map_through(job.start, change, stick_right=True)
            job.mid = map_through(job.mid, change, stick_right=False)
            job.end = map_through(job.end, change, stick_right=False)

    def _map_strays(self, job: RegionJob, change: Change, *, skip: Stray | None = None) -> None:
        sentinel = job.sentinel
        if sentinel is not None:
            if change.start < sentinel.end and change.end > sentinel.start:
                job.sentinel = None  # deleted (by our final edit, or by the user)
            else:
                sentinel.start = map_through(sentinel.start, change, stick_right=True)
                sentinel.end = map_through(sentinel.end, change, stick_right=False)
        for stray in list(job.strays):
            if stray is skip:
                continue
            if (change.start < stray.end and change.end > stray.start) or (
                change.start == change.end and stray.start < change.start < stray.end
            ):
                job.strays.remove(stray)
                if stray.restore:  # cannot tell what to put back around the change
                    self._log(job, "someone edited text the engine misplaced; leaving it as it is")
                    continue
                # Our misplaced text minus what the change replaced: both sides still go,
                # the change itself (the user's typing) stays.
                if stray.start < change.start:
                    job.strays.append(Stray(stray.start, change.start, ""))
                if change.end < stray.end:
                    after = map_through(stray.end, change, stick_right=False)
                    job.strays.append(Stray(change.new_end, after, ""))
                continue
            stray.start = map_through(stray.start, change, stick_right=True)
            stray.end = map_through(stray.end, change, stick_right=False)

    def on_foreign(self, change: Change) -> None:
        """A change that is not ours: the user typing (or another tool)."""
        self._user_at = self.clock()
        for job in self.jobs:
            self._map_strays(job, change)
            if job.done:
                continue
            side = classify(change, job.start, job.end)
            if side is Side.BEFORE:
                self._shift_if_before(job, change)
                continue
            if side is Side.AFTER:
                continue
            touches_new = change.start < job.mid and job.start < job.mid
            if job.phase in (Phase.STREAMING, Phase.FINALIZING):
                job.conflict = True
                job.outcome = Outcome.CONFLICT
                job.target = job.have
                job.phase = Phase.CLEANUP if touches_new else Phase.RESTORING
                job.drop_sentinel()
                self._log(job, "you edited the text being rewritten; stopping")
            elif (job.phase is Phase.RESTORING and touches_new) or (
                job.phase is Phase.KEEPING and change.end > job.mid
            ):
                job.phase = Phase.CLEANUP
                job.outcome = Outcome.CONFLICT
                job.drop_sentinel()
            if change.end <= job.mid and touches_new:
                job.mid = map_through(job.mid, change, stick_right=True)
            job.end = map_through(job.end, change, stick_right=False)

    # ------------------------------------------------------------------ sending

    def _settled(self, now: float) -> bool:
        """No edit of ours is unconfirmed (or the client never echoes: trust its answers)."""
        if not self.pending:
            return True
        if self.outstanding is not None:
            return False
        return all(s.acked and s.applied for s in self.pending) and all(
            now >= s.acked_at + self.settle_timeout for s in self.pending
        )

    def _expire_skipped(self, now: float) -> None:
        """Neovim's versioned edits answered `applied: true` and still unechoed after
        `settle_timeout` were skipped (it debounces didChange by 150 ms, so an applied one
        would have been reported by now): they are sent again, computed afresh. Trusting
        the answer instead would place the next edit on text the client does not have."""
        if self.outstanding is not None or not self.pending:
            return
        if not all(s.acked and now >= s.acked_at + self.settle_timeout for s in self.pending):
            return
        kept: list[Sent] = []
        for sent in self.pending:
            if sent.acked and sent.applied and not self.certainly_applied(sent):
                self._log(sent.job, f"edit {sent.id} acknowledged but never echoed; resending")
            else:
                kept.append(sent)
        self.pending = kept

    def wake_at(self) -> float | None:
        """When `poll()` may have something to send that it held back (None: wait for input)."""
        if self.outstanding is not None:
            return None
        at = self._due
        if self.pending and all(s.acked for s in self.pending) and self.active:
            settle = max(s.acked_at for s in self.pending) + self.settle_timeout
            if settle > self.clock():
                at = settle if at is None else min(at, settle)
        return at

    def next_send_at(self) -> float:
        """The earliest moment the next edit may go (the coalescing window, a hold, a gap)."""
        return max(self._window + self.flush_interval, self.hold_until, self.quiet_until)

    def poll(self) -> OutgoingEdit | None:
        """The next edit to send now, or None (see `wake_at` for when to ask again)."""
        self._due = None
        if self.outstanding is not None:
            return None
        now = self.clock()
        not_before = self.next_send_at()
        if now + SEND_SLACK < not_before and self.active:
            # Inside the coalescing window nothing goes out: look again when it closes
            # (cheap: this runs for every streamed token).
            self._due = not_before
            return None
        self._expire_skipped(now)
        live = [job for job in self.jobs if not job.done]
        for step in range(len(live)):
            job = live[(self._turn + step) % len(live)]
            sent = self._next_for(job, now)
            if sent is None:
                continue
            if sent.intent != "insert" and self._unprotected() and now < self._user_at + USER_QUIET:
                # A deletion no version protects waits for a pause in the user's typing.
                self._due = self._user_at + USER_QUIET
                continue
            not_before = self.next_send_at()
            if now + SEND_SLACK < not_before:
                self._due = not_before
                return None
            self._turn = (self._turn + step + 1) % max(1, len(live))
            return self._emit(sent, now)
        self.jobs = [job for job in self.jobs if not job.done]
        return None

    def _predicted(self) -> tuple[Document, int | None]:
        """The text the client will have once our pending edits apply, and its version."""
        if not self.pending:  # the common case while streaming: the document itself
            return self.doc, self._version()
        view = Document(self.doc.uri, "", self.doc.version)
        view.lines = list(self.doc.lines)
        for sent in self.pending:
            view.apply(view.make_change(sent.start, sent.end, sent.text))
        return view, self._version()

    def _version(self) -> int | None:
        """The version the client will have once our pending edits apply (None: unknown)."""
        if self.versioned and (self.doc.version > 0 or self.open_version_is_real):
            if not self.version_late:
                return self.doc.version + len(self.pending)
            if not self.pending:  # otherwise unknown: unversioned, judged by its effect
                return self.doc.version
        return None

    def _p_anchor(self, job: RegionJob) -> tuple[Pos, Pos, Pos]:
        start, mid, end = job.start, job.mid, job.end
        for sent in self.pending:
            change = Change(sent.start, sent.end, sent.text, "")
            if sent.job is job and sent.intent == "insert":
                end = map_through(end, change, stick_right=True)
                mid = extent(sent.start, sent.text[: len(sent.text) - len(sent.sentinel)])
            else:
                start = map_through(start, change, stick_right=True)
                mid = map_through(mid, change, stick_right=False)
                end = map_through(end, change, stick_right=False)
        return start, mid, end

    def _have_len(self, job: RegionJob) -> int:
        """len(_have_p(job)), without joining it."""
        return len(job.have_text) + sum(
            len(s.text) - len(s.sentinel)
            for s in self.pending
            if s.job is job and s.intent == "insert"
        )

    def _have_p(self, job: RegionJob) -> str:
        return job.have + "".join(
            s.text[: len(s.text) - len(s.sentinel)]
            for s in self.pending
            if s.job is job and s.intent == "insert"
        )

    def _next_for(self, job: RegionJob, now: float) -> Sent | None:
        settled = self._settled(now)
        if job.strays:
            if not settled:
                return None
            stray = job.strays[0]
            return self._sent(
                job, "revert", stray.start, stray.end, stray.restore, now, stray=stray
            )
        if job.phase is Phase.CLEANUP:
            if settled:
                job._finish(Outcome.CONFLICT)
            return None
        start, mid, end = self._p_anchor(job)
        if job.phase in (Phase.STREAMING, Phase.FINALIZING):
            # The token path: while the output only grew at its end since `have` was seen
            # to be a prefix of it, the next piece is its tail (O(piece), no re-join and no
            # prefix comparison of the whole output; issue 14). Otherwise compare in full.
            have_len = self._have_len(job)
            if job.appended_only and have_len <= len(job.target_text):
                prefix = True
            else:
                have = self._have_p(job)
                prefix = job.target.startswith(have)
                job.appended_only = prefix and job.phase is Phase.STREAMING
            if prefix:
                piece = job.target_text.tail(have_len)
                if piece.endswith("\r") and job.phase is Phase.STREAMING:
                    piece = piece[:-1]  # never split a CRLF pair across two edits
                if piece:
                    sentinel = ""
                    if (
                        job.phase is Phase.STREAMING
                        and not have_len
                        and job.sentinel is None
                        and mid < end
                        and mid[1] == 0
                        and not any(s.sentinel for s in self.pending if s.job is job)
                    ):
                        sentinel = self.doc.line_break()
                    return self._sent(
                        job, "insert", mid, mid, piece + sentinel, now, sentinel=sentinel
                    )
                if len(job.target_text) > have_len:
                    return None
                if job.phase is Phase.FINALIZING and settled:
                    if mid < end:
                        return self._sent(job, "delete-original", mid, end, "", now)
                    job._finish(Outcome.APPLIED)
                return None
            if not settled:
                return None
            have = self._have_p(job)
            keep = common_prefix(have, job.target)
            if 0 < keep < len(have) and have[keep - 1] == "\r" and have[keep] == "\n":
                keep -= 1  # a position cannot fall inside a CRLF pair
            cut = extent(start, have[:keep])
            return self._sent(job, "retract", cut, mid, "", now, retract_to=keep)
        if not settled:
            return None
        if job.phase is Phase.RESTORING:
            if start < mid:
                return self._sent(job, "delete-new", start, mid, "", now)
            job._finish(job.outcome or Outcome.RESTORED)
        elif job.phase is Phase.KEEPING:
            cut = job.sentinel.end if job.sentinel is not None else mid  # keep its line break
            if cut < end:
                return self._sent(job, "delete-original", cut, end, "", now)
            job._finish(Outcome.PARTIAL_KEPT)
        return None

    def _sent(
        self,
        job: RegionJob,
        intent: str,
        start: Pos,
        end: Pos,
        text: str,
        now: float,
        *,
        stray: Stray | None = None,
        retract_to: int = 0,
        sentinel: str = "",
    ) -> Sent:
        self._ids += 1
        return Sent(
            id=self._ids,
            job=job,
            intent=intent,
            start=start,
            end=end,
            text=text,
            version=None,
            sent_at=now,
            stray=stray,
            retract_to=retract_to,
            sentinel=sentinel,
        )

    def _unprotected(self) -> bool:
        """Whether the next edit goes out with no version the client checks before
        applying it (unversioned, or eglot 1.17's, whose version ignores unflushed changes):
        it then lands wherever its positions point in the client's text."""
        return self._version() is None or self.version_late

    def _emit(self, sent: Sent, now: float) -> OutgoingEdit:
        if sent.intent == "delete-original" and sent.job.phase is Phase.FINALIZING:
            sent.job.committing = True  # the final edit is on its way: too late to cancel
        view, version = self._predicted()
        if sent.intent == "insert" and self.loose_inserts:
            version = None  # see `_refused`
        sent.version = version
        sent.pinned = version is not None and not self.version_late
        sent.client_start = view.to_client(self.encoding, sent.start)
        sent.client_end = view.to_client(self.encoding, sent.end)
        sent.old = view.slice(sent.start, sent.end)
        sent.changes_before = self.doc.changes_received
        text = sent.text
        self.pending.append(sent)
        self.outstanding = sent
        # Keep the grid: an edit sent a little after its window opened (the read that fed it,
        # its parsing) does not push the next window back by that much, or a fast stream's
        # cycle would be flush_interval + the work of a read. At most ~1/flush_interval edits
        # in any second still: each window opens flush_interval after the previous one.
        opened = self._window + self.flush_interval
        self._window = opened if opened - SEND_SLACK <= now <= opened + GRID_GRACE else now
        size = len(text.encode("utf-8"))
        self.stats_edits += 1
        self.stats_bytes += size
        sent.job.edits_sent += 1
        sent.job.bytes_sent += size
        return OutgoingEdit(
            sent_id=sent.id,
            job_id=sent.job.id,
            uri=self.doc.uri,
            version=version,
            start=sent.client_start,
            end=sent.client_end,
            new_text=text,
            intent=sent.intent,
        )

    def _log(self, job: RegionJob, note: str) -> None:
        job.notes.append(note)
        log.info("job %d: %s", job.id, note)


__all__ = [
    "Change",
    "DocStreamer",
    "Outcome",
    "OutgoingEdit",
    "Overlap",
    "Phase",
    "RegionJob",
    "map_pos",
]
