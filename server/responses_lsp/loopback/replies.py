"""Scripted replies of the loopback server: the `Reply` value and its constructors.

A `Reply` describes what the server sends for one request: either a fixed body (HTTP errors,
`/responses/compact` results, a wrong content type) or a stream plan (output items to stream, how
deltas are chunked and paced, how the stream ends: completed, incomplete, failed, an `error` event,
a dropped connection or a stall). `streams.render` turns a plan into the exact SSE frames at request
time, with fresh ids. Stdlib only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, Unpack

from . import streams
from .wire import (
    JSON,
    compaction_output,
    default_error,
    dumps,
    error_envelope,
    estimate_tokens,
    message_item,
    new_id,
    now,
    rate_limit_message,
    reasoning_item,
    usage_object,
)

ChunkSpec = int | list[int] | Literal["random"] | None
Ending = Literal["completed", "incomplete", "failed", "error_event"]
Cut = Literal["drop", "drop_clean", "stall"]

DEFAULT_SUMMARY = "**Planning the change**\n\nReading the selection and rewriting it."
DEFAULT_PARTIAL = "def partial(x):\n    return x +"


class StreamOptions(TypedDict, total=False):
    """Options every streamed reply accepts."""

    # delta sizes: None ~4 chars; int fixed; list of sizes (cycled); "random" 1..12 chars
    chunks: ChunkSpec
    seed: int  # seed for chunks="random"
    pace_tps: float | None  # deltas per second (None: as fast as possible)
    usage: JSON | None  # overrides of the computed usage (bytes/4)
    model: str | None  # None: echo the request's model
    response_id: str | None  # None: a fresh resp_… per request
    write_chunk_size: int | None  # split the HTTP body into writes (HTTP chunks) of this many bytes
    header_delay: float  # seconds to wait before sending the status line
    headers: Mapping[str, str]  # extra response headers


@dataclass(frozen=True)
class Reply:
    """One scripted reply. Build it with the classmethods; the fields are the plan."""

    kind: str
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    header_delay: float = 0.0
    # fixed-body replies (errors, compaction, wrong content type): `body` is not None
    body: bytes | None = None
    content_type: str = "application/json"
    # streamed replies
    output: tuple[JSON, ...] = ()  # output items to stream (ids filled in per request)
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
    chunks: ChunkSpec = None
    seed: int = 0
    pace_tps: float | None = None
    usage: JSON | None = None
    model: str | None = None
    response_id: str | None = None
    write_chunk_size: int | None = None

    def __post_init__(self) -> None:
        # fail when the test builds the reply, not later inside the server thread
        chunks = self.chunks
        if isinstance(chunks, int) and chunks <= 0:
            raise ValueError("chunks must be a positive size")
        if isinstance(chunks, list) and (not chunks or min(chunks) <= 0):
            raise ValueError("chunks must be a non-empty list of positive sizes")
        if isinstance(chunks, str) and chunks != "random":
            raise ValueError('chunks must be None, a size, a list of sizes or "random"')
        for name in ("pace_tps", "write_chunk_size"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive")

    @property
    def streamed(self) -> bool:
        """True when this reply is an event stream (for `stream: true`) rather than a fixed body."""
        return self.body is None

    @property
    def output_text(self) -> str:
        """Concatenated `output_text` of the message items: what the client should assemble."""
        return "".join(
            part.get("text", "")
            for item in self.output
            if item.get("type") == "message"
            for part in item.get("content", [])
            if part.get("type") == "output_text"
        )

    def render(self, *, model: str | None, input_bytes: int) -> streams.Rendered:
        """The frames for one request (fresh ids; `model` is the request's model)."""
        return streams.render(self, model=model, input_bytes=input_bytes)

    def replace(self, **changes: Any) -> Reply:
        """A copy with some fields changed (e.g. `reply.replace(header_delay=2.0)`)."""
        return dataclasses.replace(self, **changes)

    # ---- streamed replies -------------------------------------------------------------------

    @classmethod
    def text(
        cls,
        text: str,
        *,
        reasoning: bool | str = False,
        fence: str | None = None,
        prose_before: str | None = None,
        prose_after: str | None = None,
        **options: Unpack[StreamOptions],
    ) -> Reply:
        """A normal successful stream of one assistant message (optionally after a reasoning item).

        `fence="python"` wraps `text` in a fenced block; `prose_before`/`prose_after` add prose
        around it; `reasoning=True` (or a summary string) streams a reasoning summary first.
        """
        body = text
        if fence is not None:
            newline = "" if not text or text.endswith("\n") else "\n"
            body = f"```{fence}\n{text}{newline}```"
        if prose_before:
            body = prose_before + ("" if prose_before.endswith("\n") else "\n") + body
        if prose_after:
            body = body + ("" if prose_after.startswith("\n") else "\n") + prose_after
        items: list[JSON] = []
        if reasoning:
            items.append(reasoning_item(DEFAULT_SUMMARY if reasoning is True else reasoning))
        items.append(message_item(body))
        return cls._stream("text", items, **options)

    @classmethod
    def function_call(
        cls,
        name: str,
        arguments: str,
        *,
        call_id: str | None = None,
        text_before: str | None = None,
        **options: Unpack[StreamOptions],
    ) -> Reply:
        """A stream with one `function_call` item (after an optional assistant message)."""
        items = [message_item(text_before)] if text_before else []
        items.append(
            {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}
        )
        return cls._stream("function_call", items, **options)

    @classmethod
    def custom_tool_call(
        cls,
        name: str,
        input: str,
        *,
        call_id: str | None = None,
        **options: Unpack[StreamOptions],
    ) -> Reply:
        """A stream with one freeform `custom_tool_call` item (e.g. `apply_patch`)."""
        item = {"type": "custom_tool_call", "call_id": call_id, "name": name, "input": input}
        return cls._stream("custom_tool_call", [item], **options)

    @classmethod
    def items(cls, items: Sequence[JSON], **options: Unpack[StreamOptions]) -> Reply:
        """A stream of several output items (messages, reasoning, tool calls, anything else).

        Missing ids / call ids are generated per request; messages may give `text` instead of
        `content`. Unknown item types are sent as `output_item.added` + `.done` only.
        """
        normalized = [
            message_item(str(item["text"]), **{k: v for k, v in item.items() if k != "text"})
            if item.get("type") == "message" and "text" in item
            else dict(item)
            for item in items
        ]
        return cls._stream("items", normalized, **options)

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
    def _stream(cls, kind: str, items: Sequence[JSON], **fields: Any) -> Reply:
        return cls(kind=kind, output=tuple(items), **fields)

    # ---- fixed-body replies -----------------------------------------------------------------

    @classmethod
    def error(
        cls,
        status: int,
        *,
        code: str | None = None,
        message: str | None = None,
        error_type: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        retry_after_ms: int | None = None,
        headers: Mapping[str, str] | None = None,
        header_delay: float = 0.0,
    ) -> Reply:
        """An HTTP error with the OpenAI envelope; type/code/message default per status and code."""
        d_type, d_code, d_param, d_message = default_error(status, code)
        if message is None and (code or d_code) == "rate_limit_exceeded":
            d_message = rate_limit_message(retry_after)
        envelope = error_envelope(
            message if message is not None else d_message,
            error_type=error_type or d_type,
            code=d_code,
            param=param if param is not None else d_param,
        )
        all_headers = dict(headers or {})
        if retry_after is not None:
            all_headers["retry-after"] = f"{retry_after:g}"
        if retry_after_ms is not None:
            all_headers["retry-after-ms"] = str(retry_after_ms)
        return cls(
            kind="error",
            status=status,
            body=dumps(envelope).encode(),
            headers=all_headers,
            header_delay=header_delay,
        )

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

    @classmethod
    def compacted(
        cls,
        output_items: Sequence[JSON],
        *,
        usage: JSON | None = None,
        response_id: str | None = None,
        header_delay: float = 0.0,
    ) -> Reply:
        """A `/responses/compact` result: `{"id","object":"response.compaction","created_at",
        "output","usage"}`."""
        output = [dict(item) for item in output_items]
        out_tokens = sum(estimate_tokens(dumps(item)) for item in output)
        payload = {
            "id": response_id or new_id("resp"),
            "object": "response.compaction",
            "created_at": now(),
            "output": output,
            "usage": usage_object(4 * out_tokens, out_tokens, overrides=usage),
        }
        return cls(kind="compacted", body=dumps(payload).encode(), header_delay=header_delay)

    @classmethod
    def compaction_for(cls, request_body: JSON | None) -> Reply:
        """The default `/compact` reply: the request's user messages, then one compaction item."""
        return cls.compacted(compaction_output(request_body))

    # ---- specs (CLI, other languages) --------------------------------------------------------

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
