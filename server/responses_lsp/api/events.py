"""Pydantic models of the Responses API's output items and SSE events.

Events are discriminated on `type` (`parse_event` returns a `ParsedEvent`, the union of the
event classes); an event or item type we do not know parses into
`UnknownEvent` / `UnknownItem` instead of failing, because the API grows new ones.
Every model allows extra fields, so an item read from the stream can be sent back in a
later request exactly as it arrived (`as_input()`), which stateless sessions need
(reasoning items with `encrypted_content`, compaction items).

Gateways and the reference clients' fixtures send `null` where the SDK has a value
(`"text": null`, `"output_index": null`, `"usage": {"input_tokens_details": null}`), an
empty `response` object, tool calls without ids, and `error` events flat
(`{"type":"error","code","message"}`) or nested (`{"type":"error","error":{...}}`): all of
them parse, a null text reads as "" (never "None").

What a consumer of `ResponsesClient.stream()` reads is a `ClientEvent`: a parsed event, or a
notice that the stream starts again (`RetryScheduled` before a new attempt, `StreamCorrection`
when the final text differs from the streamed one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Tag,
    TypeAdapter,
    ValidationError,
)

from responses_lsp.errors import ApiError


def _text(value: object) -> object:
    return "" if value is None else value


def _count(value: object) -> object:
    return 0 if value is None else value


def _items(value: object) -> object:
    return [] if value is None else value


def _code(value: object) -> object:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Code = Annotated[str | None, BeforeValidator(_code)]
"""An error code: a string, or a number some gateways send (read as its string)."""
Text = Annotated[str, BeforeValidator(_text)]
"""A string field a gateway may send as null: read as ""."""
Count = Annotated[int, BeforeValidator(_count)]
"""An integer field a gateway may send as null: read as 0."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=False)

    def as_input(self) -> dict[str, Any]:
        """The JSON form to send back as an input item (no nulls the API would reject)."""
        return self.model_dump(mode="json", exclude_none=True)


# ---------------------------------------------------------------- output items


def part_text(part: dict[str, Any]) -> str:
    """The text of an `output_text` content part ("" for a null or missing text)."""
    text = part.get("text")
    return text if isinstance(text, str) else ""


class OutputText(_Wire):
    type: Literal["output_text"] = "output_text"
    text: Text = ""


class MessageItem(_Wire):
    type: Literal["message"] = "message"
    id: str | None = None
    role: str = "assistant"
    status: str | None = None
    content: Annotated[list[dict[str, Any]], BeforeValidator(_items)] = []

    @property
    def text(self) -> str:
        return "".join(part_text(p) for p in self.content if p.get("type") == "output_text")


class ReasoningItem(_Wire):
    type: Literal["reasoning"] = "reasoning"
    id: str | None = None
    summary: list[dict[str, Any]] = []
    encrypted_content: str | None = None


class FunctionCallItem(_Wire):
    type: Literal["function_call"] = "function_call"
    id: str | None = None
    call_id: Text = ""
    name: Text = ""
    arguments: Text = ""
    status: str | None = None


class CustomToolCallItem(_Wire):
    type: Literal["custom_tool_call"] = "custom_tool_call"
    id: str | None = None
    call_id: Text = ""
    name: Text = ""
    input: Text = ""
    status: str | None = None


class CompactionItem(_Wire):
    type: Literal["compaction"] = "compaction"
    id: str | None = None
    encrypted_content: Text = ""


class UnknownItem(_Wire):
    type: str = "unknown"


_ITEM_TAGS = {"message", "reasoning", "function_call", "custom_tool_call", "compaction"}


def _item_tag(value: object) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in _ITEM_TAGS else "unknown"


OutputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[ReasoningItem, Tag("reasoning")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[CustomToolCallItem, Tag("custom_tool_call")]
    | Annotated[CompactionItem, Tag("compaction")]
    | Annotated[UnknownItem, Tag("unknown")],
    Discriminator(_item_tag),
]


# ---------------------------------------------------------------- response object


class InputTokensDetails(_Wire):
    cached_tokens: Count = 0


class OutputTokensDetails(_Wire):
    reasoning_tokens: Count = 0


class Usage(_Wire):
    input_tokens: Count = 0
    output_tokens: Count = 0
    total_tokens: Count = 0
    input_tokens_details: InputTokensDetails | None = None
    output_tokens_details: OutputTokensDetails | None = None

    @property
    def cached_tokens(self) -> int:
        return self.input_tokens_details.cached_tokens if self.input_tokens_details else 0


