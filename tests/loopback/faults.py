"""The fault DSL: replies a real endpoint sends when something goes wrong, for the test suite.

`Reply` here is the shipped `responses_lsp.loopback.Reply` (every successful stream and HTTP
error) plus what only tests script: streams that end `incomplete`, `failed` or with an `error`
event after N events, dropped connections (aborted or cleanly ended without a terminal event),
stalls (optionally resuming), garbage frames, exact raw events or bytes (replayed streams), an
HTML page with status 200, a delay before the status line and HTTP bodies written in small
pieces. `render` turns those plans into frames plus the index of the frame where the stream is
cut; `tests/loopback/server.py` plays the cut. Specs (`from_spec`) build any of them from JSON
(the standalone server `python -m tests.loopback`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Unpack

from responses_lsp.loopback import Reply as ShippedReply
from responses_lsp.loopback import StreamOptions as ShippedStreamOptions
from responses_lsp.loopback.streams import Frame, Rendered, StreamBuilder, compute_usage
from responses_lsp.loopback.wire import (
    JSON,
    default_error,
    message_item,
    rate_limit_message,
    sse_frame,
)

Ending = Literal["completed", "incomplete", "failed", "error_event"]
Cut = Literal["drop", "drop_clean", "stall"]

DEFAULT_PARTIAL = "def partial(x):\n    return x +"


class StreamOptions(ShippedStreamOptions, total=False):
    """The shipped stream options, plus how the bytes go out."""

    write_chunk_size: int | None  # split the HTTP body into writes (HTTP chunks) of this many bytes
    header_delay: float  # seconds to wait before sending the status line


@dataclass(frozen=True)
class FaultRendered(Rendered):
    """The frames of a fault reply, and (drop/stall) the index of the frame the cut comes before."""

    cut_index: int | None = None


@dataclass(frozen=True)
class Reply(ShippedReply):
    """A scripted reply, including the faults. The fields below are the fault plan."""

    header_delay: float = 0.0
    ending: Ending = "completed"
    failure: JSON | None = None  # {code, message} for "failed" / "error_event"
    incomplete_reason: str = "max_output_tokens"
    cut_after: int | None = None  # events sent before failed / error_event / drop / stall
    cut: Cut | None = None
    stall_seconds: float | None = None
    stall_resume: bool = False  # after `stall_seconds`, send the rest instead of aborting
    garbage: bool = False
    raw: tuple[JSON, ...] | None = None
    raw_bytes: tuple[bytes, ...] | None = None  # exact frames, sent as they are (replays)
    write_chunk_size: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.write_chunk_size is not None and self.write_chunk_size <= 0:
            raise ValueError("write_chunk_size must be positive")

    def render(self, *, model: str | None, input_bytes: int) -> Rendered:
        return render(self, model=model, input_bytes=input_bytes)

    # ---- fixed bodies, with a header delay ----------------------------------------------------

    @classmethod
    def error(cls, status: int, *, header_delay: float = 0.0, **options: Any) -> Reply:
        return super().error(status, **options).replace(header_delay=header_delay)

    @classmethod
    def compacted(
        cls, output_items: Sequence[JSON], *, header_delay: float = 0.0, **options: Any
    ) -> Reply:
        return super().compacted(output_items, **options).replace(header_delay=header_delay)

    # ---- streams that go wrong ------------------------------------------------------------------

    @classmethod
    def incomplete(
        cls,
        reason: str = "max_output_tokens",
        text: str = DEFAULT_PARTIAL,
        **options: Unpack[StreamOptions],
    ) -> Reply:
        """Partial text, then `response.incomplete` with `incomplete_details.reason`."""
        item = message_item(text, status="incomplete")
        return cls._stream(
            "incomplete", [item], ending="incomplete", incomplete_reason=reason, **options
        )

    @classmethod
    def failed(
        cls,
        code: str = "server_error",
        message: str | None = None,
        after_events: int = 2,
        *,
        text: str = DEFAULT_PARTIAL,
        retry_seconds: float = 1.5,
        **options: Unpack[StreamOptions],
    ) -> Reply:
        """`after_events` events of a text stream, then `response.failed` with
        `response.error = {code, message}`."""
        if message is None:
            message = (
                rate_limit_message(retry_seconds)
                if code == "rate_limit_exceeded"
                else default_error(500, code)[3]
            )
        return cls._stream(
            "failed",
            [message_item(text)],
            ending="failed",
            failure={"code": code, "message": message},
            cut_after=after_events,
            **options,
        )

    @classmethod
    def error_event(
        cls,
        code: str | None = "server_error",
        message: str = "The server had an error while processing your request.",
        after_events: int = 2,
        *,
        text: str = DEFAULT_PARTIAL,
        **options: Unpack[StreamOptions],
    ) -> Reply:
        """`after_events` events, then an `error` event; the body then ends (no terminal event)."""
        return cls._stream(
            "error_event",
            [message_item(text)],
            ending="error_event",
            failure={"code": code, "message": message},
            cut_after=after_events,
            **options,
        )

    @classmethod
    def drop(
        cls,
        after_events: int = 3,
        *,
        clean: bool = False,
        text: str = DEFAULT_PARTIAL,
        **options: Unpack[StreamOptions],
    ) -> Reply:
        """Start a text stream and close the connection after `after_events` events.

        `clean=False` aborts without the terminating zero-length chunk (incomplete body);
        `clean=True` ends the chunked body properly but without `response.completed`.
        """
        cut: Cut = "drop_clean" if clean else "drop"
        return cls._stream("drop", [message_item(text)], cut=cut, cut_after=after_events, **options)

    @classmethod
    def stall(
        cls,
        after_events: int = 3,
        *,
        seconds: float | None = None,
        resume: bool = False,
        text: str = DEFAULT_PARTIAL,
        **options: Unpack[StreamOptions],
    ) -> Reply:
        """Send `after_events` events, then nothing until the client disconnects, `seconds` pass
        or the server stops. After `seconds`: abort the connection (or with `resume=True` send the
        rest of the stream)."""
        return cls._stream(
            "stall",
            [message_item(text)],
            cut="stall",
            cut_after=after_events,
            stall_seconds=seconds,
            stall_resume=resume,
            **options,
        )

    @classmethod
    def malformed(cls, text: str, **options: Unpack[StreamOptions]) -> Reply:
        """A successful text stream plus frames a client must tolerate: an SSE comment, a non-JSON
        `data:` line, an unknown event type, an unknown output item type, and a final `[DONE]`."""
        items = [{"type": "future_item", "status": "completed"}, message_item(text)]
        return cls._stream("malformed", items, garbage=True, **options)

    @classmethod
    def raw_events(cls, events: Sequence[JSON], **options: Unpack[StreamOptions]) -> Reply:
        """Exactly these events (a missing `sequence_number` is filled in); every one is paced."""
        return cls(kind="raw_events", raw=tuple(dict(e) for e in events), **options)

    @classmethod
    def raw_frames(cls, frames: Sequence[bytes], **options: Unpack[StreamOptions]) -> Reply:
        """Exactly these bytes, one write per frame (replayed streams, broken JSON, bytes that
        are not UTF-8, `data:`-only frames): nothing is added or checked."""
        return cls(kind="raw_frames", raw_bytes=tuple(bytes(f) for f in frames), **options)

    @classmethod
    def wrong_content_type(cls, *, header_delay: float = 0.0) -> Reply:
        """200 with an HTML page (a captive portal / proxy login page in front of the API)."""
        page = b"<!doctype html><html><body><h1>Welcome</h1><p>Please sign in.</p></body></html>"
        return cls(
            kind="wrong_content_type",
            body=page,
            content_type="text/html; charset=utf-8",
            header_delay=header_delay,
        )

    # ---- specs (the standalone server, other languages) -----------------------------------------

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Reply:
        """Build a reply from `{"kind": "text", "text": "...", ...}`: kind names a constructor,
        the other keys are its keyword arguments."""
        kwargs = {k: v for k, v in spec.items() if k != "kind"}
        kind = str(spec.get("kind", "text"))
        builder = _SPEC_KINDS.get(kind)
        if builder is None:
            raise ValueError(f"unknown reply kind {kind!r}; expected one of {sorted(_SPEC_KINDS)}")
        return builder(**kwargs)


_SPEC_KINDS: dict[str, Callable[..., Reply]] = {
    "text": Reply.text,
    "function_call": Reply.function_call,
    "custom_tool_call": Reply.custom_tool_call,
    "items": Reply.items,
    "incomplete": Reply.incomplete,
    "failed": Reply.failed,
    "error_event": Reply.error_event,
    "drop": Reply.drop,
    "stall": Reply.stall,
    "malformed": Reply.malformed,
    "raw_events": Reply.raw_events,
    "error": Reply.error,
    "wrong_content_type": Reply.wrong_content_type,
    "compacted": Reply.compacted,
}


# ---- rendering ---------------------------------------------------------------------------------


def render(reply: Reply, *, model: str | None, input_bytes: int) -> FaultRendered:
    """All frames of `reply` for one request (as the shipped renderer, plus the faults' endings,
    garbage frames, raw events and bytes) and the index of the frame a drop/stall cuts before."""
    b = StreamBuilder(reply, model)
    if reply.raw_bytes is not None:
        return FaultRendered([Frame(data, None, paced=True) for data in reply.raw_bytes], None)
    if reply.raw is not None:
        last_response: JSON | None = None
        for raw in reply.raw:
            event = dict(raw)
            if "sequence_number" not in event:
                event["sequence_number"] = b.seq
            b.seq = int(event["sequence_number"]) + 1
            b.frames.append(Frame(sse_frame(event), event, paced=True))
            if isinstance(event.get("response"), dict):
                last_response = event["response"]
        return FaultRendered(b.frames, last_response)

    b.emit({"type": "response.created", "response": b.response("in_progress", [], None)})
    if reply.garbage:
        b.frames.append(Frame(b": keep-alive\n\n"))
        b.frames.append(Frame(b"data: {this is not json\n\n"))
    b.emit({"type": "response.in_progress", "response": b.response("in_progress", [], None)})
    if reply.garbage:
        b.emit({"type": "response.future_thing", "detail": "clients must ignore unknown events"})
    output = [b.stream_item(index, item) for index, item in enumerate(reply.output)]
    usage = compute_usage(reply, output, input_bytes)

    final: JSON | None
    if reply.ending == "incomplete":
        details = {"reason": reply.incomplete_reason}
        final = b.response("incomplete", output, usage, incomplete_details=details)
        b.emit({"type": "response.incomplete", "response": final})
    elif reply.ending == "failed":
        _truncate(b, reply.cut_after or 0)
        final = b.response("failed", [], None, error=dict(reply.failure or {}))
        b.emit({"type": "response.failed", "response": final})
    elif reply.ending == "error_event":
        _truncate(b, reply.cut_after or 0)
        error = reply.failure or {}
        b.emit(
            {
                "type": "error",
                "code": error.get("code"),
                "message": error.get("message"),
                "param": None,
            }
        )
        final = None
    else:
        final = b.response("completed", output, usage)
        b.emit({"type": "response.completed", "response": final})
    if reply.garbage:
        b.frames.append(Frame(b"data: [DONE]\n\n"))

    cut_index: int | None = None
    if reply.cut is not None:
        # never cut after the terminal event: a drop/stall always withholds response.completed
        total = sum(frame.event is not None for frame in b.frames)
        cut_index = _frame_index_of_event(b.frames, min(reply.cut_after or 0, total - 1))
    return FaultRendered(b.frames, final, cut_index)


def _truncate(b: StreamBuilder, events: int) -> None:
    """Keep only the first `events` event frames (never cutting into lifecycle numbering)."""
    kept: list[Frame] = []
    count = 0
    for frame in b.frames:
        if frame.event is not None:
            if count >= events:
                break
            count += 1
        kept.append(frame)
    b.frames = kept
    b.seq = count


def _frame_index_of_event(frames: list[Frame], events: int) -> int:
    """Index of the frame that holds event number `events` (0-based): `frames[:index]` holds
    exactly `events` events."""
    seen = 0
    for index, frame in enumerate(frames):
        if frame.event is not None:
            if seen == events:
                return index
            seen += 1
    return len(frames)
