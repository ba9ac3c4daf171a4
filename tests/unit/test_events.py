"""Event and item models: every event type of the Responses stream parses into its model, unknown
events and items are tolerated, and items replay as input exactly as they arrived."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from responses_lsp.api.events import (
    _DELTA_TYPE,
    _EVENT_ADAPTER,
    CompactedResponse,
    CompactionItem,
    CustomToolCallItem,
    ErrorEvent,
    FunctionCallItem,
    MessageItem,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    ReasoningDelta,
    ReasoningItem,
    RefusalDelta,
    Response,
    ResponseCompleted,
    ResponseFailedEvent,
    ResponseIncompleteEvent,
    ResponseLifecycleEvent,
    TextDone,
    ToolInputDelta,
    ToolInputDone,
    UnknownEvent,
    UnknownItem,
    Usage,
    parse_event,
    parse_item,
)
from tests.loopback import Reply

IN_PROGRESS = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1755041560,
    "status": "in_progress",
    "model": "gpt-5.1-codex",
    "output": [],
    "usage": None,
    "error": None,
    "incomplete_details": None,
}
REASONING = {
    "id": "rs_1",
    "type": "reasoning",
    "summary": [{"type": "summary_text", "text": "**Checking tests**"}],
    "encrypted_content": "gAAAAB-opaque",
}
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "status": "completed",
    "role": "assistant",
    "phase": "final_answer",
    "content": [{"type": "output_text", "annotations": [], "text": "All tests pass."}],
}
FUNCTION_CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_abc",
    "name": "shell",
    "arguments": '{"command":["ls"]}',
    "status": "completed",
}
CUSTOM_CALL = {
    "type": "custom_tool_call",
    "id": "ctc_1",
    "call_id": "call_def",
    "name": "apply_patch",
    "input": "*** Begin Patch\n*** End Patch\n",
    "status": "completed",
}
USAGE = {
    "input_tokens": 12873,
    "input_tokens_details": {"cached_tokens": 11264, "cache_write_tokens": 0},
    "output_tokens": 311,
    "output_tokens_details": {"reasoning_tokens": 192},
    "total_tokens": 13184,
}
COMPLETED = {
    **IN_PROGRESS,
    "status": "completed",
    "output": [REASONING, FUNCTION_CALL, MESSAGE],
    "usage": USAGE,
}
TEXT_REF = {"item_id": "msg_1", "output_index": 1, "content_index": 0}
SUMMARY_REF = {"item_id": "rs_1", "output_index": 0, "summary_index": 0}
RATE_LIMITED = (
    "Rate limit reached for gpt-5 in organization org-AAA on tokens per min (TPM): Limit 30000, "
    "Used 22999, Requested 12528. Please try again in 11.054s."
)

# every event of responses-api.md §4, as the API sends it, and the model it must become
EVENTS: list[tuple[dict[str, Any], type]] = [
    ({"type": "response.created", "response": IN_PROGRESS}, ResponseLifecycleEvent),
    ({"type": "response.in_progress", "response": IN_PROGRESS}, ResponseLifecycleEvent),
    (
        {"type": "response.queued", "response": {**IN_PROGRESS, "status": "queued"}},
        ResponseLifecycleEvent,
    ),
    (
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": "rs_1", "type": "reasoning", "summary": []},
        },
        OutputItemAdded,
    ),
    ({"type": "response.output_item.done", "output_index": 0, "item": REASONING}, OutputItemDone),
    (
        {
            "type": "response.content_part.added",
            **TEXT_REF,
            "part": {"type": "output_text", "annotations": [], "text": ""},
        },
        UnknownEvent,
    ),
    (
        {
            "type": "response.content_part.done",
            **TEXT_REF,
            "part": {"type": "output_text", "annotations": [], "text": "All tests pass."},
        },
        UnknownEvent,
    ),
    (
        {
            "type": "response.output_text.delta",
            **TEXT_REF,
            "delta": "All tests",
            "logprobs": [],
            "obfuscation": "xYz1",
        },
        OutputTextDelta,
    ),
    (
        {
            "type": "response.output_text.done",
            **TEXT_REF,
            "text": "All tests pass.",
            "logprobs": [],
        },
        TextDone,
    ),
    ({"type": "response.refusal.delta", **TEXT_REF, "delta": "I can't"}, RefusalDelta),
    ({"type": "response.refusal.done", **TEXT_REF, "refusal": "I can't help."}, TextDone),
    (
        {
            "type": "response.function_call_arguments.delta",
            "item_id": "fc_1",
            "output_index": 2,
            "delta": '{"comm',
        },
        ToolInputDelta,
    ),
    (
        {
            "type": "response.function_call_arguments.done",
            "item_id": "fc_1",
            "output_index": 2,
            "name": "shell",
            "arguments": '{"command":["ls"]}',
        },
        ToolInputDone,
    ),
    (
        {
            "type": "response.custom_tool_call_input.delta",
            "item_id": "ctc_1",
            "output_index": 0,
            "delta": "*** Begin",
        },
        ToolInputDelta,
    ),
    (
        {
            "type": "response.custom_tool_call_input.done",
            "item_id": "ctc_1",
            "output_index": 0,
            "input": "*** Begin Patch\n*** End Patch\n",
        },
        ToolInputDone,
    ),
    (
        {
            "type": "response.reasoning_summary_part.added",
            **SUMMARY_REF,
            "part": {"type": "summary_text", "text": ""},
        },
        UnknownEvent,
    ),
    (
        {
            "type": "response.reasoning_summary_part.done",
            **SUMMARY_REF,
            "part": {"type": "summary_text", "text": "**Checking tests**"},
        },
        UnknownEvent,
    ),
    (
        {"type": "response.reasoning_summary_text.delta", **SUMMARY_REF, "delta": "**Checking"},
        ReasoningDelta,
    ),
    (
        {"type": "response.reasoning_summary_text.done", **SUMMARY_REF, "text": "**Checking**"},
        UnknownEvent,
    ),
    (
        {
            "type": "response.reasoning_text.delta",
            "item_id": "rs_1",
            "output_index": 0,
            "content_index": 0,
            "delta": "First, ",
        },
        ReasoningDelta,
    ),
    (
        {
            "type": "response.reasoning_text.done",
            "item_id": "rs_1",
            "output_index": 0,
            "content_index": 0,
            "text": "First, read.",
        },
        UnknownEvent,
    ),
    (
        {
            "type": "response.output_text.annotation.added",
            **TEXT_REF,
            "annotation_index": 0,
            "annotation": {"type": "url_citation", "url": "https://example.com"},
        },
        UnknownEvent,
    ),
    ({"type": "response.completed", "response": COMPLETED}, ResponseCompleted),
    (
        {
            "type": "response.incomplete",
            "response": {
                **IN_PROGRESS,
                "status": "incomplete",
                "incomplete_details": {"reason": "max_output_tokens"},
                "usage": USAGE,
            },
        },
        ResponseIncompleteEvent,
    ),
    (
        {
            "type": "response.failed",
            "response": {
                **IN_PROGRESS,
                "status": "failed",
                "background": False,
                "error": {"code": "rate_limit_exceeded", "message": RATE_LIMITED},
                "user": None,
                "metadata": {},
            },
        },
        ResponseFailedEvent,
    ),
    (
        {"type": "error", "code": "server_error", "message": "boom", "param": None},
        ErrorEvent,
    ),
]


@pytest.mark.parametrize(
    ("payload", "model"), EVENTS, ids=[str(payload["type"]) for payload, _ in EVENTS]
)
def test_every_event_type_parses_to_its_model(payload: dict[str, Any], model: type) -> None:
    payload = {**payload, "sequence_number": 7}
    for data in (payload, json.dumps(payload), json.dumps(payload).encode()):
        event = parse_event(data)
        assert type(event) is model
        assert event.type == payload["type"]
        assert event.sequence_number == 7


def test_event_fields() -> None:
    delta = parse_event({**EVENTS[7][0], "sequence_number": 11})
    assert isinstance(delta, OutputTextDelta)
    assert (delta.item_id, delta.output_index, delta.content_index, delta.delta) == (
        "msg_1",
        1,
        0,
        "All tests",
    )
    assert delta.model_extra == {"logprobs": [], "obfuscation": "xYz1"}  # extras kept

    args = parse_event(EVENTS[12][0])
    assert isinstance(args, ToolInputDone)
    assert (args.name, args.arguments, args.input) == ("shell", '{"command":["ls"]}', None)

    done = parse_event(EVENTS[4][0])
    assert isinstance(done, OutputItemDone) and isinstance(done.item, ReasoningItem)
    assert done.item.encrypted_content == "gAAAAB-opaque"

    failed = parse_event(EVENTS[-2][0])
    assert isinstance(failed, ResponseFailedEvent) and failed.response.error is not None
    assert failed.response.error.code == "rate_limit_exceeded"
    assert failed.response.status == "failed"

    incomplete = parse_event(EVENTS[-3][0])
    assert isinstance(incomplete, ResponseIncompleteEvent)
    assert incomplete.response.incomplete_details is not None
    assert incomplete.response.incomplete_details.reason == "max_output_tokens"

    error = parse_event(EVENTS[-1][0])
    assert isinstance(error, ErrorEvent)
    assert (error.code, error.message, error.param) == ("server_error", "boom", None)

    unknown = parse_event(EVENTS[5][0])
    assert isinstance(unknown, UnknownEvent)
    assert unknown.model_extra is not None and unknown.model_extra["part"]["type"] == "output_text"


def test_the_completed_response() -> None:
    event = parse_event(
        {"type": "response.completed", "sequence_number": 15, "response": COMPLETED}
    )
    assert isinstance(event, ResponseCompleted)
    response = event.response
    assert response.id == "resp_1" and response.status == "completed"
    assert [type(item) for item in response.output] == [
        ReasoningItem,
        FunctionCallItem,
        MessageItem,
    ]
    assert response.output_text == "All tests pass."
    assert response.usage is not None
    assert response.usage.cached_tokens == 11264
    assert response.usage.total_tokens == 13184
    assert response.usage.output_tokens_details is not None
    assert response.usage.output_tokens_details.reasoning_tokens == 192


def test_output_text_joins_every_message_and_skips_refusals() -> None:
    response = Response.model_validate(
        {
            "id": "r",
            "output": [
                {"type": "message", "content": [{"type": "output_text", "text": "a"}]},
                {"type": "web_search_call", "id": "ws_1", "status": "completed"},
                {
                    "type": "message",
                    "content": [
                        {"type": "refusal", "refusal": "no"},
                        {"type": "output_text", "text": "b"},
                    ],
                },
            ],
        }
    )
    assert response.output_text == "ab"
    assert Response().output_text == ""


def test_usage_without_details() -> None:
    usage = Usage.model_validate({"input_tokens": 5, "output_tokens": 2, "total_tokens": 7})
    assert usage.cached_tokens == 0
    assert Usage.model_validate({}).total_tokens == 0


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "response.completed", "response": {"id": "resp1"}},
        {"type": "response.created", "response": {"id": "resp1"}},
        {"type": "response.created"},
        {"type": "response.output_text.delta", "delta": "x"},
        {"type": "response.output_item.done", "item": {"type": "message"}},
        {"type": "response.failed", "response": {"id": "resp1", "error": None}},
        {"type": "error", "message": "no code"},
        {"type": "error"},
    ],
    ids=lambda p: json.dumps(p),
)
def test_missing_optional_fields_are_tolerated(payload: dict[str, Any]) -> None:
    event = parse_event(payload)
    assert event.type == payload["type"]
    assert event.sequence_number is None


def test_minimal_completed_event() -> None:
    event = parse_event('{"type":"response.completed","response":{"id":"resp1"}}')
    assert isinstance(event, ResponseCompleted)
    assert event.response.id == "resp1"
    assert event.response.usage is None and event.response.output == []


def test_unknown_event_type_is_tolerated() -> None:
    event = parse_event(
        {"type": "response.future_thing", "sequence_number": 3, "detail": {"a": [1, 2]}}
    )
    assert isinstance(event, UnknownEvent)
    assert event.type == "response.future_thing"
    assert event.model_extra == {"detail": {"a": [1, 2]}}


@pytest.mark.parametrize(
    "data",
    [
        "{this is not json",
        "",
        "[1, 2]",
        '{"no_type": true}',
        '{"type": 5}',
        '{"type": "response.output_item.done"}',
        '{"type": "response.output_text.delta", "delta": 5}',
    ],
)
def test_garbage_raises_value_error(data: str) -> None:
    with pytest.raises(ValueError):  # pydantic.ValidationError is a ValueError
        parse_event(data)


# ------------------------------------------------------------------------------ items


ITEMS: list[tuple[dict[str, Any], type]] = [
    (MESSAGE, MessageItem),
    (REASONING, ReasoningItem),
    (FUNCTION_CALL, FunctionCallItem),
    (CUSTOM_CALL, CustomToolCallItem),
    ({"type": "compaction", "id": "cmp_001", "encrypted_content": "enc"}, CompactionItem),
    ({"type": "web_search_call", "id": "ws_1", "status": "completed"}, UnknownItem),
    ({"type": "local_shell_call", "id": "lsh_1", "action": {"command": ["ls"]}}, UnknownItem),
]


@pytest.mark.parametrize(("payload", "model"), ITEMS, ids=[str(p["type"]) for p, _ in ITEMS])
def test_items_parse_and_round_trip_with_as_input(payload: dict[str, Any], model: type) -> None:
    item = parse_item(payload)
    assert type(item) is model
    assert item.as_input() == payload  # every field, known or not, in and out unchanged


def test_reasoning_item_round_trip_keeps_extra_fields() -> None:
    payload = {
        **REASONING,
        "status": "completed",
        "content": [{"type": "reasoning_text", "text": "raw"}],
        "future_field": {"nested": True},
    }
    item = parse_item(payload)
    assert isinstance(item, ReasoningItem)
    assert item.as_input() == payload
    assert item.as_input()["encrypted_content"] == "gAAAAB-opaque"


def test_as_input_drops_nulls_the_api_would_reject() -> None:
    item = parse_item({**REASONING, "content": None, "status": None})
    assert item.as_input() == REASONING


def test_compaction_items_round_trip_with_created_by() -> None:
    payload = {"type": "compaction", "id": "cmp_1", "encrypted_content": "e", "created_by": "x"}
    item = parse_item(payload)
    assert isinstance(item, CompactionItem)
    assert item.as_input() == payload


def test_unknown_item_inside_an_event() -> None:
    event = parse_event(
        {
            "type": "response.output_item.done",
            "output_index": 3,
            "item": {"type": "future_item", "status": "completed", "payload": [1]},
        }
    )
    assert isinstance(event, OutputItemDone)
    assert isinstance(event.item, UnknownItem)
    assert event.item.type == "future_item"
    assert event.item.as_input() == {"type": "future_item", "status": "completed", "payload": [1]}


def test_item_without_type_is_unknown() -> None:
    item = parse_item({"id": "x"})
    assert isinstance(item, UnknownItem)


def test_message_text_and_defaults() -> None:
    item = parse_item(MESSAGE)
    assert isinstance(item, MessageItem)
    assert item.text == "All tests pass."
    assert item.role == "assistant"
    bare = parse_item({"type": "function_call"})
    assert isinstance(bare, FunctionCallItem)
    assert (bare.call_id, bare.name, bare.arguments) == ("", "", "")


def test_compacted_response_keeps_output_verbatim() -> None:
    body = {
        "id": "resp_001",
        "object": "response.compaction",
        "created_at": 1731459200,
        "output": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Summarize our launch checklist."}],
            },
            {"type": "compaction", "id": "cmp_001", "encrypted_content": "encrypted-summary"},
        ],
        "usage": {"input_tokens": 42897, "output_tokens": 12000, "total_tokens": 54912},
    }
    compacted = CompactedResponse.model_validate(body)
    assert compacted.output == body["output"]
    assert compacted.usage is not None and compacted.usage.total_tokens == 54912


# ------------------------------------------------------------------------------ loopback streams


@pytest.mark.parametrize(
    "reply",
    [
        Reply.text("def f():\n    return 1\n", reasoning=True, fence="python"),
        Reply.function_call("shell", '{"command":["ls"]}'),
        Reply.custom_tool_call("apply_patch", "*** Begin Patch\n*** End Patch\n"),
        Reply.incomplete(),
        Reply.failed("rate_limit_exceeded"),
        Reply.error_event(),
        Reply.malformed("x"),
    ],
    ids=["text", "function_call", "custom_tool_call", "incomplete", "failed", "error", "malformed"],
)
def test_every_event_the_loopback_sends_parses(reply: Reply) -> None:
    rendered = reply.render(model="gpt-5.2-codex", input_bytes=100)
    sent = [frame.event for frame in rendered.frames if frame.event is not None]
    parsed = [parse_event(json.dumps(event)) for event in sent]
    assert [e.type for e in parsed] == [e["type"] for e in sent]
    for event in parsed:
        if isinstance(event, OutputItemDone) and not isinstance(event.item, UnknownItem):
            original = next(
                e["item"]
                for e in sent
                if e["type"] == "response.output_item.done" and e["item"]["id"] == event.item.id
            )
            assert event.item.as_input() == {k: v for k, v in original.items() if v is not None}


def test_validation_error_is_raised_for_wrong_field_types() -> None:
    with pytest.raises(ValidationError):
        parse_event({"type": "response.completed", "response": {"id": "r", "output": "nope"}})


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-2, 2) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)
_DELTA_FIELDS = ["type", "delta", "item_id", "output_index", "content_index", "sequence_number"]


@st.composite
def _delta_like_frames(draw: st.DrawFn) -> str:
    """The `data` of a frame that mentions the delta type: well formed or not, the type
    elsewhere (a value, an extra field, a duplicate key), fields of any JSON type."""
    kind = draw(st.sampled_from(["response.output_text.delta", "response.refusal.delta", "x"]))
    fields = [f'"type": {json.dumps(kind)}']
    for name in draw(st.lists(st.sampled_from([*_DELTA_FIELDS, "logprobs", "note"]), max_size=5)):
        value = draw(st.sampled_from(["response.output_text.delta", None]) | _JSON_VALUES)
        fields.append(f"{json.dumps(name)}: {json.dumps(value)}")
    fields = draw(st.permutations(fields))
    text = "{" + ", ".join(fields) + "}"
    if draw(st.booleans()):  # where the type is not the first thing said
        text = text.replace('"x"', '"response.output_text.delta"', 1)
    return draw(st.sampled_from([text, text[:-1], "[" + text + "]", text + " "]))


@settings(max_examples=400, deadline=None)
@given(_delta_like_frames())
def test_the_delta_path_parses_exactly_as_the_union(data: str) -> None:
    """`parse_event`'s shortcut for text deltas accepts, rejects and reads every payload that
    names the delta type as the discriminated union does."""
    assert _DELTA_TYPE in data or '"type": "x"' in data or "refusal" in data
    try:
        expected: Any = _EVENT_ADAPTER.validate_json(data)
    except ValidationError:
        expected = ValidationError
    try:
        got: Any = parse_event(data)
    except ValidationError:
        got = ValidationError
    if expected is ValidationError or got is ValidationError:
        assert got is expected
        return
    assert type(got) is type(expected)
    assert got.model_dump() == expected.model_dump()
    assert got.model_extra == expected.model_extra