class ResponseError(_Wire):
    code: Code = None
    message: Text = ""
    type: str | None = None


class IncompleteDetails(_Wire):
    reason: str | None = None


class Response(_Wire):
    id: str = ""
    status: str | None = None
    model: str | None = None
    output: Annotated[list[OutputItem], BeforeValidator(_items)] = []
    usage: Usage | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None

    @property
    def output_text(self) -> str:
        return "".join(item.text for item in self.output if isinstance(item, MessageItem))


class CompactedResponse(_Wire):
    id: Text = ""
    output: Annotated[list[dict[str, Any]], BeforeValidator(_items)] = []
    usage: Usage | None = None


# ---------------------------------------------------------------- stream events


class _Event(_Wire):
    sequence_number: int | None = None


class ResponseLifecycleEvent(_Event):
    """response.created / response.in_progress / response.queued."""

    type: Literal["response.created", "response.in_progress", "response.queued"]
    response: Response | None = None


class OutputItemAdded(_Event):
    type: Literal["response.output_item.added"]
    output_index: int | None = None
    item: OutputItem


class OutputItemDone(_Event):
    type: Literal["response.output_item.done"]
    output_index: int | None = None
    item: OutputItem


class OutputTextDelta(_Event):
    type: Literal["response.output_text.delta"]
    item_id: str | None = None
    output_index: int | None = None
    content_index: int | None = None
    delta: Text = ""


class TextDone(_Event):
    """response.output_text.done / response.refusal.done and similar `*.done` text events."""

    type: Literal["response.output_text.done", "response.refusal.done"]
    item_id: str | None = None
    text: str | None = None
    refusal: str | None = None


class RefusalDelta(_Event):
    type: Literal["response.refusal.delta"]
    item_id: str | None = None
    delta: Text = ""


class ToolInputDelta(_Event):
    """Arguments of a function call or input of a custom tool call, streamed."""

    type: Literal["response.function_call_arguments.delta", "response.custom_tool_call_input.delta"]
    item_id: str | None = None
    output_index: int | None = None
    delta: Text = ""


class ToolInputDone(_Event):
    type: Literal["response.function_call_arguments.done", "response.custom_tool_call_input.done"]
    item_id: str | None = None
    output_index: int | None = None
    name: str | None = None
    arguments: str | None = None
    input: str | None = None


class ReasoningDelta(_Event):
    type: Literal["response.reasoning_summary_text.delta", "response.reasoning_text.delta"]
    item_id: str | None = None
    delta: Text = ""


class ResponseCompleted(_Event):
    type: Literal["response.completed"]
    response: Response = Response()


class ResponseIncompleteEvent(_Event):
    type: Literal["response.incomplete"]
    response: Response = Response()


class ResponseFailedEvent(_Event):
    type: Literal["response.failed"]
    response: Response = Response()


class ErrorEvent(_Event):
    """`error`, flat (`code`, `message`) or nested (`error: {type, code, message}`)."""

    type: Literal["error"]
    code: Code = None
    message: Text = ""
    param: Code = None
    error: ResponseError | None = None

    @property
    def error_code(self) -> str | None:
        return self.code or (self.error.code if self.error else None)

    @property
    def error_type(self) -> str | None:
        return self.error.type if self.error else None

    @property
    def error_message(self) -> str:
        return self.message or (self.error.message if self.error else "")


class UnknownEvent(_Event):
    """Any event type this client does not model (content_part.*, annotations, future ones)."""

    type: str


_EVENT_CLASSES: dict[str, type[_Event]] = {}
for _cls in (
    ResponseLifecycleEvent,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    TextDone,
    RefusalDelta,
    ToolInputDelta,
    ToolInputDone,
    ReasoningDelta,
    ResponseCompleted,
    ResponseIncompleteEvent,
    ResponseFailedEvent,
    ErrorEvent,
):
    for _literal in _cls.model_fields["type"].annotation.__args__:  # type: ignore[union-attr]
        _EVENT_CLASSES[_literal] = _cls


def _event_tag(value: object) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    cls = _EVENT_CLASSES.get(kind) if isinstance(kind, str) else None
    return cls.__name__ if cls is not None else "UnknownEvent"


