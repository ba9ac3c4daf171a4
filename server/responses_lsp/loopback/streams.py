"""Rendering a streamed `Reply` into SSE frames: the event sequence of the Responses API.

Owns the event order of a successful stream (`response.created`, `response.in_progress`, per
output item `output_item.added` … deltas … `output_item.done`, then `response.completed`),
sequence numbers, delta chunking, ids and the computed usage. `StreamBuilder` is the toolkit
the test suite's fault replies (`tests/loopback/`) build broken streams with. Stdlib only.
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
    """Bytes of one SSE frame. `event` is None for frames that are no event (comments, raw
    bytes); `paced` frames are deltas."""

    data: bytes
    event: JSON | None = None
    paced: bool = False


@dataclass(frozen=True)
class Rendered:
    """What to send for one request: the frames, and the final `Response` (the body of a
    non-streaming request; None when the stream has no final response)."""

    frames: list[Frame]
    response: JSON | None


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


class StreamBuilder:
    """Frames of one streamed reply, appended in order with increasing sequence numbers."""

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
    """All frames of a successful stream of `reply` for one request, with fresh ids."""
    b = StreamBuilder(reply, model)
    b.emit({"type": "response.created", "response": b.response("in_progress", [], None)})
    b.emit({"type": "response.in_progress", "response": b.response("in_progress", [], None)})
    output = [b.stream_item(index, item) for index, item in enumerate(reply.output)]
    final = b.response("completed", output, compute_usage(reply, output, input_bytes))
    b.emit({"type": "response.completed", "response": final})
    return Rendered(b.frames, final)
