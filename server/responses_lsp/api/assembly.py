"""One attempt's events in, the events a consumer can rely on out, whatever the gateway sent.

Responses implementations disagree on which events carry what (responses-api.md §10):
OpenAI streams `output_text.delta`s and repeats the text in `output_text.done`,
`output_item.done` and `response.completed`; llama-stack sends deltas and
`response.completed` only (its output holds the items); the Codex CLI's fixtures have
answers whose text is only in `output_item.done`. `StreamAssembler` turns all of them into
one shape, so the job and the tool loop read deltas for text and `output_item.done` for
history and tool calls:

- text: the deltas; for a message with none, its text from `output_text.done` /
  `output_item.done` / `response.completed`, as one synthesized delta;
- items: `output_item.done`; when a stream has none, the items of `response.completed`,
  synthesized as `output_item.done` events before it;
- integrity: whenever the stream carries the final text of a message, the deltas received
  for it must equal it. A missing tail is sent as one more delta; any other difference
  yields a `StreamCorrection` (the consumer starts again, as after a retry, without a new
  request), then the items seen so far and the authoritative text.
"""

from __future__ import annotations

import logging

from responses_lsp.api.events import (
    ClientEvent,
    MessageItem,
    OutputItemDone,
    OutputTextDelta,
    ParsedEvent,
    ResponseCompleted,
    RetryScheduled,
    StreamCorrection,
    TextDone,
)
from responses_lsp.errors import StreamCorrupted

__all__ = ["RetryScheduled", "StreamAssembler", "StreamCorrection", "text_delta"]

log = logging.getLogger(__name__)


def text_delta(text: str) -> OutputTextDelta:
    return OutputTextDelta(type="response.output_text.delta", delta=text)


class StreamAssembler:
    """Normalizes the events of one attempt (see the module docstring)."""

    def __init__(self, *, attempt: int = 1, max_attempts: int = 1) -> None:
        self.attempt = attempt
        self.max_attempts = max_attempts
        self.items: list[OutputItemDone] = []
        """The `output_item.done` events given to the consumer so far (real or synthesized)."""
        self._text: list[str] = []  # all text given to the consumer so far (joined on demand)
        self.corrections = 0
        self._pending: list[str] = []  # deltas since the last settled message text
        self._settled_ids: set[str] = set()
        self._saw_text_done = False

    def feed(self, event: ParsedEvent) -> list[ClientEvent]:
        """The events to hand on for `event` (usually just `[event]`)."""
        if isinstance(event, OutputTextDelta):
            self._pending.append(event.delta)  # lists: a long answer stays O(n), not O(n^2)
            self._text.append(event.delta)
            return [event]
        if isinstance(event, TextDone) and event.type == "response.output_text.done":
            self._saw_text_done = True
            if event.item_id:
                self._settled_ids.add(event.item_id)
            return [*self._settle(event.text or ""), event]
        if isinstance(event, OutputItemDone):
            out: list[ClientEvent] = []
            item = event.item
            if isinstance(item, MessageItem) and not (item.id and item.id in self._settled_ids):
                out += self._settle(item.text)
            self.items.append(event)
            return [*out, event]
        if isinstance(event, ResponseCompleted):
            return [*self._from_completed(event), event]
        return [event]

    @property
    def text(self) -> str:
        """All text given to the consumer so far."""
        return "".join(self._text)

    def _from_completed(self, event: ResponseCompleted) -> list[ClientEvent]:
        """Items (and their text) that only `response.completed` carries."""
        seen = {getattr(e.item, "id", None) for e in self.items} - {None}
        out: list[ClientEvent] = []
        for index, item in enumerate(event.response.output):
            item_id = getattr(item, "id", None)
            if self.items and (item_id is None or item_id in seen):
                continue  # output_item.done already gave it (completed.output duplicates them)
            if isinstance(item, MessageItem) and not self._saw_text_done:
                out += self._settle(item.text)
            done = OutputItemDone(type="response.output_item.done", output_index=index, item=item)
            self.items.append(done)
            out.append(done)
        return out

    def _settle(self, final: str) -> list[ClientEvent]:
        """Compare the deltas of one message with its final text; the events that fix them."""
        pending = "".join(self._pending)
        self._pending = []
        if not final or pending == final:
            return []  # no authoritative text (or a match): keep what was streamed
        if final.startswith(pending):
            tail = final[len(pending) :]
            self._text.append(tail)
            return [text_delta(tail)]
        # a hole or a changed character: the final text wins, the consumer starts over
        text = self.text
        corrected = text[: len(text) - len(pending)] + final
        log.warning(
            "the streamed text (%d chars) differs from the final text (%d chars); using the "
            "final text",
            len(pending),
            len(final),
        )
        self.corrections += 1
        self._text = [corrected]
        correction = StreamCorrection(
            attempt=self.attempt,
            max_attempts=self.max_attempts,
            delay=0.0,
            error=StreamCorrupted("the streamed text differed from the final text"),
        )
        return [correction, *self.items, text_delta(corrected)]