StreamEvent = Annotated[
    Annotated[ResponseLifecycleEvent, Tag("ResponseLifecycleEvent")]
    | Annotated[OutputItemAdded, Tag("OutputItemAdded")]
    | Annotated[OutputItemDone, Tag("OutputItemDone")]
    | Annotated[OutputTextDelta, Tag("OutputTextDelta")]
    | Annotated[TextDone, Tag("TextDone")]
    | Annotated[RefusalDelta, Tag("RefusalDelta")]
    | Annotated[ToolInputDelta, Tag("ToolInputDelta")]
    | Annotated[ToolInputDone, Tag("ToolInputDone")]
    | Annotated[ReasoningDelta, Tag("ReasoningDelta")]
    | Annotated[ResponseCompleted, Tag("ResponseCompleted")]
    | Annotated[ResponseIncompleteEvent, Tag("ResponseIncompleteEvent")]
    | Annotated[ResponseFailedEvent, Tag("ResponseFailedEvent")]
    | Annotated[ErrorEvent, Tag("ErrorEvent")]
    | Annotated[UnknownEvent, Tag("UnknownEvent")],
    Discriminator(_event_tag),
]

ParsedEvent: TypeAlias = (
    ResponseLifecycleEvent
    | OutputItemAdded
    | OutputItemDone
    | OutputTextDelta
    | TextDone
    | RefusalDelta
    | ToolInputDelta
    | ToolInputDone
    | ReasoningDelta
    | ResponseCompleted
    | ResponseIncompleteEvent
    | ResponseFailedEvent
    | ErrorEvent
    | UnknownEvent
)
"""What `parse_event` returns: `StreamEvent` is this union with pydantic's discriminator."""
ParsedItem: TypeAlias = (
    MessageItem
    | ReasoningItem
    | FunctionCallItem
    | CustomToolCallItem
    | CompactionItem
    | UnknownItem
)
"""What `parse_item` returns (`OutputItem` with pydantic's discriminator)."""

_EVENT_ADAPTER: TypeAdapter[ParsedEvent] = TypeAdapter(StreamEvent)
_ITEM_ADAPTER: TypeAdapter[ParsedItem] = TypeAdapter(OutputItem)


_DELTA_ADAPTER: TypeAdapter[OutputTextDelta] = TypeAdapter(OutputTextDelta)
_DELTA_TYPE = '"response.output_text.delta"'


def parse_event(data: str | bytes | dict[str, Any]) -> ParsedEvent:
    """Parse one SSE `data` payload (JSON text or dict) into its event model.

    Raises `pydantic.ValidationError` (or `ValueError` for bad JSON) on garbage; the stream
    reader logs and skips such frames.
    """
    if isinstance(data, dict):
        return _EVENT_ADAPTER.validate_python(data)
    if isinstance(data, str) and _DELTA_TYPE in data:
        # Nearly every event of a stream is a text delta: validated as one straight away, it
        # skips the union's discriminator (a Python call on a dict built for it), 2.1 -> 1.3
        # us an event. A delta is valid here exactly when it is valid in the union (same
        # model, same JSON mode); anything else is left to the union, which says why.
        try:
            return _DELTA_ADAPTER.validate_json(data)
        except ValidationError:
            pass
    return _EVENT_ADAPTER.validate_json(data)


def parse_item(data: dict[str, Any]) -> ParsedItem:
    """Parse one output item dict (message, reasoning, tool call, compaction, unknown)."""
    return _ITEM_ADAPTER.validate_python(data)


# ---------------------------------------------------------------- notices of the client


@dataclass(frozen=True)
class RetryScheduled:
    """Yielded by `ResponsesClient.stream()` before it waits and sends the request again.

    Consumers drop what they built from the attempt (text, items) and start afresh."""

    attempt: int
    """The attempt that failed (1-based)."""
    max_attempts: int
    delay: float
    error: ApiError

    @property
    def status_text(self) -> str:
        kind = (
            "rate limited" if getattr(self.error, "status_code", None) == 429 else "upstream error"
        )
        return f"{kind}; retrying in {self.delay:.1f} s ({self.attempt}/{self.max_attempts - 1})"


@dataclass(frozen=True)
class StreamCorrection(RetryScheduled):
    """The streamed text differed from the stream's final text: start again from what follows
    (the items so far and the authoritative text), with no new request and no wait."""

    @property
    def status_text(self) -> str:
        return "the streamed text differed from the final answer; using the final answer"


ClientEvent: TypeAlias = ParsedEvent | RetryScheduled
"""What `ResponsesClient.stream()` yields: an event of the stream, or a notice to start over."""
