"""Server-sent events: the frames in the text of a stream, a read at a time.

The event-stream rules of the WHATWG HTML standard ("Interpreting an event stream"): lines end
in CR, LF or CRLF (a CRLF may be split between two reads); a line starting with `:` is a
comment; `event` and `data` fields, `data` lines joined with LF; a blank line dispatches the
frame, and a frame with no data is dropped; `id` and `retry` are read and ignored (the
Responses API does not resume streams); a frame the stream ends in the middle of is dropped.

What it replaces is httpx-sse's line decoder, which builds an object per line and per frame;
this one splits the text of a whole read at once (tests/unit/test_sse.py checks it against
httpx-sse's decoder on every way of cutting the same streams).
"""

from __future__ import annotations

Frame = tuple[str, str]
"""(event name, data) of one frame."""


class SSEFrames:
    def __init__(self) -> None:
        self._rest = ""  # an unfinished line
        self._cr = False  # the last text ended in CR: an LF right after it ends nothing
        self._event = ""
        self._data: list[str] = []

    def feed(self, text: str) -> list[Frame]:
        """The frames completed by `text`."""
        if self._cr:
            self._cr = False
            if text.startswith("\n"):
                text = text[1:]
        if "\r" in text:
            self._cr = text.endswith("\r")
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        end = text.rfind("\n")
        if end < 0:
            self._rest += text
            return []
        lines = text[:end].split("\n")
        if self._rest:
            lines[0] = self._rest + lines[0]
        self._rest = text[end + 1 :]
        frames: list[Frame] = []
        for line in lines:
            if not line:
                if self._data:
                    frames.append((self._event or "message", "\n".join(self._data)))
                    self._data = []
                self._event = ""
            elif line[0] != ":":
                name, _, value = line.partition(":")
                if value[:1] == " ":
                    value = value[1:]
                if name == "data":
                    self._data.append(value)
                elif name == "event":
                    self._event = value
        return frames
