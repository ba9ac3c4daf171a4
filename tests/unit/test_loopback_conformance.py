"""The loopback server speaks the wire format the official `openai` SDK expects: every event it
sends parses into the SDK's own typed classes (and validates against the SDK's event union), the
non-streaming and compaction bodies parse, and HTTP errors map to the SDK's exception classes."""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pydantic
import pytest
from openai.types.responses import ResponseStreamEvent

from tests.loopback import LoopbackServer, Reply

CODE = "async def fetch(url):\n    return await get(url)  # é → ✓\n"
MODEL = "gpt-5.2-codex"

# the SDK's event union, discriminated on `type` the way pydantic understands it
_EVENT_UNION = typing.get_args(ResponseStreamEvent)[0]
EVENT_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(
    typing.cast(Any, typing.Annotated[_EVENT_UNION, pydantic.Field(discriminator="type")])
)
# `type` -> SDK class name, from the SDK itself (so an unknown-type fallback cannot pass)
SDK_CLASS = {
    typing.get_args(cls.model_fields["type"].annotation)[0]: cls.__name__
    for cls in typing.get_args(_EVENT_UNION)
}


@pytest.fixture
def srv() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
async def sdk(srv: LoopbackServer) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=srv.base_url + "/v1", api_key="sk-test", max_retries=0)
    try:
        yield client
    finally:
        await client.close()


async def collect(sdk: openai.AsyncOpenAI) -> list[Any]:
    stream = await sdk.responses.create(model=MODEL, input="refactor", stream=True)
    return [event async for event in stream]


def assert_typed_and_valid(srv: LoopbackServer, events: list[Any]) -> None:
    """Each SDK event is its own typed class; each raw event the server sent validates strictly."""
    for event in events:
        assert type(event).__name__ == SDK_CLASS[event.type], event.type
    sent = srv.requests[-1].sent_events
    assert [e["type"] for e in sent] == [event.type for event in events]
    for raw in sent:
        model = EVENT_ADAPTER.validate_python(raw, strict=True)
        assert type(model).__name__ == SDK_CLASS[raw["type"]]
    numbers = [event.sequence_number for event in events]
    assert numbers == sorted(set(numbers))


async def test_text_with_reasoning(srv: LoopbackServer, sdk: openai.AsyncOpenAI) -> None:
    srv.script(Reply.text(CODE, reasoning=True, chunks="random", seed=3))
    events = await collect(sdk)
    assert_typed_and_valid(srv, events)
    text = "".join(
        e.delta for e in events if isinstance(e, openai.types.responses.ResponseTextDeltaEvent)
    )
    assert text == CODE
    summary_type = openai.types.responses.ResponseReasoningSummaryTextDeltaEvent
    assert "".join(e.delta for e in events if isinstance(e, summary_type))
    reasoning = events[[e.type for e in events].index("response.output_item.done")].item
    assert reasoning.type == "reasoning" and reasoning.encrypted_content
    completed = events[-1]
    assert isinstance(completed, openai.types.responses.ResponseCompletedEvent)
    assert completed.response.output_text == CODE
    assert completed.response.usage is not None
    assert completed.response.usage.total_tokens > 0
    assert completed.response.usage.output_tokens_details.reasoning_tokens > 0
    assert completed.response.model == MODEL


async def test_sdk_stream_helper_accumulates_the_same_text(
    srv: LoopbackServer, sdk: openai.AsyncOpenAI
) -> None:
    srv.script(Reply.text(CODE, reasoning=True, fence="python", prose_before="Here:\n"))
    async with sdk.responses.stream(model=MODEL, input="refactor") as stream:
        final = await stream.get_final_response()
    assert final.output_text == f"Here:\n```python\n{CODE}```"
    assert [item.type for item in final.output] == ["reasoning", "message"]


async def test_function_call(srv: LoopbackServer, sdk: openai.AsyncOpenAI) -> None:
    args = '{"command": ["pytest", "-q"]}'
    srv.script(Reply.function_call("shell", args, call_id="call_7", text_before="Running tests."))
    events = await collect(sdk)
    assert_typed_and_valid(srv, events)
    delta_type = openai.types.responses.ResponseFunctionCallArgumentsDeltaEvent
    assert "".join(e.delta for e in events if isinstance(e, delta_type)) == args
    item = events[-2].item
    assert isinstance(item, openai.types.responses.ResponseFunctionToolCall)
    assert (item.name, item.arguments, item.call_id, item.status) == (
        "shell",
        args,
        "call_7",
        "completed",
    )


async def test_custom_tool_call(srv: LoopbackServer, sdk: openai.AsyncOpenAI) -> None:
    patch = "*** Begin Patch\n*** Update File: a.py\n@@\n-x = 1\n+x = 2\n*** End Patch\n"
    srv.script(Reply.custom_tool_call("apply_patch", patch))
    events = await collect(sdk)
    assert_typed_and_valid(srv, events)
    delta_type = openai.types.responses.ResponseCustomToolCallInputDeltaEvent
    assert "".join(e.delta for e in events if isinstance(e, delta_type)) == patch
    item = events[-2].item
    assert isinstance(item, openai.types.responses.ResponseCustomToolCall)
    assert (item.name, item.input) == ("apply_patch", patch)


