"""A job's tracked region as the engine sees it, and the edits sent for it.

`RegionJob` is the region `[start, end)` of one running job: the new text grows in
`[start, mid)` and the original stays in `[mid, end)` until the final edit removes it. When
the original starts a line, the first insert also adds a line break of ours right at `mid`
(the sentinel), so the growing last line never shows glued to the original's first line. Its
phase says what the engine is driving it to (streaming, finishing, restoring...); the job
talks to it only through `set_target`, `finalize` and `restore`. `Sent` is one edit on its way
(positions as the client got them), `Stray` our text that landed in the wrong place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from responses_lsp.editing.document import Pos


class Phase(Enum):
    STREAMING = "streaming"  # appending the target at N
    FINALIZING = "finalizing"  # final target known: finish it, then delete the original
    KEEPING = "keeping"  # cancelled with keepPartialOnCancel: delete the original
    RESTORING = "restoring"  # cancelled or failed: delete the new text
    CLEANUP = "cleanup"  # conflict in the new text: only revert strays, touch nothing else
    DONE = "done"


class Outcome(Enum):
    APPLIED = "applied"
    RESTORED = "restored"
    PARTIAL_KEPT = "partial-kept"
    CONFLICT = "conflict"
    CLOSED = "closed"
    FAILED = "failed"  # the editor refused our edits (see `RegionJob.failure`)


class Overlap(Exception):
    """A new job's region overlaps a running one."""


@dataclass
class Stray:
    """Our text that landed in the wrong place: `[start, end)` must become `restore`."""

    start: Pos
    end: Pos
    restore: str


@dataclass
class Sent:
    """An edit we sent: literal range and text in the client's coordinates at send time."""

    id: int
    job: RegionJob
    intent: str  # insert | delete-original | delete-new | retract | revert
    start: Pos
    end: Pos
    text: str
    version: int | None
    sent_at: float
    pinned: bool = False  # its version makes the client apply it only where it was sent
    stray: Stray | None = None
    retract_to: int = 0
    sentinel: str = ""  # an insert ending with the line break that keeps the original apart
    client_start: tuple[int, int] = (0, 0)  # what the client got, in its position units
    client_end: tuple[int, int] = (0, 0)
    old: str = ""  # the text the edit replaces, as the engine expects the client to have it
    changes_before: int = 0  # didChange notifications the server had when it was sent
    acked: bool = False
    applied: bool | None = None
    acked_at: float = 0.0


@dataclass(frozen=True)
class OutgoingEdit:
    """What the driver sends as one `workspace/applyEdit` (positions in client units)."""

    sent_id: int
    job_id: int
    uri: str
    version: int | None
    start: tuple[int, int]
    end: tuple[int, int]
    new_text: str
    intent: str


class Text:
    """A string that grows at its end in O(appended): pieces, joined only when read whole.

    The streamed output and the confirmed new text of a job grow by one token or one edit
    at a time; re-joining them on every token made the token path quadratic (issue 14)."""

    __slots__ = ("_len", "_parts")

    def __init__(self, text: str = "") -> None:
        self._parts = [text] if text else []
        self._len = len(text)

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def append(self, text: str) -> None:
        if text:
            self._parts.append(text)
            self._len += len(text)

    def value(self) -> str:
        """The whole text (joined once, then kept joined)."""
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def tail(self, start: int) -> str:
        """`value()[start:]`, reading only the pieces after `start` (the common case: the
        text appended since the engine last took some)."""
        if start >= self._len:
            return ""
        out: list[str] = []
        at = self._len
        for part in reversed(self._parts):
            at -= len(part)
            if at <= start:
                out.append(part[start - at :])
                break
            out.append(part)
        return "".join(reversed(out))


@dataclass
class RegionJob:
    """The engine's view of one job's region on one document."""

    id: int
    start: Pos
    mid: Pos  # N: end of the new text, start of the original
    end: Pos
    original: str
    keep_partial: bool = False
    # The output to write (streamed so far, or final), and the new text confirmed in the
    # document (strays excluded); see `target` and `have`.
    target_text: Text = field(default_factory=Text)
    have_text: Text = field(default_factory=Text)
    # Whether `target` only grew by `append` since the engine last checked that `have`
    # is a prefix of it (then the next piece to send is simply its tail).
    appended_only: bool = False
    phase: Phase = Phase.STREAMING
    outcome: Outcome | None = None
    strays: list[Stray] = field(default_factory=list)
    conflict: bool = False
    notes: list[str] = field(default_factory=list)
    failure: str = ""  # why the engine gave up (the editor refused our edits)
    on_done: Callable[[RegionJob], None] | None = None
    committing: bool = False  # the final edit (removing the original) is on its way
    # While the new text streams in above the original, a line break of ours separates the
    # two, so a half-written line never runs into the original's first line on screen.
    sentinel: Stray | None = None
    edits_sent: int = 0
    bytes_sent: int = 0  # newText bytes

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    @property
    def target(self) -> str:
        return self.target_text.value()

    @target.setter
    def target(self, text: str) -> None:
        self.target_text = Text(text)
        self.appended_only = False

    @property
    def have(self) -> str:
        return self.have_text.value()

    @have.setter
    def have(self, text: str) -> None:
        self.have_text = Text(text)

    # ------------------------------------------------------------ commands from the job

    def append(self, delta: str) -> None:
        """More sanitized output (streaming): the token path, O(len(delta))."""
        if self.phase is Phase.STREAMING:
            self.target_text.append(delta)

    def set_target(self, text: str) -> None:
        """The sanitized output so far, whole (streaming; "" starts again after a retry)."""
        if self.phase is Phase.STREAMING:
            self.target = text

    def finalize(self, text: str) -> None:
        """The complete sanitized output: finish it and remove the original."""
        if self.phase in (Phase.STREAMING, Phase.FINALIZING):
            self.target = text
            self.phase = Phase.FINALIZING

    def restore(self) -> None:
        """Cancel or failure: put the original back (or keep partial output if asked).

        Too late once the final edit removing the original has been sent: the job then
        completes as applied (a cancel that loses the race to completion).
        """
        if self.committing:
            return
        if self.phase in (Phase.STREAMING, Phase.FINALIZING):
            self.phase = Phase.KEEPING if self.keep_partial else Phase.RESTORING
            if self.phase is Phase.RESTORING:
                self.drop_sentinel()

    def drop_sentinel(self) -> None:
        """The separating line break goes, as a stray: it is ours and in the way."""
        if self.sentinel is not None:
            self.strays.append(self.sentinel)
            self.sentinel = None

    def _finish(self, outcome: Outcome) -> None:
        if self.phase is Phase.DONE:
            return
        self.phase = Phase.DONE
        if self.outcome is None:
            self.outcome = outcome
        if self.on_done is not None:
            self.on_done(self)
