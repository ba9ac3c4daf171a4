"""Echo reconciliation: what a didChange says about the edits we sent, from its effect.

A client reports our applied edits in its own shape: one content change per edit (VS
Code), a minimal diff per edit (Neovim), several consecutive edits merged into one change,
flushed late (Emacs eglot), one minimal diff per notification between the text it last
sent and the text it has now, or the whole text. The user's typing can sit in the same
notification, before, between or after our edits, and even merged into the same change.

So a content change is never matched by its shape. For each change that is not simply one
of our pending edits, `decompose` looks for the explanation the text supports: a run of our
pending edits, applied in order at the positions the client got (where the client applies
them whatever happened to its buffer meanwhile), plus the user's changes as the minimal
hunks left over, the user's either before ours (so ours landed where those positions point
now) or after them. An explanation is accepted only when it reproduces the new text
exactly and leaves each of our edits intact; the longest run wins. What it cannot explain
as ours is the user's. The streamer then sees canonical changes: ours exactly as the
client applied them (it confirms them or repairs them as strays), the user's as hunks.

Only a window of lines around the change and our pending edits is looked at, so the cost
is O(change + pending), not O(document) (DESIGN I6b).
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from responses_lsp.editing.document import (
    Change,
    Document,
    Encoding,
    Pos,
    common_prefix,
    common_suffix,
    extent,
    split_lines,
)

if TYPE_CHECKING:
    from responses_lsp.editing.live_region import Sent
    from responses_lsp.editing.streamer import DocStreamer

ClientRange = tuple[tuple[int, int], tuple[int, int]]
ContentChange = tuple[ClientRange | None, str]
"""One content change as the client sent it: a range in client units (None: whole text)."""

MAX_COMBINED = 3
"""Most content changes one of our edits is echoed as (Neovim: 2 at the end of a buffer)."""
MAX_RUN = 64
"""Longest run of our pending edits one content change is tried as."""
COST_DIFF_LIMIT = 400
"""Longest hunk (old plus new text) whose cost is counted by a character diff."""
WINDOW_MARGIN = 2
"""Lines of context kept around the window (our inserts can add lines above a position)."""


def to_change(doc: Document, encoding: Encoding, event: ContentChange) -> Change:
    """A content change in code points against the document as it is now."""
    rng, text = event
    if rng is None:  # whole-document change: the minimal replacement it amounts to
        old = doc.text
        prefix = common_prefix(old, text)
        suffix = common_suffix(old, text, prefix)
        start = _pos_of(old, prefix)
        end = _pos_of(old, len(old) - suffix)
        return doc.make_change(start, end, text[prefix : len(text) - suffix])
    start = doc.from_client(encoding, *rng[0])
    end = doc.from_client(encoding, *rng[1])
    return doc.make_change(start, end, text)


def apply_did_change(
    doc: Document,
    streamer: DocStreamer | None,
    encoding: Encoding,
    events: Sequence[ContentChange],
    version: int,
) -> None:
    """Apply one didChange to `doc`, telling `streamer` what each part of it was."""
    index = 0
    while index < len(events):
        change = to_change(doc, encoding, events[index])
        if streamer is None or not (streamer.pending or streamer.active):
            doc.apply(change)
            index += 1
            continue
        taken = _combined_echo(doc, streamer, encoding, events, index, change)
        if taken:
            index += taken
            continue
        # LSP: the version grows with every change, so a lone content change whose version
        # grew by one cannot be ours *and* the user's (an upper bound on what it holds);
        # not for a client that bumps once per didChange (eglot 1.17, merged changes).
        budget = (
            version - doc.version
            if len(events) == 1 and version > doc.version and not streamer.version_late
            else None
        )
        # The last content change of the notification holds whatever the client applied
        # and acknowledged before it sent it: edits it certainly applied are in it.
        last = index == len(events) - 1
        pieces = decompose(doc, streamer, encoding, change, budget, last)
        for kind, sent_index, span in pieces:
            if kind == "ours":
                if span is _NO_SPAN:  # where its positions point now
                    span = streamer.literal(streamer.pending[sent_index])
                if len(pieces) == 1 and span == (change.start, change.end, change.text):
                    piece = change  # the change is exactly our edit (the common case)
                else:
                    piece = doc.make_change(*span)
                streamer.take(sent_index, piece)
            else:
                piece = doc.make_change(span[0], span[1], span[2])
                streamer.on_foreign(piece)
            doc.apply(piece)
        index += 1
    doc.version = version
    doc.changes_received += 1
    if streamer is not None:
        streamer.on_batch_end()


# ---------------------------------------------------------------------- decomposition

Span = tuple[Pos, Pos, str]
Piece = tuple[str, int, Span]
"""("ours", index in the streamer's pending list at its turn, _) or ("user", -1, span);
each in the coordinates of the document at its turn."""
_NO_SPAN: Span = ((0, 0), (0, 0), "")
Found = tuple[list[Piece], int]
"""An explanation and its cost (see `_cost`)."""


def decompose(
    doc: Document,
    streamer: DocStreamer,
    encoding: Encoding,
    change: Change,
    budget: int | None = None,
    last: bool = False,
) -> list[Piece]:
    """Split one content change into our pending edits and the user's hunks (see module).

    `last`: the change ends its didChange, so the edits the client certainly applied
    (`DocStreamer.certainly_applied`) before sending it are in it, or were in earlier ones.
    """
    index = streamer.match(change)
    if index is not None:
        return [("ours", index, _NO_SPAN)]
    one_line = change.start[0] == change.end[0] and not any(c in change.text for c in "\r\n")
    if one_line and not streamer.pending:  # plain typing: nothing to split or explain
        return [("user", -1, (change.start, change.end, change.text))]
    must = 0 if last else -1
    if last:
        while must < len(streamer.pending) and streamer.certainly_applied(streamer.pending[must]):
            must += 1
    return _with_pending(doc, streamer, encoding, change, budget, must)


def _changes(pieces: list[Piece]) -> int:
    """How many client changes an explanation takes at least (ours, and one for the user's)."""
    ours = sum(1 for kind, _, _ in pieces if kind == "ours")
    return ours + (1 if ours < len(pieces) else 0)


def _with_pending(
    doc: Document,
    streamer: DocStreamer,
    encoding: Encoding,
    change: Change,
    budget: int | None,
    must: int = 0,
) -> list[Piece]:
    starts = [streamer.pending.index(sent) for sent, _ in streamer.candidates()]
    window = _Window.around(doc, change, streamer.pending)
    if window is None:
        return [("user", -1, (change.start, change.end, change.text))]
    # The most parsimonious explanation wins: the least text left to the user, then the
    # longest run of ours (the user's own change is usually small; ours are known).
    # On equal cost, the reading with more edits the client said it applied wins: a
    # client reports every change it made since its last didChange (see on_batch_end).
    # A reading that leaves out an edit the client certainly applied is wrong whatever it
    # costs: line breaks slide, so the user's typing can look cheaper without ours (the
    # leftover edit would be "acknowledged but never applied", sent again, and delete the
    # user's text). Such readings lose to any that keeps the first `must` pending edits.
    best, best_cost = window.user_only()
    best_acked = 0
    best_covers = must <= 0
    for first in starts:
        run = streamer.pending[first : first + MAX_RUN]
        for count in range(len(run), 0, -1):
            seq = run[:count]
            # (only for the change that ends its notification: before it, the client's
            # acknowledged edits may as well be in the changes that follow)
            acked = sum(1 for sent in seq if sent.acked and sent.applied) if must >= 0 else 0
            # On a tie the user's changes are taken as earlier than ours: the other
            # reading would put them inside the region next to our text (a conflict).
            for found in (
                window.ours_last(encoding, first, seq),
                window.ours_first(encoding, first, seq),
            ):
                if found is None:
                    continue
                pieces, cost = found
                if budget is not None and _changes(pieces) > budget:
                    continue
                covers = must <= 0 or (first == 0 and count >= must)
                better = (covers, -cost, acked) > (best_covers, -best_cost, best_acked)
                if better and window.replays(encoding, pieces, streamer.pending):
                    best, best_cost, best_acked, best_covers = pieces, cost, acked, covers
                    if cost == 0:
                        return best
    if best_cost and starts:
        # Our next edits may sit inside the user's changes (typed before and after them,
        # all in one merged change): find their text there, nearest to where it was sent.
        run = streamer.pending[starts[0] : starts[0] + MAX_RUN]
        for count in range(len(run), 0, -1):
            found = window.ours_inside(encoding, starts[0], run[:count])
            covers = must <= 0 or (starts[0] == 0 and count >= must)
            if (
                found is not None
                and (covers, -found[1]) > (best_covers, -best_cost)
                and (budget is None or _changes(found[0]) <= budget)
                and window.replays(encoding, found[0], streamer.pending)
            ):
                best = found[0]
                break
    return best


def _blank(doc: Document, low: int, high: int) -> bool:
    """Whether lines `[low, high)` are bare line breaks: a change reported as a minimal
    diff (full sync, diff clients) slides freely through them, so one far from our edits
    may still hold them."""
    return all(not line.rstrip("\r\n") for line in doc.lines[low:high])


def _cost(hunks: list[tuple[int, int, str]], old: str) -> int:
    """How much text an explanation leaves to the user: characters inserted plus deleted.

    Counted by a character diff of each hunk (small ones), not by its length: line breaks
    slide, so a hunk that replaces a line break with "X\nX" is two keystrokes, not four.
    """
    total = 0
    for low, high, text in hunks:
        before = old[low:high]
        if before and text and len(before) + len(text) <= COST_DIFF_LIMIT:
            matcher = difflib.SequenceMatcher(None, before, text, autojunk=False)
            same = sum(block.size for block in matcher.get_matching_blocks())
            total += len(before) + len(text) - 2 * same
        else:
            total += len(text) + high - low
    return total


class _Window:
    """Whole lines `[top, bottom]` of the document before (`old`) and after (`new`) a change."""

    def __init__(self, top: int, old: str, new: str) -> None:
        self.top = top
        self.old = old
        self.new = new

    @classmethod
    def around(cls, doc: Document, change: Change, pending: list[Sent]) -> _Window | None:
        lines = [line for sent in pending for line in (sent.client_start[0], sent.client_end[0])]
        if lines:
            low = min(lines)
            high = max(lines) + sum(s.text.count("\n") + s.text.count("\r") for s in pending)
            if change.end[0] < low - 1 and not _blank(doc, change.end[0] + 1, low):
                return None  # nowhere near our edits: the user's alone
            if change.start[0] > high + 1 and not _blank(doc, high + 1, change.start[0]):
                return None
        else:  # only the user's: split it into hunks (a diff may span a whole region)
            low, high = change.start[0], change.end[0]
        top = max(0, min(low, change.start[0]) - WINDOW_MARGIN)
        bottom = min(doc.line_count - 1, max(high, change.end[0]) + WINDOW_MARGIN)
        old = "".join(doc.lines[top : bottom + 1])
        scratch = Document("", old)
        scratch.apply(
            scratch.make_change(
                (change.start[0] - top, change.start[1]),
                (change.end[0] - top, change.end[1]),
                change.text,
            )
        )
        return cls(top, old, scratch.text)

    def _at(self, doc: Document, encoding: Encoding, client: tuple[int, int]) -> Pos | None:
        line = client[0] - self.top
        if not 0 <= line < doc.line_count:
            return None
        return doc.from_client(encoding, line, client[1])

    def _pos(self, text: str, offset: int) -> Pos:
        pos = _pos_of(text, offset)
        return (pos[0] + self.top, pos[1])

    def ours_first(self, encoding: Encoding, first: int, seq: list[Sent]) -> Found | None:
        """Our edits applied in order at the positions the client got, then the user's."""
        scratch = Document("", self.old)
        landed: list[list[int]] = []
        for sent in seq:
            start = self._at(scratch, encoding, sent.client_start)
            end = self._at(scratch, encoding, sent.client_end)
            if start is None or end is None:
                return None
            change = scratch.make_change(start, max(start, end), sent.text)
            at = _offset(scratch, change.start)
            size = len(change.old)
            for span in landed:
                if size == 0 and span[0] < at < span[1]:
                    # an insert inside our earlier text (before its trailing line break)
                    span[1] += len(sent.text)
                    continue
                if at < span[1] and at + size > span[0]:
                    return None
                if span[0] >= at + size:
                    span[0] += len(sent.text) - size
                    span[1] += len(sent.text) - size
            landed.append([at, at + len(sent.text)])
            scratch.apply(change)
        text = scratch.text
        hunks = _hunks(text, self.new)
        if _touches(hunks, [(start, end) for start, end in landed], points=True):
            return None
        pieces: list[Piece] = [("ours", first if i == 0 else 0, _NO_SPAN) for i in range(len(seq))]
        for low, high, new in reversed(hunks):
            pieces.append(("user", -1, (self._pos(text, low), self._pos(text, high), new)))
        return pieces, _cost(hunks, text)

    def ours_last(self, encoding: Encoding, first: int, seq: list[Sent]) -> Found | None:
        """The user's changes first, then our edits where their positions point by then."""
        scratch = Document("", self.new)
        landed: list[tuple[int, int]] = []  # where ours sit, in the coordinates before ours
        for sent in reversed(seq):
            start = self._peel_at(scratch, encoding, sent)
            if start is None:
                return None
            end = extent(start, sent.text)
            at = _offset(scratch, start)
            grow = len(sent.old) - len(sent.text)
            landed = [
                (a + grow, b + grow) if a >= at + len(sent.text) else (a, b) for a, b in landed
            ]
            landed.append((at, at + len(sent.old)))
            scratch.apply(scratch.make_change(start, end, sent.old))
        before_ours = scratch.text
        hunks = _hunks(self.old, before_ours)
        shifted: list[tuple[int, int, str]] = []
        shift = 0
        for low, high, new in hunks:  # the user's text, in the coordinates before ours
            shifted.append((low + shift, low + shift + len(new), new))
            shift += len(new) - (high - low)
        if _touches(shifted, landed, points=False):
            return None
        # Ours after the user's changes, inside their text or at positions those changes
        # moved: a misplaced
        # edit. Impossible for a pinned edit (the client refuses or skips it); for an
        # unversioned one it is rare (a keystroke inside the send->apply window), so it
        # costs one character more than the reading without it.
        penalty = 0
        for (at, _end), sent in zip(landed, reversed(seq), strict=True):
            if any(
                low < at < high or _moves(before_ours, high, new, at) for low, high, new in shifted
            ):
                if sent.pinned:
                    return None
                penalty += 1
        pieces: list[Piece] = [
            ("user", -1, (self._pos(self.old, low), self._pos(self.old, high), new))
            for low, high, new in reversed(hunks)
        ]
        pieces.extend(("ours", first if i == 0 else 0, _NO_SPAN) for i in range(len(seq)))
        return pieces, _cost(hunks, self.old) + penalty

    def _peel_at(self, doc: Document, encoding: Encoding, sent: Sent) -> Pos | None:
        """Where `sent` sits in `doc` (its text applied last), if it does.

        Its position is read in the text before it, which differs from `doc` only from
        the position on; a column past the end of that line was clamped to its end.
        """
        start = self._at(doc, encoding, sent.client_start)
        if start is None:
            return None
        if doc.slice(start, extent(start, sent.text)) == sent.text:
            return start
        line = start[0]
        content = doc.line(line)
        for column in range(min(start[1], len(content)), -1, -1):
            end = extent((line, column), sent.text)
            if doc.slice((line, column), end) != sent.text:
                continue
            rest = doc.line(end[0])[end[1] :] if sent.old == "" else None
            if rest == "" and encoding.to_client(content[:column], column) < sent.client_start[1]:
                return (line, column)  # clamped: the line ended there before our text
        return None

    def ours_inside(self, encoding: Encoding, first: int, seq: list[Sent]) -> Found | None:
        """Our consecutive insertions `seq` found together inside the changed text, the
        rest the user's (the user's changes before them moved where they landed)."""
        if any(sent.old or not sent.text or sent.pinned for sent in seq):
            return None  # a pinned edit cannot land anywhere but where it was sent
        if any(b.start != extent(a.start, a.text) for a, b in itertools.pairwise(seq)):
            return None
        text = "".join(sent.text for sent in seq)
        prefix = common_prefix(self.old, self.new)
        suffix = common_suffix(self.old, self.new, prefix)
        scratch = Document("", self.old)
        target = self._at(scratch, encoding, seq[0].client_start)
        if target is None:
            return None
        aim = _offset(scratch, target)
        hits: list[int] = []
        at = self.new.find(text, max(0, prefix - len(text)))
        while at != -1 and at <= len(self.new) - suffix and len(hits) < 16:
            hits.append(at)
            at = self.new.find(text, at + 1)
        if not hits:
            return None
        at = min(hits, key=lambda hit: abs(hit - aim))
        before = self.new[:at] + self.new[at + len(text) :]
        hunks = _hunks(self.old, before)
        pieces: list[Piece] = [
            ("user", -1, (self._pos(self.old, low), self._pos(self.old, high), new))
            for low, high, new in reversed(hunks)
        ]
        spot = self._pos(before, at)
        for index, sent in enumerate(seq):
            pieces.append(("ours", first if index == 0 else 0, (spot, spot, sent.text)))
            spot = extent(spot, sent.text)
        return pieces, _cost(hunks, self.old) + 1

    def replays(self, encoding: Encoding, pieces: list[Piece], pending: list[Sent]) -> bool:
        """Whether feeding `pieces` as `apply_did_change` will turns old into new exactly."""
        scratch = Document("", self.old)
        queue = list(pending)
        for kind, index, (start, end, text) in pieces:
            if kind == "ours":
                sent = queue[index]
                del queue[: index + 1]
                if (start, end, text) != _NO_SPAN:
                    low, high = (start[0] - self.top, start[1]), (end[0] - self.top, end[1])
                    if low[0] < 0 or high[0] >= scratch.line_count:
                        return False
                    scratch.apply(scratch.make_change(low, high, text))
                    continue
                at = self._at(scratch, encoding, sent.client_start)
                to = self._at(scratch, encoding, sent.client_end)
                if at is None or to is None:
                    return False
                scratch.apply(scratch.make_change(at, max(at, to), sent.text))
            else:
                low, high = (start[0] - self.top, start[1]), (end[0] - self.top, end[1])
                if low[0] < 0 or high[0] >= scratch.line_count:
                    return False
                scratch.apply(scratch.make_change(low, high, text))
        return scratch.text == self.new

    def user_only(self) -> Found:
        hunks = _hunks(self.old, self.new)
        pieces: list[Piece] = [
            ("user", -1, (self._pos(self.old, low), self._pos(self.old, high), new))
            for low, high, new in reversed(hunks)
        ]
        return pieces, _cost(hunks, self.old)


def _combined_echo(
    doc: Document,
    streamer: DocStreamer,
    encoding: Encoding,
    events: Sequence[ContentChange],
    index: int,
    first: Change,
) -> int:
    """Recognise one of our edits echoed as several changes; returns how many it took.

    Neovim reports a deletion that reaches the end of the buffer as two changes (the text,
    then the line break left over), so the effect of a short run of changes is compared
    with our pending edits too. Rare, so a scratch copy of the document is fine.
    """
    if index + 1 >= len(events) or not streamer.pending or streamer.match(first) is not None:
        return 0  # (a lone change, the common case, first: `decompose` matches it next)
    candidates = streamer.candidates()
    for count in range(2, min(MAX_COMBINED, len(events) - index) + 1):
        scratch = Document(doc.uri, "", doc.version, doc.language_id)
        scratch.lines = list(doc.lines)
        for event in events[index : index + count]:
            if event[0] is None:
                return 0
            scratch.apply(to_change(scratch, encoding, event))
        for position, (_sent, (start, end, text)) in enumerate(candidates):
            expected = Document(doc.uri, "", doc.version, doc.language_id)
            expected.lines = list(doc.lines)
            expected.apply(expected.make_change(start, end, text))
            if expected.lines == scratch.lines:
                piece = doc.make_change(start, end, text)
                streamer.take(streamer.pending.index(candidates[position][0]), piece)
                doc.lines = scratch.lines
                return count
    return 0


# ---------------------------------------------------------------------- text helpers


def _moves(text: str, high: int, new: str, at: int) -> bool:
    """Whether the user's text `new` ending at `high` in `text` (after the change) moved
    what the line/column position `at` points to (a change before it on its line, or one
    that added or removed lines above it)."""
    if high > at:
        return False
    return "\n" not in text[high:at] or "\n" in new


def _touches(
    hunks: list[tuple[int, int, str]], spans: list[tuple[int, int]], *, points: bool
) -> bool:
    """Whether a hunk of the user's cuts into one of our spans.

    A hunk may sit right next to our text, not inside it. With `points`, a hunk at an
    empty span (where an edit of ours deleted text) also counts: it would be the user
    putting back what we deleted, an explanation the text cannot tell from "not applied".
    """
    for low, high, _ in hunks:
        for start, end in spans:
            if start == end:
                if points and low <= start <= high:
                    return True
            elif low < end and high > start:
                return True
    return False


def _offset(doc: Document, pos: Pos) -> int:
    return sum(len(line) for line in doc.lines[: pos[0]]) + pos[1]


def _hunks(old: str, new: str) -> list[tuple[int, int, str]]:
    """Minimal-ish hunks turning `old` into `new`: (start, end in old, replacement).

    Common prefix and suffix first, then a line diff of the middle, each differing block
    trimmed to its changed characters. Never splits a CRLF pair.
    """
    if old == new:
        return []
    prefix = common_prefix(old, new)
    suffix = common_suffix(old, new, prefix)
    o_mid, n_mid = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    blocks: list[tuple[int, int, int, int]] = []
    if not o_mid or not n_mid or ("\n" not in o_mid and "\n" not in n_mid):
        blocks.append((0, len(o_mid), 0, len(n_mid)))
    else:
        o_lines = o_mid.splitlines(keepends=True)
        n_lines = n_mid.splitlines(keepends=True)
        o_at = [0]
        for line in o_lines:
            o_at.append(o_at[-1] + len(line))
        n_at = [0]
        for line in n_lines:
            n_at.append(n_at[-1] + len(line))
        matcher = difflib.SequenceMatcher(None, o_lines, n_lines, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag != "equal":
                blocks.append((o_at[i1], o_at[i2], n_at[j1], n_at[j2]))
    out: list[tuple[int, int, str]] = []
    for o1, o2, n1, n2 in blocks:
        a, b = o_mid[o1:o2], n_mid[n1:n2]
        p = common_prefix(a, b)
        q = common_suffix(a, b, p)
        low, high = prefix + o1 + p, prefix + o2 - q
        text = b[p : len(b) - q]
        if low > 0 and old[low - 1] == "\r" and old[low : low + 1] == "\n":
            low -= 1
            text = "\r" + text
        if 0 < high < len(old) and old[high - 1] == "\r" and old[high] == "\n":
            high += 1
            text += "\n"
        out.append((low, high, text))
    return out


def _pos_of(text: str, offset: int) -> Pos:
    lines = split_lines(text[:offset])
    return (len(lines) - 1, len(lines[-1]))


__all__ = ["ContentChange", "apply_did_change", "decompose", "to_change"]