async def test_failed(srv: LoopbackServer, sdk: openai.AsyncOpenAI) -> None:
    srv.script(Reply.failed("rate_limit_exceeded"))
    events = await collect(sdk)
    assert_typed_and_valid(srv, events)
    failed = events[-1]
    assert isinstance(failed, openai.types.responses.ResponseFailedEvent)
    assert failed.response.status == "failed"
    assert failed.response.error is not None
    assert failed.response.error.code == "rate_limit_exceeded"
    assert "Please try again in 1.5s." in failed.response.error.message


async def test_failed_with_codes_outside_the_sdk_literal(
    srv: LoopbackServer, sdk: openai.AsyncOpenAI
) -> None:
    # real servers send codes the SDK's ResponseError.code literal lacks; the SDK's lenient parse
    # keeps them, strict validation does not (clients must model `code` as a free string)
    srv.script(Reply.failed("insufficient_quota"))
    failed = (await collect(sdk))[-1]
    assert isinstance(failed, openai.types.responses.ResponseFailedEvent)
    assert failed.response.error is not None
    assert str(failed.response.error.code) == "insufficient_quota"
    with pytest.raises(pydantic.ValidationError):
        EVENT_ADAPTER.validate_python(srv.requests[-1].sent_events[-1], strict=True)


async def test_incomplete_and_error_event(srv: LoopbackServer, sdk: openai.AsyncOpenAI) -> None:
    srv.script(
        Reply.incomplete("max_output_tokens", text="def f("),
        Reply.error_event("server_error", "boom"),
    )
    events = await collect(sdk)
    assert_typed_and_valid(srv, events)
    final = events[-1]
    assert isinstance(final, openai.types.responses.ResponseIncompleteEvent)
    assert final.response.incomplete_details is not None
    assert final.response.incomplete_details.reason == "max_output_tokens"
    assert final.response.output_text == "def f("

    events = await collect(sdk)
    assert_typed_and_valid(srv, events)
    assert isinstance(events[-1], openai.types.responses.ResponseErrorEvent)
    assert (events[-1].code, events[-1].message) == ("server_error", "boom")


async def test_non_streaming_response(srv: LoopbackServer, sdk: openai.AsyncOpenAI) -> None:
    srv.script(Reply.text(CODE, reasoning=True))
    response = await sdk.responses.create(model=MODEL, input="refactor")
    assert isinstance(response, openai.types.responses.Response)
    assert response.output_text == CODE
    assert response.status == "completed"
    assert response.usage is not None and response.usage.total_tokens > 0
    request = srv.requests[-1]
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body is not None and request.body["model"] == MODEL


async def test_compaction(srv: LoopbackServer, sdk: openai.AsyncOpenAI) -> None:
    assert hasattr(sdk.responses, "compact")
    history: list[Any] = [
        {"type": "message", "role": "user", "content": "make f async"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "done"}],
        },
    ]
    compacted = await sdk.responses.compact(model="gpt-5.1-codex", input=history)
    assert compacted.object == "response.compaction"
    assert [item.type for item in compacted.output] == ["message", "compaction"]
    item = compacted.output[-1]
    assert isinstance(item, openai.types.responses.ResponseCompactionItem)
    assert item.encrypted_content
    assert compacted.usage.total_tokens > 0
    assert srv.requests[-1].path == "/v1/responses/compact"

    srv.script_compact(Reply.error(404))
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.compact(model="gpt-5.1-codex", input=history)


@pytest.mark.parametrize(
    ("reply", "exception", "code"),
    [
        (Reply.error(401), openai.AuthenticationError, "invalid_api_key"),
        (Reply.error(403), openai.PermissionDeniedError, "model_not_found"),
        (Reply.error(404), openai.NotFoundError, "unknown_url"),
        (Reply.error(429, retry_after=1), openai.RateLimitError, "rate_limit_exceeded"),
        (Reply.error(429, code="insufficient_quota"), openai.RateLimitError, "insufficient_quota"),
        (
            Reply.error(400, code="context_length_exceeded"),
            openai.BadRequestError,
            "context_length_exceeded",
        ),
        (Reply.error(500), openai.InternalServerError, "server_error"),
        (Reply.error(503), openai.InternalServerError, None),
    ],
)
async def test_http_errors_map_to_sdk_exceptions(
    srv: LoopbackServer,
    sdk: openai.AsyncOpenAI,
    reply: Reply,
    exception: type[openai.APIStatusError],
    code: str | None,
) -> None:
    srv.script(reply)
    with pytest.raises(exception) as caught:
        await sdk.responses.create(model=MODEL, input="x", stream=True)
    assert caught.value.status_code == reply.status
    assert caught.value.code == code
    assert srv.pending == (0, 0)


async def test_wrong_key_and_doubled_v1(srv: LoopbackServer) -> None:
    srv.expected_key = "sk-right"
    wrong = openai.AsyncOpenAI(base_url=srv.base_url + "/v1", api_key="sk-wrong", max_retries=0)
    doubled = openai.AsyncOpenAI(
        base_url=srv.base_url + "/v1/v1", api_key="sk-right", max_retries=0
    )
    try:
        with pytest.raises(openai.AuthenticationError):
            await wrong.responses.create(model=MODEL, input="x")
        with pytest.raises(openai.NotFoundError):
            await doubled.responses.create(model=MODEL, input="x")
    finally:
        await wrong.close()
        await doubled.close()
    assert [r.path for r in srv.requests] == ["/v1/responses", "/v1/v1/responses"]


async def test_models_list(srv: LoopbackServer, sdk: openai.AsyncOpenAI) -> None:
    srv.models = ["gpt-5.2-codex", "gpt-5.1-codex-max"]
    page = await sdk.models.list()
    assert [model.id for model in page.data] == srv.models
