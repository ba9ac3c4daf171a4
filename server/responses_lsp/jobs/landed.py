"""Finished AI edits the user can still revert in one edit ("Revert AI edit"), in any client.

When a single-file job has been applied, its region — the text it wrote, and the original it
replaced — is kept here (`add`). Every later didChange is mapped through it (`changed`), in
the client's own position units, so no document text is read per keystroke: a change before
the region moves it, a change after it leaves it, a change that touches it forgets it (the
user edited what the job wrote: the revert is gone). A whole-document change forgets the
document's regions (the server asks for incremental sync; such a change says nothing about
where). When a code action is asked for, `intact` confirms by the text itself that the region
still holds exactly what the job wrote; the revert command (`jobs/revert.py`) replaces it by
the original in one `workspace/applyEdit`, versioned, so a client whose buffer moved on
refuses it rather than apply it to other text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from responses_lsp.editing.document import Document, Encoding, Pos, split_lines
from responses_lsp.editing.geometry import map_pos

KEEP_PER_DOCUMENT = 8
"""Finished edits remembered per document (the newest)."""

ClientPos = tuple[int, int]


@dataclass
class Landed:
    job_id: int
    action: str
    uri: str
    start: ClientPos  # in the client's position units, as the didChange ranges are
    end: ClientPos
    written: str
    original: str


def _extent(start: ClientPos, text: str, encoding: Encoding) -> ClientPos:
    """Where `text` inserted at `start` ends, in client units."""
    lines = split_lines(text)
    last = lines[-1]
    if len(lines) == 1:
        return (start[0], start[1] + encoding.units(last))
    return (start[0] + len(lines) - 1, encoding.units(last))


class LandedEdits:
    def __init__(self) -> None:
        self.by_uri: dict[str, list[Landed]] = {}

    def add(
        self,
        *,
        job_id: int,
        action: str,
        doc: Document,
        encoding: Encoding,
        start: Pos,
        end: Pos,
        original: str,
    ) -> None:
        """Job `job_id` wrote `[start, end)` of `doc` (it replaced `original`)."""
        written = doc.slice(start, end)
        if not written or written == original:
            return
        landed = Landed(
            job_id=job_id,
            action=action,
            uri=doc.uri,
            start=doc.to_client(encoding, start),
            end=doc.to_client(encoding, end),
            written=written,
            original=original,
        )
        entries = self.by_uri.setdefault(doc.uri, [])
        entries.append(landed)
        del entries[:-KEEP_PER_DOCUMENT]

    def forget(self, uri: str) -> None:
        self.by_uri.pop(uri, None)

    def changed(self, uri: str, encoding: Encoding, changes: Sequence[Any]) -> None:
        """One didChange's content changes (in order), after the document took them."""
        entries = self.by_uri.get(uri)
        if not entries:
            return
        for change in changes:
            rng = getattr(change, "range", None)
            if rng is None:  # the whole text: no telling what moved
                self.forget(uri)
                return
            start = (rng.start.line, rng.start.character)
            end = (rng.end.line, rng.end.character)
            new_end = _extent(start, str(change.text), encoding)
            kept = []
            for landed in entries:
                if end <= landed.start or start >= landed.end:  # before or after it
                    landed.start = map_pos(landed.start, start, end, new_end, stick_right=True)
                    landed.end = map_pos(landed.end, start, end, new_end, stick_right=False)
                    kept.append(landed)
            entries[:] = kept
        if not entries:
            self.forget(uri)

    def intact(self, doc: Document, encoding: Encoding) -> list[tuple[Landed, Pos, Pos]]:
        """The document's finished edits that still hold exactly what their job wrote, with
        where they are now (code points), newest first."""
        found = []
        for landed in reversed(self.by_uri.get(doc.uri, [])):
            start = doc.from_client(encoding, *landed.start)
            end = doc.from_client(encoding, *landed.end)
            if doc.to_client(encoding, start) != landed.start:
                continue  # the position no longer exists as it was
            if doc.slice(start, end) == landed.written:
                found.append((landed, start, end))
        return found

    def find(
        self, doc: Document, encoding: Encoding, job_id: int
    ) -> tuple[Landed, Pos, Pos] | None:
        return next((item for item in self.intact(doc, encoding) if item[0].job_id == job_id), None)

    def take(self, uri: str, job_id: int) -> None:
        """The edit of `job_id` was reverted: nothing to offer for it any more."""
        entries = [e for e in self.by_uri.get(uri, []) if e.job_id != job_id]
        if entries:
            self.by_uri[uri] = entries
        else:
            self.forget(uri)
