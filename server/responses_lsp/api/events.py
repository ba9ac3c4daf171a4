"""Pydantic models of the Responses API's output items and SSE events.

Events are discriminated on `type`; an event or item type we do not know parses into
`UnknownEvent` / `UnknownItem` instead of failing, because the API grows new ones.
Every model allows extra fields, so an item read from the stream can be sent back in a
later request exactly as it arrived (`as_input()`), which stateless sessions need
(reasoning items with `encrypted_content`, compaction items).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, TypeAdapter


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=False)

    def as_input(self) -> dict[str, Any]:
        """The JSON form to send back as an input item (no nulls the API would reject)."""
        return self.model_dump(mode="json", exclude_none=True)


# ---------------------------------------------------------------- output items


class OutputText(_Wire):
    type: Literal["output_text"] = "output_text"
    text: str = ""


class MessageItem(_Wire):
    type: Literal["message"] = "message"
    id: str | None = None
    role: str = "assistant"
    status: str | None = None
    content: list[dict[str, Any]] = []

    @property
    def text(self) -> str:
        return "".join(
            str(part.get("text", "")) for part in self.content if part.get("type") == "output_text"
        )


class ReasoningItem(_Wire):
    type: Literal["reasoning"] = "reasoning"
    id: str | None = None
    summary: list[dict[str, Any]] = []
    encrypted_content: str | None = None


class FunctionCallItem(_Wire):
    type: Literal["function_call"] = "function_call"
    id: str | None = None
    call_id: str = ""
    name: str = ""
    arguments: str = ""
    status: str | None = None


class CustomToolCallItem(_Wire):
    type: Literal["custom_tool_call"] = "custom_tool_call"
    id: str | None = None
    call_id: str = ""
    name: str = ""
    input: str = ""
    status: str | None = None


class CompactionItem(_Wire):
    type: Literal["compaction"] = "compaction"
    id: str | None = None
    encrypted_content: str = ""


class UnknownItem(_Wire):
    type: str = "unknown"


_ITEM_TAGS = {"message", "reasoning", "function_call", "custom_tool_call", "compaction"}


def _item_tag(value: Any) -> str:
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
    cached_tokens: int = 0


class OutputTokensDetails(_Wire):
    reasoning_tokens: int = 0


class Usage(_Wire):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_tokens_details: InputTokensDetails | None = None
    output_tokens_details: OutputTokensDetails | None = None

    @property
    def cached_tokens(self) -> int:
        return self.input_tokens_details.cached_tokens if self.input_tokens_details else 0


class ResponseError(_Wire):
    code: str | None = None
    message: str = ""


class IncompleteDetails(_Wire):
    reason: str | None = None


class Response(_Wire):
    id: str = ""
    status: str | None = None
    model: str | None = None
    output: list[OutputItem] = []
    usage: Usage | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None

    @property
    def output_text(self) -> str:
        return "".join(item.text for item in self.output if isinstance(item, MessageItem))


class CompactedResponse(_Wire):
    id: str = ""
    output: list[dict[str, Any]] = []
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
    output_index: int = 0
    item: OutputItem


class OutputItemDone(_Event):
    type: Literal["response.output_item.done"]
    output_index: int = 0
    item: OutputItem


class OutputTextDelta(_Event):
    type: Literal["response.output_text.delta"]
    item_id: str | None = None
    output_index: int = 0
    content_index: int = 0
    delta: str = ""


class TextDone(_Event):
    """response.output_text.done / response.refusal.done and similar `*.done` text events."""

    type: Literal["response.output_text.done", "response.refusal.done"]
    item_id: str | None = None
    text: str | None = None
    refusal: str | None = None


class RefusalDelta(_Event):
    type: Literal["response.refusal.delta"]
    item_id: str | None = None
    delta: str = ""


class ToolInputDelta(_Event):
    """Arguments of a function call or input of a custom tool call, streamed."""

    type: Literal["response.function_call_arguments.delta", "response.custom_tool_call_input.delta"]
    item_id: str | None = None
    output_index: int = 0
    delta: str = ""


class ToolInputDone(_Event):
    type: Literal["response.function_call_arguments.done", "response.custom_tool_call_input.done"]
    item_id: str | None = None
    output_index: int = 0
    name: str | None = None
    arguments: str | None = None
    input: str | None = None


class ReasoningDelta(_Event):
    type: Literal["response.reasoning_summary_text.delta", "response.reasoning_text.delta"]
    item_id: str | None = None
    delta: str = ""


class ResponseCompleted(_Event):
    type: Literal["response.completed"]
    response: Response


class ResponseIncompleteEvent(_Event):
    type: Literal["response.incomplete"]
    response: Response


class ResponseFailedEvent(_Event):
    type: Literal["response.failed"]
    response: Response


class ErrorEvent(_Event):
    type: Literal["error"]
    code: str | None = None
    message: str = ""
    param: str | None = None


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


def _event_tag(value: Any) -> str:
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

_EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(StreamEvent)
_ITEM_ADAPTER: TypeAdapter[Any] = TypeAdapter(OutputItem)


def parse_event(data: str | bytes | dict[str, Any]) -> Any:
    """Parse one SSE `data` payload (JSON text or dict) into its event model.

    Raises `pydantic.ValidationError` (or `ValueError` for bad JSON) on garbage; the stream
    reader logs and skips such frames.
    """
    if isinstance(data, dict):
        return _EVENT_ADAPTER.validate_python(data)
    return _EVENT_ADAPTER.validate_json(data)


def parse_item(data: dict[str, Any]) -> Any:
    """Parse one output item dict (message, reasoning, tool call, compaction, unknown)."""
    return _ITEM_ADAPTER.validate_python(data)
