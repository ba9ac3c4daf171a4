"""Rendering a streamed `Reply` into SSE frames: the event sequence of the Responses API.

Owns the event order (`response.created`, `response.in_progress`, per output item
`output_item.added` … deltas … `output_item.done`, then `response.completed` / `.incomplete` /
`.failed` or an `error` event), sequence numbers, delta chunking, ids and the computed usage.
Stdlib only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .wire import (
    DEFAULT_MODEL,
    JSON,
    estimate_tokens,
    new_id,
    now,
    response_object,
    sse_frame,
    usage_object,
)

if TYPE_CHECKING:
    from .replies import ChunkSpec, Reply

_ID_PREFIX = {
    "message": "msg",
    "reasoning": "rs",
    "function_call": "fc",
    "custom_tool_call": "ctc",
    "compaction": "cmp",
}


@dataclass(frozen=True)
class Frame:
    """Bytes of one SSE frame. `event` is None for garbage frames; `paced` frames are deltas."""

    data: bytes
    event: JSON | None = None
    paced: bool = False


@dataclass(frozen=True)
class Rendered:
    """What to send for one request: the frames, the final `Response` (for non-streaming requests)
    and, for drop/stall replies, how many frames go out before the cut."""

    frames: list[Frame]
    response: JSON | None
    cut_index: int | None


def split_text(text: str, chunks: ChunkSpec, rng: random.Random) -> list[str]:
    """Cut `text` into delta pieces: None ~4 chars, int fixed, list of sizes (cycled), "random"."""
    if chunks is None:
        chunks = 4
    pieces: list[str] = []
    pos = 0
    while pos < len(text):
        if chunks == "random":
            size = rng.randint(1, 12)
        elif isinstance(chunks, int):
            size = chunks
        else:
            size = chunks[len(pieces) % len(chunks)]
        pieces.append(text[pos : pos + size])
        pos += size
    return pieces


class _Builder:
    def __init__(self, reply: Reply, model: str | None) -> None:
        self.reply = reply
        self.model = reply.model or model or DEFAULT_MODEL
        self.response_id = reply.response_id or new_id("resp")
        self.created_at = now()
        self.rng = random.Random(reply.seed)
        self.frames: list[Frame] = []
        self.seq = 0

    def emit(self, event: JSON, *, paced: bool = False) -> None:
        full = {"type": event["type"], "sequence_number": self.seq, **event}
        self.seq += 1
        self.frames.append(Frame(sse_frame(full), full, paced))

    def garbage(self, data: bytes) -> None:
        self.frames.append(Frame(data))

    def response(self, status: str, output: list[JSON], usage: JSON | None, **extra: Any) -> JSON:
        return response_object(
            response_id=self.response_id,
            model=self.model,
            status=status,
            output=output,
            usage=usage,
            created_at=self.created_at,
            **extra,
        )

    def deltas(self, text: str, event: JSON) -> None:
        for piece in split_text(text, self.reply.chunks, self.rng):
            self.emit({**event, "delta": piece}, paced=True)

    def stream_item(self, index: int, template: JSON) -> JSON:
        kind = str(template.get("type"))
        item: JSON = {"id": None, **template}  # id first, as the API sends it
        item["id"] = item["id"] or new_id(_ID_PREFIX.get(kind, "item"))
        if kind in ("function_call", "custom_tool_call") and not item.get("call_id"):
            item["call_id"] = new_id("call")
        ref = {"item_id": item["id"], "output_index": index}
        if kind == "message":
            added = {**item, "status": "in_progress", "content": []}
            self.emit({"type": "response.output_item.added", "output_index": index, "item": added})
            for c_index, part in enumerate(item.get("content", [])):
                self.stream_part({**ref, "content_index": c_index}, part)
        elif kind == "reasoning":
            added = {k: v for k, v in item.items() if k != "encrypted_content"} | {"summary": []}
            self.emit({"type": "response.output_item.added", "output_index": index, "item": added})
            for s_index, part in enumerate(item.get("summary", [])):
                self.stream_summary({**ref, "summary_index": s_index}, str(part.get("text", "")))
        elif kind in ("function_call", "custom_tool_call"):
            field, event = (
                ("arguments", "response.function_call_arguments")
                if kind == "function_call"
                else ("input", "response.custom_tool_call_input")
            )
            value = str(item.get(field, ""))
            added = {**item, field: "", "status": "in_progress"}
            self.emit({"type": "response.output_item.added", "output_index": index, "item": added})
            self.deltas(value, {"type": f"{event}.delta", **ref})
            done: JSON = {"type": f"{event}.done", **ref, field: value}
            if kind == "function_call":
                done["name"] = item.get("name")
            self.emit(done)
            item.setdefault("status", "completed")
        else:
            self.emit({"type": "response.output_item.added", "output_index": index, "item": item})
        self.emit({"type": "response.output_item.done", "output_index": index, "item": item})
        return item

    def stream_part(self, ref: JSON, part: JSON) -> None:
        if part.get("type") == "refusal":
            empty: JSON = {}
            text, name, field = str(part.get("refusal", "")), "refusal", "refusal"
        else:
            text, name, field = str(part.get("text", "")), "output_text", "text"
            empty = {"logprobs": []}
        start = {**part, field: ""}
        self.emit({"type": "response.content_part.added", **ref, "part": start})
        self.deltas(text, {"type": f"response.{name}.delta", **ref, **empty})
        self.emit({"type": f"response.{name}.done", **ref, field: text, **empty})
        self.emit({"type": "response.content_part.done", **ref, "part": part})

    def stream_summary(self, ref: JSON, text: str) -> None:
        part = {"type": "summary_text", "text": text}
        self.emit(
            {"type": "response.reasoning_summary_part.added", **ref, "part": {**part, "text": ""}}
        )
        self.deltas(text, {"type": "response.reasoning_summary_text.delta", **ref})
        self.emit({"type": "response.reasoning_summary_text.done", **ref, "text": text})
        self.emit({"type": "response.reasoning_summary_part.done", **ref, "part": part})

    def truncate(self, events: int) -> None:
        """Keep only the first `events` event frames (never cutting into lifecycle numbering)."""
        kept: list[Frame] = []
        count = 0
        for frame in self.frames:
            if frame.event is not None:
                if count >= events:
                    break
                count += 1
            kept.append(frame)
        self.frames = kept
        self.seq = count


def compute_usage(reply: Reply, output: list[JSON], input_bytes: int) -> JSON:
    """Usage from lengths (bytes/4): output text, tool arguments, reasoning summaries."""
    out_text = ""
    reasoning = ""
    for item in output:
        if item.get("type") == "reasoning":
            reasoning += "".join(str(p.get("text", "")) for p in item.get("summary", []))
        else:
            out_text += str(item.get("arguments", "")) + str(item.get("input", ""))
            for part in item.get("content", []) or []:
                out_text += str(part.get("text", "")) + str(part.get("refusal", ""))
    reasoning_tokens = estimate_tokens(reasoning)
    return usage_object(
        max(1, estimate_tokens(input_bytes)),
        estimate_tokens(out_text) + reasoning_tokens,
        reasoning_tokens=reasoning_tokens,
        overrides=reply.usage,
    )


def render(reply: Reply, *, model: str | None, input_bytes: int) -> Rendered:
    """All frames of `reply` for one request, with fresh ids and increasing sequence numbers."""
    b = _Builder(reply, model)
    if reply.raw_bytes is not None:
        return Rendered([Frame(data, None, paced=True) for data in reply.raw_bytes], None, None)
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
        return Rendered(b.frames, last_response, None)

    b.emit({"type": "response.created", "response": b.response("in_progress", [], None)})
    if reply.garbage:
        b.garbage(b": keep-alive\n\n")
        b.garbage(b"data: {this is not json\n\n")
    b.emit({"type": "response.in_progress", "response": b.response("in_progress", [], None)})
    if reply.garbage:
        b.emit({"type": "response.future_thing", "detail": "clients must ignore unknown events"})
    output = [b.stream_item(index, item) for index, item in enumerate(reply.output)]
    usage = compute_usage(reply, output, input_bytes)

    if reply.ending == "incomplete":
        details = {"reason": reply.incomplete_reason}
        final = b.response("incomplete", output, usage, incomplete_details=details)
        b.emit({"type": "response.incomplete", "response": final})
    elif reply.ending == "failed":
        b.truncate(reply.cut_after or 0)
        final = b.response("failed", [], None, error=dict(reply.failure or {}))
        b.emit({"type": "response.failed", "response": final})
    elif reply.ending == "error_event":
        b.truncate(reply.cut_after or 0)
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
        b.garbage(b"data: [DONE]\n\n")

    cut_index: int | None = None
    if reply.cut is not None:
        # never cut after the terminal event: a drop/stall always withholds response.completed
        total = sum(frame.event is not None for frame in b.frames)
        cut_index = _frame_index_of_event(b.frames, min(reply.cut_after or 0, total - 1))
    return Rendered(b.frames, final, cut_index)


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
