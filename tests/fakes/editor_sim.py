"""A deterministic discrete-event simulation of an editor, a user and our edit engine.

Client behaviours, as measured on real editors (shared/reference/perf-baseline.md,
clients.md) or as the LSP allows:
- "vscode": rejects a versioned edit whose version is stale (`applied: false`); sends a
  didChange right after each change, before answering.
- "nvim": skips a versioned edit older than its buffer but answers `applied: true`;
  didOpen carries version 0; didChange is debounced 150 ms (trailing until the first flush,
  then at most one flush per 150 ms) and reports changes in its own minimal-diff shape.
- "eglot": (Emacs) answers a versioned edit whose version is not its own with a JSON-RPC
  error; records changes and flushes them late (an idle timer restarted by every change),
  merging a change into the previous one when it touches that one's new text (several
  consecutive streamed inserts arrive as one content change). With `late_bump` (eglot
  1.17, Emacs 30) its version grows only when it sends the didChange (one bump per
  notification, whatever it holds) and its clientInfo names it; without (eglot 1.9, Emacs
  28) the version grows with every change and it sends no clientInfo.
- "diff": each didChange is one minimal diff between the text it last sent and the text
  it has now; flushes at random moments (any partitioning of changes into notifications).
- "full": sends the whole text (full sync) in a didChange right after each change, as
  Helix, kak-lsp and Sublime do, and ignores the version of an edit (legal for a client
  that declares no `documentChanges`; modelled whatever we send).

Any client may take a while to apply an edit it received (`apply_delay`), and the user's
keystrokes can be timed inside that window (`on_edit` operations): unversioned edits then
land where their positions point in the changed buffer.

The client buffer tags every character with where it came from (original text inside or
outside the region, typed by the user, written by the engine), so the test can assert the
invariants I1-I4 exactly: the engine never deletes a character it does not own, and the
region ends up with the whole output or the original.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from responses_lsp.editing.document import Document, Encoding, split_lines
from responses_lsp.editing.echo import ContentChange, apply_did_change
from responses_lsp.editing.streamer import DocStreamer, Outcome, OutgoingEdit, RegionJob
from responses_lsp.testing.editor import minimal_diff

PREFIX = "p"  # original text before the region
SUFFIX = "s"  # original text after the region
ORIG_IN = "r"  # original text inside the region
USER = "u"
OURS = "m"


@dataclass
class TaggedBuffer:
    chars: list[tuple[str, str]]

    @property
    def text(self) -> str:
        return "".join(c for c, _ in self.chars)

    def lines(self) -> list[str]:
        return split_lines(self.text)

    def offset(self, line: int, col: int) -> int:
        """Offset of a (line, code-point column) position; clamps like editors do."""
        lines = self.lines()
        if line >= len(lines):
            return len(self.chars)
        base = sum(len(x) for x in lines[:line])
        content = lines[line].rstrip("\r\n")
        return base + min(col, len(content))

    def position(self, offset: int) -> tuple[int, int]:
        text = self.text[:offset]
        lines = split_lines(text)
        return (len(lines) - 1, len(lines[-1]))


@dataclass(order=True)
class _Event:
    time: float
    seq: int
    action: Callable[[], None] = field(compare=False)


class Simulation:
    """One document, one job, one user, one client; everything on a virtual clock."""

    def __init__(
        self,
        *,
        client: str,
        text: str,
        region: tuple[int, int],
        encoding: str,
        seed: int,
        nvim_shape: bool = True,
        flush_interval: float = 0.016,
        latency: tuple[float, float] = (0.0005, 0.003),
        versioned: bool = True,
        apply_delay: float = 0.0,
        flush_delay: tuple[float, float] = (0.01, 0.3),
        refuse: str = "",
        late_bump: bool = False,
    ) -> None:
        self.rng = random.Random(seed)
        self.nvim_shape = nvim_shape and client == "nvim"
        self.client = client
        self.late_bump = late_bump and client == "eglot"
        self.now = 0.0
        self._queue: list[_Event] = []
        self._seq = itertools.count()
        self.latency = latency
        self.apply_delay = apply_delay
        self.flush_delay = flush_delay
        self.refuse = refuse  # "" | "reject" | "error": the client refuses every edit
        self._sc_last = 0.0  # in-order delivery per direction
        self._cs_last = 0.0
        self._apply_last = 0.0
        start, end = region
        self.buffer = TaggedBuffer(
            [
                (ch, PREFIX if i < start else ORIG_IN if i < end else SUFFIX)
                for i, ch in enumerate(text)
            ]
        )
        self.encoding = Encoding(encoding)
        self.version = 1 if client == "vscode" else 0
        self.tick = 5  # Neovim's changedtick after loading
        self.pending_changes: list[dict[str, Any]] = []
        self.last_sent_text = text  # diff / full clients: the text the server was told of
        self.last_sent_version = self.version
        self.flush_at: float | None = None
        self.last_flush: float | None = None
        self.flush_token = 0
        self.violations: list[str] = []
        self.applied_edits = 0
        self.skipped_edits = 0
        self.rejected_edits = 0
        self.received_edits = 0
        self.fragile = 0  # deletions no version protects, sent and not applied yet
        # Deletions no version protected that the client applied to other text than the
        # server meant, because the user had typed something the server had not seen yet
        # when it sent them (see `client_apply`): what no server can prevent.
        self.unprotectable = 0
        self.user_changes = 0  # the user's changes made at the client
        self.user_changes_seen = 0  # ... and how many of them the server had been told of
        self._sent_knowing: dict[int, tuple[int, str]] = {}
        self.did_changes = 0
        self.on_edit: dict[int, list[Callable[[], None]]] = {}
        # server side
        self.doc = Document("file:///sim.txt", text, version=self.version)
        self.streamer = DocStreamer(
            self.doc,
            self.encoding,
            clock=lambda: self.now,
            flush_interval=flush_interval,
            versioned=versioned,
            open_version_is_real=client != "nvim",
            version_late=self.late_bump,  # the server keys it on clientInfo "Eglot"
        )
        s_pos = self._pos_in(text, start)
        e_pos = self._pos_in(text, end)
        self.job: RegionJob = self.streamer.add_job(s_pos, e_pos)
        self._wake_token = 0

    @staticmethod
    def _pos_in(text: str, offset: int) -> tuple[int, int]:
        lines = split_lines(text[:offset])
        return (len(lines) - 1, len(lines[-1]))

    # ------------------------------------------------------------ event loop

    def at(self, time: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._queue, _Event(time, next(self._seq), action))

    def run(self, *, max_events: int = 200_000, until: float = 120.0) -> None:
        for _ in range(max_events):
            if not self._queue:
                return
            event = heapq.heappop(self._queue)
            if event.time > until:
                return
            self.now = max(self.now, event.time)
            event.action()
        raise AssertionError("simulation did not settle")

    def _to_client(self, action: Callable[[], None]) -> None:
        self._sc_last = max(self._sc_last, self.now + self.rng.uniform(*self.latency))
        self.at(self._sc_last, action)

    def _to_server(self, action: Callable[[], None]) -> None:
        self._cs_last = max(self._cs_last, self.now + self.rng.uniform(*self.latency))
        self.at(self._cs_last, action)

    # ------------------------------------------------------------ server

    def server_pump(self) -> None:
        edit = self.streamer.poll()
        if edit is not None:
            if self._fragile(edit):
                self.fragile += 1
            old = self.streamer.pending[-1].old  # the text the server means it to replace
            self._sent_knowing[edit.sent_id] = (self.user_changes_seen, old)
            self._to_client(lambda e=edit: self.client_receive(e))  # type: ignore[misc]
        wake = self.streamer.wake_at()
        if wake is not None:
            self._wake_token += 1
            token = self._wake_token
            self.at(max(wake, self.now), lambda: self._wake(token))

    def _wake(self, token: int) -> None:
        if token == self._wake_token:
            self.server_pump()

    def server_ack(self, sent_id: int, applied: bool) -> None:
        self.streamer.on_ack(sent_id, applied)
        self.server_pump()

    def server_did_change(
        self, version: int, changes: list[dict[str, Any]], user_changes: int
    ) -> None:
        self.user_changes_seen = max(self.user_changes_seen, user_changes)
        events: list[ContentChange] = [
            (None, ch["text"]) if ch.get("full") else ((ch["start"], ch["end"]), ch["text"])
            for ch in changes
        ]
        apply_did_change(self.doc, self.streamer, self.encoding, events, version)
        self.server_pump()

    # ------------------------------------------------------------ client

    def _client_units(self, offset: int) -> tuple[int, int]:
        line, col = self.buffer.position(offset)
        line_text = self.buffer.lines()[line].rstrip("\r\n")
        return (line, self.encoding.to_client(line_text, col))

    def _from_client_units(self, pos: tuple[int, int]) -> int:
        lines = self.buffer.lines()
        line, units = pos
        if line >= len(lines):
            return len(self.buffer.chars)
        col = self.encoding.from_client(lines[line].rstrip("\r\n"), units)
        return self.buffer.offset(line, col)

    def _replace(self, start: int, end: int, text: str, tag: str) -> dict[str, Any]:
        """Apply a change to the buffer; return the change as the client reports it."""
        before = self.buffer.text
        s_units = self._client_units(start)
        e_units = self._client_units(end)
        self.buffer.chars[start:end] = [(c, tag) for c in text]
        if self.nvim_shape:
            return self._nvim_shape(before, self.buffer.text)
        return {
            "start": s_units,
            "end": e_units,
            "text": text,
            "offsets": (start, end, start + len(text)),
        }

    def _nvim_shape(self, before: str, after: str) -> dict[str, Any]:
        """Neovim reports a minimal diff (longest common prefix, then suffix)."""
        prefix = 0
        limit = min(len(before), len(after))
        while prefix < limit and before[prefix] == after[prefix]:
            prefix += 1
        suffix = 0
        while (
            suffix < limit - prefix
            and before[len(before) - 1 - suffix] == after[len(after) - 1 - suffix]
        ):
            suffix += 1
        # never split a CRLF pair
        while prefix > 0 and before[prefix - 1] == "\r" and before[prefix : prefix + 1] == "\n":
            prefix -= 1
        start = self._units_in(before, prefix)
        end = self._units_in(before, len(before) - suffix)
        return {"start": start, "end": end, "text": after[prefix : len(after) - suffix]}

    def _units_in(self, text: str, offset: int) -> tuple[int, int]:
        lines = split_lines(text[:offset])
        line = len(lines) - 1
        full = split_lines(text)[line].rstrip("\r\n")
        return (line, self.encoding.to_client(full, len(lines[-1])))

    def _fragile(self, edit: OutgoingEdit) -> bool:
        """A deletion that no version protects: unversioned, sent to the full-sync client
        (which ignores versions), or for eglot 1.17, whose version does not change until it
        flushes (a keystroke moves the text under it)."""
        ignored = edit.version is None or self.late_bump or self.client == "full"
        return edit.intent != "insert" and ignored

    def client_receive(self, edit: OutgoingEdit) -> None:
        """An applyEdit request reaches the client; it applies it after `apply_delay`."""
        self.received_edits += 1
        # The user's keystroke lands between our send and the application. An unversioned
        # deletion then removes whatever its positions point at: no server can prevent
        # that, so the window is modelled for what can be protected (versioned edits, and
        # streamed inserts, which land in the wrong place and are moved back).
        exposed = not self._fragile(edit)
        for action in self.on_edit.pop(self.received_edits, []) if exposed else []:
            action()
        delay = self.rng.uniform(0.0, self.apply_delay) if self.apply_delay and exposed else 0.0
        self._apply_last = max(self._apply_last, self.now + delay)
        if self._apply_last <= self.now:
            self.client_apply(edit)
        else:
            self.at(self._apply_last, lambda: self.client_apply(edit))

    def client_apply(self, edit: OutgoingEdit) -> None:
        version = edit.version
        if self._fragile(edit):
            self.fragile -= 1
        if self.refuse:
            self.rejected_edits += 1
            self._to_server(lambda: self.server_ack(edit.sent_id, False))
            return
        stale = version is not None and version != self.version
        if self.client in ("vscode", "eglot", "diff") and stale:
            # VS Code answers applied: false, eglot a JSON-RPC error (both: not applied)
            self.rejected_edits += 1
            self._to_server(lambda: self.server_ack(edit.sent_id, False))
            return
        if self.client == "nvim" and stale and version and self.version > version:
            self.skipped_edits += 1
            self._to_server(lambda: self.server_ack(edit.sent_id, True))
            return
        # "full": does not check versions at all
        start = self._from_client_units(edit.start)
        end = self._from_client_units(edit.end)
        if end < start:
            start, end = end, start
        deleted = self.buffer.chars[start:end]
        allowed = {
            "insert": set(),
            "delete-original": {ORIG_IN, OURS},  # the original, and our separating line break
            "delete-new": {OURS},
            "retract": {OURS},
            "revert": {OURS},
        }[edit.intent]
        seen, meant = self._sent_knowing.pop(edit.sent_id, (self.user_changes, ""))
        if self._fragile(edit) and self.user_changes > seen:
            text = "".join(ch for ch, _ in deleted)
            if text != meant or any(tag not in allowed for _, tag in deleted):
                # Positions computed before the server knew of the user's latest change,
                # applied with no version check: the deletion hits other text. No server
                # can prevent it (whatever it waits for, a keystroke can always happen
                # after it computes the edit and before its didChange arrives).
                self.unprotectable += 1
        for ch, tag in deleted:
            if tag not in allowed:
                self.violations.append(
                    f"t={self.now:.3f} {edit.intent} deleted {ch!r} tagged {tag} at {start}"
                )
        tag = OURS
        if edit.intent == "revert" and edit.new_text:
            tag = "restored"  # a misplaced deletion put back
        change = self._replace(start, end, edit.new_text, tag)
        self.applied_edits += 1
        self._record_change(change)
        self._to_server(lambda: self.server_ack(edit.sent_id, True))

    def user_edit(self, start: int, end: int, text: str) -> None:
        self.user_changes += 1
        start = max(0, min(start, len(self.buffer.chars)))
        end = max(start, min(end, len(self.buffer.chars)))
        # never split a CRLF pair
        if 0 < start < len(self.buffer.chars) and self.buffer.text[start - 1 : start + 1] == "\r\n":
            start -= 1
        if 0 < end < len(self.buffer.chars) and self.buffer.text[end - 1 : end + 1] == "\r\n":
            end += 1
        change = self._replace(start, end, text, USER)
        self._record_change(change)

    def _record_change(self, change: dict[str, Any]) -> None:
        if self.client == "vscode":
            self.version += 1
            version = self.version
            users = self.user_changes
            self._to_server(lambda: self.server_did_change(version, [change], users))
            return
        if self.client == "nvim":
            self.tick += 1
            self.version = self.tick  # Neovim's buf_versions follow changedtick
            self.pending_changes.append(change)
            debounce = 0.150
            if self.last_flush is None:
                delay = debounce
            else:
                delay = max(debounce - (self.now - self.last_flush), 0.0)
            self._schedule_flush(delay)
            return
        if self.client == "eglot":
            if not self.late_bump:
                self.version += 1
            self._eglot_record(change)
            self._schedule_flush(self.flush_delay[1])  # idle timer: restarted by every change
            return
        self.version += 1
        if self.client == "full":
            # Full-sync clients (Helix, Kakoune's kak-lsp, Sublime) send the notification
            # right after each change, before handling anything else.
            self._flush(self.flush_token)
            return
        # diff: the notification carries whatever changed since the last one; it goes
        # out at a random moment (at once, soon, or later), so any partitioning happens.
        roll = self.rng.random()
        if roll < 0.3:
            self._flush(self.flush_token)
        elif self.flush_at is None or roll < 0.6:
            self._schedule_flush(self.rng.uniform(*self.flush_delay), restart=roll < 0.45)

    def _eglot_record(self, change: dict[str, Any]) -> None:
        """Merge `change` into the previous recorded one when it touches its new text."""
        start, end, _new_end = change["offsets"]
        if self.pending_changes:
            last = self.pending_changes[-1]
            l_start, l_end, l_new_end = last["offsets"]
            if l_start <= start and end <= l_new_end:
                inner = last["text"]
                merged = inner[: start - l_start] + change["text"] + inner[end - l_start :]
                last["text"] = merged
                last["offsets"] = (l_start, l_end, l_start + len(merged))
                return
        self.pending_changes.append(dict(change))

    def _schedule_flush(self, delay: float, *, restart: bool = True) -> None:
        if not restart and self.flush_at is not None:
            return
        self.flush_token += 1
        token = self.flush_token
        self.flush_at = self.now + delay
        self.at(self.now + delay, lambda: self._flush(token))

    def _flush(self, token: int) -> None:
        if token != self.flush_token:
            return
        self.flush_at = None
        self.flush_token += 1
        version = self.version
        if self.client in ("diff", "full"):
            text = self.buffer.text
            if text == self.last_sent_text and version == self.last_sent_version:
                return
            # A change that left the text as it was (a line break replaced by a line
            # break) still moved the version: the notification goes out, an empty diff.
            self.last_sent_version = version
            before, self.last_sent_text = self.last_sent_text, text
            if self.client == "full":
                change: dict[str, Any] = {"full": True, "text": text}
            else:
                change = self._diff_change(before, text)
            self.did_changes += 1
            users = self.user_changes
            self._to_server(lambda: self.server_did_change(version, [change], users))
            return
        if not self.pending_changes:
            return
        changes, self.pending_changes = self.pending_changes, []
        if self.late_bump:  # eglot 1.17: one bump per didChange it sends
            self.version += 1
            version = self.version
        self.last_flush = self.now
        self.did_changes += 1
        users = self.user_changes
        self._to_server(lambda: self.server_did_change(version, changes, users))

    def _diff_change(self, before: str, after: str) -> dict[str, Any]:
        start, end, text = minimal_diff(before, after)
        return {
            "start": self._units_in(before, start),
            "end": self._units_in(before, end),
            "text": text,
        }

    # ------------------------------------------------------------ checks

    def chars_with(self, tag: str) -> str:
        return "".join(c for c, t in self.buffer.chars if t == tag)

    def outcome(self) -> Outcome | None:
        return self.job.outcome


def schedule_stream(
    sim: Simulation,
    chunks: list[str],
    *,
    start: float,
    rate: float,
    on_done: Callable[[str], None],
) -> float:
    """Feed `chunks` to the job at `rate` chunks/s; returns the time of the last one."""
    emitted = ""
    t = start
    for chunk in chunks:
        emitted += chunk
        text = emitted
        sim.at(t, lambda text=text: (sim.job.set_target(text), sim.server_pump()))  # type: ignore[misc]
        t += 1.0 / rate
    final = emitted
    sim.at(t, lambda: (on_done(final), sim.server_pump()))
    return t
