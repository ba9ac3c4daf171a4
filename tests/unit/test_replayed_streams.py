"""Streams in the shapes other Responses implementations send (tests/fixtures/streams), replayed
byte for byte through the loopback server into the real client: what it must yield or raise.

Every test here names the issue-11 finding it pins down; each failed on the code before it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from responses_lsp.api.assembly import StreamCorrection
from responses_lsp.api.client import ClientConfig, ResponsesClient, RetryScheduled
from responses_lsp.api.events import (
    FunctionCallItem,
    MessageItem,
    OutputItemDone,
    OutputTextDelta,
    ResponseCompleted,
)
from responses_lsp.api.requests import ResponseRequest, user_message
from responses_lsp.errors import (
    AuthenticationError,
    InvalidApiKey,
    InvalidBaseUrl,
    NotFoundError,
    ResponseFailed,
    ResponseIncomplete,
    StreamCorrupted,
)
from responses_lsp.tools.definitions import patch_from_arguments
from tests.loopback import LoopbackServer, Reply

STREAMS = Path(__file__).resolve().parents[1] / "fixtures" / "streams"
KEY = "sk-test-replay-0123456789"
CODE = "async def fetch(url):\n    return await get(url)\n"
REQUEST = ResponseRequest(model="m", input=[user_message("Rewrite this function.")])


def frames(name: str) -> list[bytes]:
    """The frames of a fixture, exactly as written (comment lines included)."""
    body = (STREAMS / name).read_bytes()
    return [part + b"\n\n" for part in body.split(b"\n\n") if part.strip()]


@pytest.fixture
def srv() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
async def api(srv: LoopbackServer) -> AsyncIterator[ResponsesClient]:
    async def no_sleep(_seconds: float) -> None:
        return None

    client = ResponsesClient(
        ClientConfig(base_url=srv.base_url, api_key=KEY, model="m", max_retries=2),
        sleep=no_sleep,
    )
    yield client
    await client.aclose()


async def collect(api: ResponsesClient) -> list[Any]:
    return [event async for event in api.stream(REQUEST)]


def text_of(events: list[Any]) -> str:
    """The text a consumer builds: deltas, starting again after every retry or correction."""
    text = ""
    for event in events:
        if isinstance(event, RetryScheduled):
            text = ""
        elif isinstance(event, OutputTextDelta):
            text += event.delta
    return text


def items_of(events: list[Any]) -> list[Any]:
    items: list[Any] = []
    for event in events:
        if isinstance(event, RetryScheduled):
            items = []
        elif isinstance(event, OutputItemDone):
            items.append(event.item)
    return items


# ------------------------------------------------------------------ event shapes


async def test_text_only_in_output_item_done_is_streamed(
    srv: LoopbackServer, api: ResponsesClient
) -> None:
    # issue 11: "the model's answer contained no code" for the Codex fixtures' shape
    srv.script(Reply.raw_frames(frames("codex_done_only.sse")))
    events = await collect(api)
    assert text_of(events) == CODE
    assert [type(i) for i in items_of(events)] == [MessageItem]
    assert isinstance(events[-1], ResponseCompleted)


async def test_llama_stack_history_comes_from_response_completed(
    srv: LoopbackServer, api: ResponsesClient
) -> None:
    # issue 11: without output_item.* the session recorded only the user's turns
    srv.script(Reply.raw_frames(frames("llama_stack_text.sse")))
    events = await collect(api)
    assert text_of(events) == CODE  # the deltas, not doubled by the completed output
    [message] = items_of(events)
    assert isinstance(message, MessageItem) and message.text == CODE
    assert message.id == "msg_final_8"


@pytest.mark.parametrize(
    "name", ["codex_event_without_data.sse", "litellm_bridge_text.sse", "null_text_part.sse"]
)
async def test_other_shapes_give_the_text_once_and_the_message(
    srv: LoopbackServer, api: ResponsesClient, name: str
) -> None:
    srv.script(Reply.raw_frames(frames(name)))
    events = await collect(api)
    assert text_of(events) == CODE
    assert "None" not in text_of(events)
    assert [i.text for i in items_of(events)] == [CODE]
    assert not any(isinstance(e, RetryScheduled) for e in events)
    assert len(srv.requests) == 1


async def test_apply_patch_as_a_function_call_is_read(
    srv: LoopbackServer, api: ResponsesClient
) -> None:
    srv.script(Reply.raw_frames(frames("codex_apply_patch_function_call.sse")))
    [call] = items_of(await collect(api))
    assert isinstance(call, FunctionCallItem) and call.name == "apply_patch"
    patch = patch_from_arguments(call.arguments)
    assert patch.startswith("*** Begin Patch\n*** Update File: shop/api.py\n")


# ------------------------------------------------------------------ errors in the stream


@pytest.mark.parametrize("name", ["error_nested.sse", "error_flat.sse"])
async def test_error_events_keep_their_message_and_are_not_retried(
    srv: LoopbackServer, api: ResponsesClient, name: str
) -> None:
    # issue 11: the nested form read as "upstream error (error: )" and was retried 3 times
    srv.script(*[Reply.raw_frames(frames(name))] * 3)
    with pytest.raises(ResponseFailed) as caught:
        await collect(api)
    message = caught.value.user_message()
    assert "Invalid prompt: the selection contains a disallowed token." in message
    assert "retried" not in message
    assert len(srv.requests) == 1


async def test_insufficient_quota_in_the_stream_says_so_and_is_not_retried(
    srv: LoopbackServer, api: ResponsesClient
) -> None:
    srv.script(*[Reply.raw_frames(frames("failed_insufficient_quota.sse"))] * 3)
    with pytest.raises(ResponseFailed) as caught:
        await collect(api)
    assert "no quota left" in caught.value.user_message()
    assert len(srv.requests) == 1


async def test_incomplete_at_max_output_tokens_is_not_retried(
    srv: LoopbackServer, api: ResponsesClient
) -> None:
    srv.script(*[Reply.raw_frames(frames("incomplete_max_output_tokens.sse"))] * 3)
    with pytest.raises(ResponseIncomplete) as caught:
        await collect(api)
    assert "output limit" in caught.value.user_message()
    assert len(srv.requests) == 1


async def test_a_stream_error_after_one_request_does_not_say_retried(
    srv: LoopbackServer,
) -> None:
    client = ResponsesClient(
        ClientConfig(base_url=srv.base_url, api_key=KEY, model="m", max_retries=0)
    )
    srv.script(Reply.failed("server_error", message="The server had an error."))
    with pytest.raises(ResponseFailed) as caught:
        await collect(client)
    assert "retried" not in caught.value.user_message()
    assert "The server had an error." in caught.value.user_message()
    await client.aclose()


async def test_a_stream_error_after_retries_says_how_many(
    srv: LoopbackServer, api: ResponsesClient
) -> None:
    srv.script(*[Reply.failed("server_error", message="The server had an error.")] * 3)
    with pytest.raises(ResponseFailed) as caught:
        await collect(api)
    assert "retried 2 times, then gave up" in caught.value.user_message()


# ------------------------------------------------------------------ delta integrity


def text_frames(deltas: list[bytes], final: str) -> list[bytes]:
    """created, the given delta frames (raw data), output_text.done/item.done, completed."""

    def frame(event: dict[str, Any]) -> bytes:
        return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()

    item = {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": final, "annotations": []}],
    }
    return [
        frame({"type": "response.created", "response": {"id": "r1", "output": []}}),
        *(b"event: response.output_text.delta\ndata: " + d + b"\n\n" for d in deltas),
        frame(
            {
                "type": "response.output_text.done",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "text": final,
            }
        ),
        frame({"type": "response.output_item.done", "output_index": 0, "item": item}),
        frame({"type": "response.completed", "response": {"id": "r1", "output": [item]}}),
    ]


def delta(text: str) -> bytes:
    return json.dumps(
        {
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": text,
        }
    ).encode()


async def test_a_broken_delta_frame_is_never_a_hole_in_the_rewrite(
    srv: LoopbackServer, api: ResponsesClient
) -> None:
    # issue 11: the broken frame was skipped and the rewrite applied as "await async.sleep"
    text = "await asyncio.sleep(1)\n"
    broken = delta("await ")[:-9]  # the frame is cut inside its JSON
    srv.script(
        Reply.raw_frames(text_frames([delta("await "), broken, delta("sleep(1)\n")], text)),
        Reply.raw_frames(
            text_frames([delta("await "), delta("asyncio."), delta("sleep(1)\n")], text)
        ),
    )
    events = await collect(api)
    retries = [e for e in events if isinstance(e, RetryScheduled)]
    assert len(retries) == 1 and isinstance(retries[0].error, StreamCorrupted)
    assert text_of(events) == text
    assert len(srv.requests) == 2


async def test_bytes_that_are_not_utf8_fail_the_attempt(
    srv: LoopbackServer, api: ResponsesClient
) -> None:
    # issue 11: invalid UTF-8 put replacement characters into the code
    text = "naïve = 1\n"
    bad = delta("na").replace(b'"na"', b'"na\xc3\x28ve"')
    srv.script(
        Reply.raw_frames(text_frames([bad], text)),
        Reply.raw_frames(text_frames([delta("naïve = 1\n")], text)),
    )
    events = await collect(api)
    [retry] = [e for e in events if isinstance(e, RetryScheduled)]
    assert "not UTF-8" in retry.error.message
    assert text_of(events) == text and "\ufffd" not in text_of(events)


async def test_deltas_that_differ_from_the_final_text_give_way_to_it(
    srv: LoopbackServer, api: ResponsesClient
) -> None:
    final = "await asyncio.sleep(1)\n"
    srv.script(Reply.raw_frames(text_frames([delta("await "), delta("sleep(1)\n")], final)))
    events = await collect(api)
    [correction] = [e for e in events if isinstance(e, RetryScheduled)]
    assert isinstance(correction, StreamCorrection) and correction.delay == 0
    assert text_of(events) == final
    assert len(srv.requests) == 1  # no new request: the stream carried the answer


async def test_a_missing_tail_is_completed_from_the_final_text(
    srv: LoopbackServer, api: ResponsesClient
) -> None:
    final = "await asyncio.sleep(1)\n"
    srv.script(Reply.raw_frames(text_frames([delta("await asyncio.")], final)))
    events = await collect(api)
    assert not any(isinstance(e, RetryScheduled) for e in events)
    assert text_of(events) == final


# ------------------------------------------------------------------ configuration


async def test_litellm_wrong_key_envelope_is_a_key_problem(
    srv: LoopbackServer, api: ResponsesClient
) -> None:
    # issue 11: "the endpoint rejected the request (HTTP 400, 400: No connected db.)"
    srv.script(
        Reply.error(400, code="400", message="No connected db.", error_type="no_db_connection")
    )
    with pytest.raises(AuthenticationError) as caught:
        await collect(api)
    message = caught.value.user_message()
    assert "rejected the API key" in message and "No connected db." in message
    assert message.count("400") == 1
    assert len(srv.requests) == 1


@pytest.mark.parametrize("base_url", ["api.openai.com", "localhost:4000", "https://", "ftp://gw"])
async def test_an_invalid_base_url_fails_every_request_and_sends_nothing(base_url: str) -> None:
    # issue 11: a scheme-less base URL silently became https://api.openai.com (with the key)
    sent: list[Any] = []

    def handler(request: Any) -> Any:
        sent.append(request)
        raise AssertionError("nothing may be sent")

    import httpx

    client = ResponsesClient(
        ClientConfig(base_url=base_url, api_key=KEY, model="m"),
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(InvalidBaseUrl) as caught:
        await collect(client)
    assert base_url in caught.value.user_message()
    assert sent == []
    await client.aclose()


async def test_a_non_ascii_key_is_a_clear_configuration_error(srv: LoopbackServer) -> None:
    # issue 11: "internal error (UnicodeEncodeError …)"
    client = ResponsesClient(ClientConfig(base_url=srv.base_url, api_key="sk-ключ-123", model="m"))
    with pytest.raises(InvalidApiKey) as caught:
        await collect(client)
    assert "not ASCII" in caught.value.user_message()
    assert "ключ" not in caught.value.user_message()
    assert srv.requests == []
    await client.aclose()


async def test_extra_headers_and_a_custom_key_header_are_sent(srv: LoopbackServer) -> None:
    client = ResponsesClient(
        ClientConfig(
            base_url=srv.base_url,
            api_key=KEY,
            model="m",
            extra_headers=(("x-gateway-route", "team-a"),),
            key_header="api-key",
        )
    )
    srv.script(Reply.text(CODE))
    await collect(client)
    headers = {k.lower(): v for k, v in srv.requests[0].headers.items()}
    assert headers["x-gateway-route"] == "team-a"
    assert headers["api-key"] == KEY and "authorization" not in headers
    await client.aclose()


async def test_a_path_prefixed_base_url_keeps_its_prefix(srv: LoopbackServer) -> None:
    client = ResponsesClient(
        ClientConfig(base_url=srv.base_url + "/v1/openai", api_key=KEY, model="m")
    )
    srv.script(Reply.text(CODE))
    with pytest.raises(NotFoundError):  # the loopback serves /v1/responses only
        await collect(client)
    assert srv.requests[0].path == "/v1/openai/v1/responses"
    await client.aclose()
