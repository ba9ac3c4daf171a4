"""Scripted replies of the loopback server: the `Reply` value and its constructors.

A `Reply` is what the endpoint answers to one request, as the real API answers it: either a
fixed body (an HTTP error with the OpenAI envelope, a `/responses/compact` result) or a stream
plan (the output items to stream, how deltas are chunked and paced). `streams.render` turns a
plan into the exact SSE frames at request time, with fresh ids. The test suite's fault replies
(streams that fail, drop, stall or carry garbage: `tests/loopback/`) extend this class. Stdlib
only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Self, TypedDict, Unpack

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

DEFAULT_SUMMARY = "**Planning the change**\n\nReading the selection and rewriting it."


class StreamOptions(TypedDict, total=False):
    """Options every streamed reply accepts."""

    # delta sizes: None ~4 chars; int fixed; list of sizes (cycled); "random" 1..12 chars
    chunks: ChunkSpec
    seed: int  # seed for chunks="random"
    pace_tps: float | None  # deltas per second (None: as fast as possible)
    usage: JSON | None  # overrides of the computed usage (bytes/4)
    model: str | None  # None: echo the request's model
    response_id: str | None  # None: a fresh resp_… per request
    headers: Mapping[str, str]  # extra response headers


@dataclass(frozen=True)
class Reply:
    """One scripted reply. Build it with the classmethods; the fields are the plan."""

    kind: str
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    # fixed-body replies (errors, compaction): `body` is not None
    body: bytes | None = None
    content_type: str = "application/json"
    # streamed replies
    output: tuple[JSON, ...] = ()  # output items to stream (ids filled in per request)
    chunks: ChunkSpec = None
    seed: int = 0
    pace_tps: float | None = None
    usage: JSON | None = None
    model: str | None = None
    response_id: str | None = None

    def __post_init__(self) -> None:
        # fail when the test builds the reply, not later inside the server thread
        chunks = self.chunks
        if isinstance(chunks, int) and chunks <= 0:
            raise ValueError("chunks must be a positive size")
        if isinstance(chunks, list) and (not chunks or min(chunks) <= 0):
            raise ValueError("chunks must be a non-empty list of positive sizes")
        if isinstance(chunks, str) and chunks != "random":
            raise ValueError('chunks must be None, a size, a list of sizes or "random"')
        if self.pace_tps is not None and self.pace_tps <= 0:
            raise ValueError("pace_tps must be positive")

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

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (e.g. `reply.replace(pace_tps=50)`)."""
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
    ) -> Self:
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
    ) -> Self:
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
    ) -> Self:
        """A stream with one freeform `custom_tool_call` item (e.g. `apply_patch`)."""
        item = {"type": "custom_tool_call", "call_id": call_id, "name": name, "input": input}
        return cls._stream("custom_tool_call", [item], **options)

    @classmethod
    def items(cls, items: Sequence[JSON], **options: Unpack[StreamOptions]) -> Self:
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
    def _stream(cls, kind: str, items: Sequence[JSON], **fields: Any) -> Self:
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
    ) -> Self:
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
        )

    @classmethod
    def compacted(
        cls,
        output_items: Sequence[JSON],
        *,
        usage: JSON | None = None,
        response_id: str | None = None,
    ) -> Self:
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
        return cls(kind="compacted", body=dumps(payload).encode())

    @classmethod
    def compaction_for(cls, request_body: JSON | None) -> Self:
        """The default `/compact` reply: the request's user messages, then one compaction item."""
        return cls.compacted(compaction_output(request_body))
