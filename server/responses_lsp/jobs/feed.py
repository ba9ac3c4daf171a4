"""A stream's text, handed to the sanitizer and the region one socket read at a time.

The job's consumer only collects the deltas of the events it reads (`add`); when the
connection is about to read the socket again (`before_read`, see `api.pacing`), everything
collected goes through the sanitizer in one piece, is appended to the region, and the driver is
pumped once. The answer is how long the connection should wait before reading: until the
document's next edit may go, so that each read feeds exactly one edit and tokens that arrive
in between wait in the kernel, not in our event loop.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from responses_lsp.editing.sanitizer import SanitizerOptions, StreamSanitizer

if TYPE_CHECKING:
    from responses_lsp.editing.driver import EditDriver
    from responses_lsp.editing.live_region import RegionJob

log = logging.getLogger(__name__)

READ_EARLY = 0.001
"""Seconds before the next edit window that the socket is read (< streamer.SEND_SLACK)."""


class StreamFeed:
    """Implements `api.pacing.ReadPace` for a job streaming into `region` of `uri`."""

    def __init__(
        self, options: SanitizerOptions, region: RegionJob, driver: EditDriver, uri: str
    ) -> None:
        self.options = options
        self.sanitizer = StreamSanitizer(options)
        self.region = region
        self.driver = driver
        self.uri = uri
        self.pending: list[str] = []
        self.error: Exception | None = None
        """What went wrong inside `before_read` (it must not raise into the HTTP stack)."""

    def add(self, delta: str) -> None:
        self.pending.append(delta)

    def restart(self) -> None:
        """A new attempt: nothing collected counts any more, the sanitizer starts over."""
        self.pending.clear()
        self.sanitizer = StreamSanitizer(self.options)

    def flush(self) -> None:
        """The collected text into the sanitizer (once), the region and the driver."""
        if not self.pending:
            return
        text = self.pending[0] if len(self.pending) == 1 else "".join(self.pending)
        self.pending.clear()
        delta = self.sanitizer.feed(text)
        if delta:  # the straight token path: appended, never re-joined
            self.region.append(delta)
            self.driver.pump(self.uri)

    def before_read(self) -> float:
        try:
            self.flush()
        except Exception as exc:
            log.exception("handing streamed text to the editor failed")
            self.error = exc
            return 0.0
        # Read just before the edit window opens: the text read goes out in that window's
        # edit (the streamer lets it go SEND_SLACK early), not after the window's timer.
        return self.driver.next_edit_in(self.uri) - READ_EARLY
