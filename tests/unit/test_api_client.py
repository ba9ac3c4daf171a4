"""The Responses client against the loopback server, one scenario per test: what the server
sends, and what the client must yield or raise (with how many requests and which waits).

Waits never sleep: the client gets a fake `sleep` that records the delay and returns at once."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from responses_lsp.api.client import (
    ClientConfig,
    ResponsesClient,
    RetryScheduled,
    api_root,
    endpoint,
)
from responses_lsp.api.events import (
    CustomToolCallItem,
    FunctionCallItem,
    MessageItem,
    OutputItemDone,
    OutputTextDelta,
    ReasoningDelta,
    ReasoningItem,
    ResponseCompleted,
    ToolInputDelta,
    ToolInputDone,
    UnknownEvent,
    UnknownItem,
)
from responses_lsp.api.requests import CompactRequest, ResponseRequest, user_message
from responses_lsp.api.retry import backoff
from responses_lsp.errors import (
    BASE_URL_HINT,
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    AuthenticationError,
    BadRequestError,
    ContextLengthExceeded,
    InsufficientQuota,
    MissingApiKey,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseFailed,
    ResponseIncomplete,
    ServerError,
    StreamClosedEarly,
    StreamIdleTimeout,
    UnexpectedContentType,
)
from tests.loopback import DEFAULT_PARTIAL, DEFAULT_SUMMARY, LoopbackServer, Reply

KEY = "sk-test-SECRET-1234567890"
MODEL = "gpt-5.2-codex"
SEED = 11
CODE = "async def fetch(url):\n    return await get(url)\n"
UTF8 = "café 漢字 😀 naïve — ✓ é漢😀\n" * 3
REQUEST = ResponseRequest(model=MODEL, input=[user_message("Rewrite this function.")])
CANCEL_WITHIN = 0.1  # seconds between cancelling and the server seeing the connection close


@dataclass
class Harness:
    """The loopback server, the waits the clients asked for, and a client factory."""

    srv: LoopbackServer
    slept: list[float] = field(default_factory=list)
    clients: list[ResponsesClient] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def client(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = KEY,
        request_timeout: float = 5.0,
        stream_idle_timeout: float = 5.0,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> ResponsesClient:
        config = ClientConfig(
            base_url=self.srv.base_url if base_url is None else base_url,
            api_key=api_key,
            model=MODEL,
            request_timeout=request_timeout,
            stream_idle_timeout=stream_idle_timeout,
            max_retries=max_retries,
        )
        api = ResponsesClient(
            config, transport=transport, sleep=self.sleep, rng=random.Random(SEED)
        )
        self.clients.append(api)
        return api


@pytest.fixture
def srv() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
async def h(srv: LoopbackServer) -> AsyncIterator[Harness]:
    harness = Harness(srv)
    try:
        yield harness
    finally:
        for api in harness.clients:
            await api.aclose()


@pytest.fixture
def api(h: Harness) -> ResponsesClient:
    return h.client()


async def collect(api: ResponsesClient, request: ResponseRequest = REQUEST) -> list[Any]:
    return [event async for event in api.stream(request)]


def text_of(events: list[Any]) -> str:
    return "".join(e.delta for e in events if isinstance(e, OutputTextDelta))


def done_items(events: list[Any]) -> list[Any]:
    return [e.item for e in events if isinstance(e, OutputItemDone)]


def backoffs(n: int) -> list[float]:
    """The delays a client seeded with SEED waits before retries 1..n (no server hint)."""
    rng = random.Random(SEED)
    return [backoff(attempt, rng) for attempt in range(1, n + 1)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------ successful streams


@pytest.mark.parametrize(
    "reply",
    [
        Reply.text(CODE),
        Reply.text(CODE, fence="python"),
        Reply.text(CODE, fence="python", prose_before="Here it is:", prose_after="Done."),
        Reply.text(CODE, chunks="random", seed=5),
        Reply.text(CODE, chunks=1),
        Reply.text(CODE, chunks=len(CODE)),
    ],
    ids=["plain", "fenced", "fenced with prose", "random deltas", "1-char deltas", "one delta"],
)
async def test_text_stream(h: Harness, api: ResponsesClient, reply: Reply) -> None:
    h.srv.script(reply)
    events = await collect(api)
    assert text_of(events) == reply.output_text
    completed = events[-1]
    assert isinstance(completed, ResponseCompleted)
    assert completed.response.output_text == reply.output_text
    assert completed.response.usage is not None and completed.response.usage.total_tokens > 0
    (message,) = done_items(events)
    assert isinstance(message, MessageItem) and message.text == reply.output_text
    assert not any(isinstance(e, RetryScheduled) for e in events)
    assert len(h.srv.requests) == 1 and h.slept == []


async def test_reasoning_then_text(h: Harness, api: ResponsesClient) -> None:
    h.srv.script(Reply.text(CODE, reasoning=True))
    events = await collect(api)
    summary = "".join(e.delta for e in events if isinstance(e, ReasoningDelta))
    assert summary == DEFAULT_SUMMARY
    assert text_of(events) == CODE
    reasoning, message = done_items(events)
    assert isinstance(reasoning, ReasoningItem)
    assert reasoning.encrypted_content and reasoning.encrypted_content.startswith("gAAAAB")
    assert reasoning.as_input()["encrypted_content"] == reasoning.encrypted_content
    assert isinstance(message, MessageItem) and message.text == CODE


@pytest.mark.parametrize(
    ("chunks", "write_chunk_size"),
    [(1, 1), ("random", 1), (3, 2), ("random", 3), (None, 5)],
    ids=["1-char deltas, 1-byte writes", "random deltas, 1-byte writes", "3/2", "random/3", "4/5"],
)
async def test_multibyte_utf8_split_inside_characters(
    h: Harness, api: ResponsesClient, chunks: Any, write_chunk_size: int
) -> None:
    h.srv.script(Reply.text(UTF8, chunks=chunks, seed=2, write_chunk_size=write_chunk_size))
    events = await collect(api)
    assert text_of(events) == UTF8
    deltas = [e.delta for e in events if isinstance(e, OutputTextDelta)]
    sent = [e["delta"] for e in h.srv.requests[0].sent_events if "delta" in e]
    assert deltas == sent  # delta for delta, nothing merged, split or mangled
    assert isinstance(events[-1], ResponseCompleted)
    assert events[-1].response.output_text == UTF8


async def test_function_call(h: Harness, api: ResponsesClient) -> None:
    arguments = '{"command": ["ls", "-la"], "workdir": "/tmp/é"}'
    h.srv.script(Reply.function_call("shell", arguments, call_id="call_abc", chunks=3))
    events = await collect(api)
    streamed = "".join(
        e.delta
        for e in events
        if isinstance(e, ToolInputDelta) and e.type == "response.function_call_arguments.delta"
    )
    assert streamed == arguments
    (done,) = [e for e in events if isinstance(e, ToolInputDone)]
    assert (done.name, done.arguments) == ("shell", arguments)
    (item,) = done_items(events)
    assert isinstance(item, FunctionCallItem)
    assert (item.call_id, item.name, item.arguments, item.status) == (
        "call_abc",
        "shell",
        arguments,
        "completed",
    )
    assert isinstance(events[-1], ResponseCompleted)


async def test_function_call_after_text(h: Harness, api: ResponsesClient) -> None:
    h.srv.script(Reply.function_call("shell", "{}", text_before="Let me look."))
    events = await collect(api)
    message, call = done_items(events)
    assert isinstance(message, MessageItem) and message.text == "Let me look."
    assert isinstance(call, FunctionCallItem) and call.call_id.startswith("call_")


async def test_custom_tool_call(h: Harness, api: ResponsesClient) -> None:
    patch = "*** Begin Patch\n*** Update File: a.py\n@@\n-x = 1\n+x = 2 # ✓\n*** End Patch\n"
    h.srv.script(Reply.custom_tool_call("apply_patch", patch, chunks="random", seed=1))
    events = await collect(api)
    streamed = "".join(
        e.delta
        for e in events
        if isinstance(e, ToolInputDelta) and e.type == "response.custom_tool_call_input.delta"
    )
    assert streamed == patch
    (done,) = [e for e in events if isinstance(e, ToolInputDone)]
    assert done.input == patch
    (item,) = done_items(events)
    assert isinstance(item, CustomToolCallItem)
    assert (item.name, item.input) == ("apply_patch", patch)


async def test_several_items_including_unknown_ones(h: Harness, api: ResponsesClient) -> None:
    h.srv.script(
        Reply.items(
            [
                {"type": "web_search_call", "status": "completed", "action": {"query": "x"}},
                {"type": "message", "text": "first "},
                {"type": "message", "text": "second"},
            ]
        )
    )
    events = await collect(api)
    unknown, first, second = done_items(events)
    assert isinstance(unknown, UnknownItem) and unknown.type == "web_search_call"
    assert isinstance(first, MessageItem) and isinstance(second, MessageItem)
    assert text_of(events) == "first second"
    assert events[-1].response.output_text == "first second"


async def test_a_frame_that_is_not_json_fails_the_attempt_and_it_is_retried(
    h: Harness, api: ResponsesClient
) -> None:
    # issue 11: a broken frame used to be skipped, and the rewrite applied with a hole in it
    h.srv.script(Reply.malformed(CODE), Reply.malformed(CODE), Reply.text(CODE))
    events = await collect(api)
    retries = [e for e in events if isinstance(e, RetryScheduled)]
    assert len(retries) == 2 and "not JSON" in str(retries[0].error)
    after = events[events.index(retries[-1]) + 1 :]
    assert text_of(after) == CODE
    assert len(h.srv.requests) == 3


async def test_harmless_oddities_are_tolerated(h: Harness, api: ResponsesClient) -> None:
    # an SSE comment, an unknown event and item type, `data: [DONE]`: one attempt, no retry
    frames = [f.data for f in Reply.malformed(CODE).render(model=MODEL, input_bytes=10).frames]
    frames = [f for f in frames if b"this is not json" not in f]
    h.srv.script(Reply.raw_frames(frames))
    events = await collect(api)
    assert text_of(events) == CODE
    assert isinstance(events[-1], ResponseCompleted)
    assert any(isinstance(e, UnknownEvent) and e.type == "response.future_thing" for e in events)
    assert any(isinstance(item, UnknownItem) for item in done_items(events))
    assert len(h.srv.requests) == 1 and h.slept == []


# ------------------------------------------------------------------------------ HTTP errors


@pytest.mark.parametrize(
    ("reply", "error_class", "words"),
    [
        (Reply.error(401), AuthenticationError, "OPENAI_API_KEY"),
        (Reply.error(403), PermissionDeniedError, f"'{MODEL}'"),
        (Reply.error(404), NotFoundError, "base URL must be the host only"),
        (Reply.error(400), BadRequestError, "rejected the request"),
        (
            Reply.error(400, code="unknown_parameter", message="Unknown parameter: 'x'."),
            BadRequestError,
            "unknown_parameter",
        ),
        (Reply.error(429, code="insufficient_quota"), InsufficientQuota, "no quota"),
        (Reply.error(400, code="context_length_exceeded"), ContextLengthExceeded, "too long"),
        (Reply.error(422), BadRequestError, "HTTP 422"),
    ],
    ids=["401", "403", "404", "400", "400 unknown_parameter", "429 quota", "400 context", "422"],
)
async def test_errors_that_are_never_retried(
    h: Harness, api: ResponsesClient, reply: Reply, error_class: type, words: str
) -> None:
    h.srv.script(reply, Reply.text("never sent"))
    with pytest.raises(error_class) as caught:
        await collect(api)
    assert type(caught.value) is error_class
    assert words in caught.value.user_message()
    assert len(h.srv.requests) == 1
    assert h.slept == []


async def test_status_error_carries_the_envelope(h: Harness, api: ResponsesClient) -> None:
    h.srv.script(Reply.error(403))
    with pytest.raises(PermissionDeniedError) as caught:
        await collect(api)
    error = caught.value
    assert error.status_code == 403
    assert error.code == "model_not_found"
    assert error.error_type == "invalid_request_error"
    assert error.request_id and error.request_id.startswith("req_")
    assert error.url == f"{h.srv.base_url}/v1/responses"
    assert error.model == MODEL
    assert "does not have access" in error.message


@pytest.mark.parametrize(
    ("reply", "delay"),
    [
        (Reply.error(429, retry_after=2), 2.0),
        (Reply.error(429, retry_after=0.5), 0.5),
        (Reply.error(429, retry_after_ms=1500), 1.5),
        (Reply.error(429, retry_after_ms=250, headers={"retry-after": "9"}), 0.25),
        (Reply.error(429, message="Slow down. Please try again in 3.5s."), 3.5),
        (Reply.error(503, retry_after=4), 4.0),
    ],
    ids=["Retry-After 2", "Retry-After 0.5", "retry-after-ms", "ms wins", "message hint", "503"],
)
async def test_retry_hint_is_honoured(
    h: Harness, api: ResponsesClient, reply: Reply, delay: float
) -> None:
    h.srv.script(reply, Reply.text(CODE))
    events = await collect(api)
    assert h.slept == [delay]
    (notice,) = [e for e in events if isinstance(e, RetryScheduled)]
    assert events[0] is notice  # nothing streamed before the retry
    assert (notice.attempt, notice.max_attempts, notice.delay) == (1, 4, delay)
    assert notice.error.retryable
    if reply.status == 429:
        assert isinstance(notice.error, RateLimitError)
        assert notice.status_text == f"rate limited; retrying in {delay:.1f} s (1/3)"
    assert text_of(events) == CODE
    assert len(h.srv.requests) == 2


async def test_429_hint_too_long_is_not_waited_for(h: Harness, api: ResponsesClient) -> None:
    h.srv.script(Reply.error(429, retry_after=600), Reply.text(CODE))
    with pytest.raises(RateLimitError) as caught:
        await collect(api)
    assert caught.value.retry_after == 600
    assert "rate limited" in caught.value.user_message()
    assert len(h.srv.requests) == 1 and h.slept == []


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
async def test_5xx_then_ok(h: Harness, api: ResponsesClient, status: int) -> None:
    h.srv.script(Reply.error(status), Reply.text(CODE))
    events = await collect(api)
    assert h.slept == backoffs(1)
    assert [type(e) for e in events].count(RetryScheduled) == 1
    assert text_of(events) == CODE
    assert len(h.srv.requests) == 2


async def test_500_after_all_retries_is_a_server_error(h: Harness) -> None:
    api = h.client(max_retries=2)
    h.srv.script(*[Reply.error(500)] * 5)
    events: list[Any] = []
    with pytest.raises(ServerError) as caught:
        async for event in api.stream(REQUEST):
            events.append(event)
    assert caught.value.status_code == 500
    assert "retried 2 times, then gave up" in caught.value.user_message()
    assert len(h.srv.requests) == 3  # 1 + max_retries
    assert h.slept == backoffs(2)
    assert [(e.attempt, e.max_attempts) for e in events] == [(1, 3), (2, 3)]
    assert h.srv.pending == (2, 0)


async def test_max_retries_zero_means_one_attempt(h: Harness) -> None:
    api = h.client(max_retries=0)
    h.srv.script(Reply.error(500), Reply.text(CODE))
    with pytest.raises(ServerError):
        await collect(api)
    assert len(h.srv.requests) == 1 and h.slept == []


async def test_connection_refused_is_retried_then_raised(h: Harness) -> None:
    api = h.client(base_url=f"http://127.0.0.1:{free_port()}", max_retries=2)
    with pytest.raises(ApiConnectionError) as caught:
        await collect(api)
    assert type(caught.value) is ApiConnectionError
    assert "could not reach the endpoint" in caught.value.user_message()
    assert h.slept == backoffs(2)


async def test_missing_key_fails_before_any_request(h: Harness) -> None:
    api = h.client(api_key=None)
    with pytest.raises(MissingApiKey):
        await collect(api)
    with pytest.raises(MissingApiKey):
        await api.compact(CompactRequest(model=MODEL, input=[user_message("x")]))
    assert h.srv.requests == []


# ------------------------------------------------------------------------------ broken streams


@pytest.mark.parametrize("clean", [False, True], ids=["unclean drop", "clean drop"])
async def test_stream_drops_midway_then_ok_on_retry(
    h: Harness, api: ResponsesClient, clean: bool
) -> None:
    h.srv.script(Reply.drop(after_events=6, clean=clean, chunks=2), Reply.text(CODE))
    events = await collect(api)
    (index,) = [i for i, e in enumerate(events) if isinstance(e, RetryScheduled)]
    first, notice, second = events[:index], events[index], events[index + 1 :]
    assert text_of(first) and DEFAULT_PARTIAL.startswith(text_of(first))
    assert not any(isinstance(e, ResponseCompleted) for e in first)
    assert isinstance(notice.error, StreamClosedEarly)
    assert notice.status_text.startswith("upstream error; retrying in")
    assert text_of(second) == CODE
    assert isinstance(second[-1], ResponseCompleted)
    assert h.slept == backoffs(1)
    assert len(h.srv.requests) == 2


@pytest.mark.parametrize("clean", [False, True], ids=["unclean drop", "clean drop"])
async def test_stream_drops_every_time(h: Harness, clean: bool) -> None:
    api = h.client(max_retries=1)
    h.srv.script(*[Reply.drop(after_events=4, clean=clean)] * 2)
    with pytest.raises(StreamClosedEarly) as caught:
        await collect(api)
    assert "retried 1 time, then gave up" in caught.value.user_message()
    assert len(h.srv.requests) == 2


async def test_stall_is_an_idle_timeout(h: Harness) -> None:
    api = h.client(stream_idle_timeout=0.3, max_retries=0)
    h.srv.script(Reply.stall(after_events=4))
    started = time.monotonic()
    with pytest.raises(StreamIdleTimeout) as caught:
        await collect(api)
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2.0
    assert caught.value.seconds == 0.3
    assert "idle timeout" in caught.value.user_message()
    (request,) = h.srv.wait_until(lambda rs: rs[0].disconnected_at is not None, timeout=2.0)
    assert not request.completed


async def test_stall_then_ok_on_retry(h: Harness) -> None:
    api = h.client(stream_idle_timeout=0.3)
    h.srv.script(Reply.stall(after_events=3), Reply.text(CODE))
    events = await collect(api)
    (notice,) = [e for e in events if isinstance(e, RetryScheduled)]
    assert isinstance(notice.error, StreamIdleTimeout)
    assert text_of(events) == CODE and isinstance(events[-1], ResponseCompleted)


async def test_a_slow_but_steady_stream_is_not_a_stall(h: Harness) -> None:
    api = h.client(stream_idle_timeout=0.3, max_retries=0)
    h.srv.script(Reply.text("abcdefgh", chunks=1, pace_tps=20))  # 0.05 s gaps, 0.4 s in total
    events = await collect(api)
    assert text_of(events) == "abcdefgh"


async def test_response_failed_server_error_is_retried(h: Harness, api: ResponsesClient) -> None:
    h.srv.script(Reply.failed("server_error"), Reply.text(CODE))
    events = await collect(api)
    (notice,) = [e for e in events if isinstance(e, RetryScheduled)]
    assert isinstance(notice.error, ResponseFailed) and notice.error.code == "server_error"
    assert text_of(events) == CODE
    assert h.slept == backoffs(1)


async def test_response_failed_rate_limit_waits_for_the_hint(
    h: Harness, api: ResponsesClient
) -> None:
    h.srv.script(Reply.failed("rate_limit_exceeded", retry_seconds=2.5), Reply.text(CODE))
    events = await collect(api)
    assert h.slept == [2.5]
    assert text_of(events) == CODE


async def test_response_failed_invalid_prompt_is_not_retried(
    h: Harness, api: ResponsesClient
) -> None:
    h.srv.script(Reply.failed("invalid_prompt", "Invalid prompt: flagged."), Reply.text(CODE))
    with pytest.raises(ResponseFailed) as caught:
        await collect(api)
    assert caught.value.code == "invalid_prompt"
    assert "Invalid prompt: flagged." in caught.value.message
    assert len(h.srv.requests) == 1 and h.slept == []


async def test_response_failed_context_length_exceeded(h: Harness, api: ResponsesClient) -> None:
    h.srv.script(Reply.failed("context_length_exceeded"), Reply.text(CODE))
    with pytest.raises(ContextLengthExceeded) as caught:
        await collect(api)
    assert "context window" in caught.value.user_message()
    assert len(h.srv.requests) == 1 and h.slept == []


async def test_error_event(h: Harness) -> None:
    api = h.client(max_retries=1)
    h.srv.script(Reply.error_event("server_error", "The server had an error."), Reply.text(CODE))
    events = await collect(api)
    (notice,) = [e for e in events if isinstance(e, RetryScheduled)]
    assert isinstance(notice.error, ResponseFailed)
    assert notice.error.code == "server_error"
    assert text_of(events) == CODE

    h.srv.script(Reply.error_event("invalid_prompt", "nope"))
    with pytest.raises(ResponseFailed) as caught:
        await collect(api)
    assert caught.value.code == "invalid_prompt"


async def test_response_incomplete(h: Harness) -> None:
    api = h.client(max_retries=0)
    h.srv.script(Reply.incomplete("max_output_tokens"))
    events: list[Any] = []
    with pytest.raises(ResponseIncomplete) as caught:
        async for event in api.stream(REQUEST):
            events.append(event)
    assert caught.value.reason == "max_output_tokens"
    assert "incomplete response returned, reason: max_output_tokens" in str(caught.value)
    assert text_of(events) == DEFAULT_PARTIAL  # the partial text was streamed before the end


async def test_wrong_content_type(h: Harness, api: ResponsesClient) -> None:
    h.srv.script(Reply.wrong_content_type(), Reply.text(CODE))
    with pytest.raises(UnexpectedContentType) as caught:
        await collect(api)
    assert "text/html" in str(caught.value)
    assert BASE_URL_HINT in caught.value.user_message()
    assert len(h.srv.requests) == 1 and h.slept == []


# ------------------------------------------------------------------------------ timeouts


async def test_request_timeout_waiting_for_headers(h: Harness) -> None:
    api = h.client(request_timeout=0.2, max_retries=0)
    h.srv.script(Reply.text(CODE, header_delay=3.0))
    started = time.monotonic()
    with pytest.raises(ApiTimeoutError) as caught:
        await collect(api)
    assert time.monotonic() - started < 2.0
    assert "no answer in time" in caught.value.user_message()
    h.srv.wait_until(lambda rs: rs[0].disconnected_at is not None, timeout=2.0)


async def test_request_timeout_is_retried(h: Harness) -> None:
    # 1 s, not less: the retry's own headers must arrive in time on a loaded 2-core machine
    api = h.client(request_timeout=1.0, max_retries=1)
    h.srv.script(Reply.text("late", header_delay=4.0), Reply.text(CODE))
    events = await collect(api)
    (notice,) = [e for e in events if isinstance(e, RetryScheduled)]
    assert isinstance(notice.error, ApiTimeoutError)
    assert text_of(events) == CODE


async def test_request_timeout_on_json_calls(h: Harness) -> None:
    api = h.client(request_timeout=0.2, max_retries=0)
    h.srv.script_compact(Reply.compacted([], header_delay=3.0))
    with pytest.raises(ApiTimeoutError):
        await api.compact(CompactRequest(model=MODEL, input=[user_message("x")]))


# ------------------------------------------------------------------------------ JSON endpoints


async def test_create_non_streaming(h: Harness, api: ResponsesClient) -> None:
    h.srv.script(Reply.text(CODE, reasoning=True))
    response = await api.create(REQUEST)
    assert response.status == "completed"
    assert response.output_text == CODE
    assert isinstance(response.output[0], ReasoningItem)
    assert response.usage is not None and response.usage.total_tokens > 0
    (request,) = h.srv.requests
    assert request.body is not None and request.body["stream"] is False
    assert request.headers["accept"] == "application/json"


async def test_create_retries_5xx(h: Harness, api: ResponsesClient) -> None:
    h.srv.script(Reply.error(502), Reply.text(CODE))
    response = await api.create(REQUEST)
    assert response.output_text == CODE
    assert h.slept == backoffs(1)


async def test_compact(h: Harness, api: ResponsesClient) -> None:
    history = [
        user_message("Summarize our launch checklist."),
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "x"}]},
        user_message("And the risks?"),
    ]
    compacted = await api.compact(
        CompactRequest(model=MODEL, input=history, instructions="Be brief.")
    )
    (request,) = h.srv.requests
    assert request.path == "/v1/responses/compact"
    assert request.body == {"model": MODEL, "input": history, "instructions": "Be brief."}
    assert [item["type"] for item in compacted.output] == ["message", "message", "compaction"]
    assert compacted.output[-1]["encrypted_content"]
    assert compacted.id.startswith("resp_")
    assert compacted.usage is not None and compacted.usage.total_tokens > 0


async def test_compact_scripted_reply_is_kept_verbatim(h: Harness, api: ResponsesClient) -> None:
    items = [{"type": "compaction", "id": "cmp_1", "encrypted_content": "enc", "created_by": "x"}]
    h.srv.script_compact(Reply.compacted(items, usage={"input_tokens": 10, "output_tokens": 2}))
    compacted = await api.compact(CompactRequest(model=MODEL, input=[user_message("x")]))
    assert compacted.output == items
    assert compacted.usage is not None and compacted.usage.total_tokens == 12


async def test_compact_404_is_not_found(h: Harness, api: ResponsesClient) -> None:
    h.srv.script_compact(Reply.error(404))
    with pytest.raises(NotFoundError) as caught:
        await api.compact(CompactRequest(model=MODEL, input=[user_message("x")]))
    assert caught.value.url == f"{h.srv.base_url}/v1/responses/compact"
    assert len(h.srv.requests) == 1 and h.slept == []


async def test_compact_500_is_retried(h: Harness, api: ResponsesClient) -> None:
    h.srv.script_compact(Reply.error(500))
    compacted = await api.compact(CompactRequest(model=MODEL, input=[user_message("x")]))
    assert compacted.output[-1]["type"] == "compaction"
    assert len(h.srv.requests) == 2 and h.slept == backoffs(1)


async def test_list_models() -> None:
    with LoopbackServer(models=["gpt-5.2-codex", "gpt-5.1-codex-max"]) as server:
        h = Harness(server)
        api = h.client()
        try:
            assert await api.list_models() == ["gpt-5.2-codex", "gpt-5.1-codex-max"]
        finally:
            await api.aclose()
        (request,) = server.requests
        assert (request.method, request.path) == ("GET", "/v1/models")
        assert request.headers["authorization"] == f"Bearer {KEY}"


# ------------------------------------------------------------------------------ base URL


@pytest.mark.parametrize(
    ("base_url", "root"),
    [
        ("https://api.openai.com", "https://api.openai.com/v1"),
        ("https://api.openai.com/", "https://api.openai.com/v1"),
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("https://api.openai.com/v1/", "https://api.openai.com/v1"),
        ("  https://api.openai.com/v1/  ", "https://api.openai.com/v1"),
        ("https://api.openai.com/v1/responses", "https://api.openai.com/v1"),
        ("https://api.openai.com/v1/responses/compact", "https://api.openai.com/v1"),
        ("https://gw.example/openai", "https://gw.example/openai/v1"),
        ("https://gw.example/openai/v1", "https://gw.example/openai/v1"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
    ],
)
def test_api_root(base_url: str, root: str) -> None:
    assert api_root(base_url) == root
    assert endpoint(base_url, "responses") == root + "/responses"
    assert endpoint(base_url, "/responses/compact") == root + "/responses/compact"


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
async def test_base_url_forms_all_reach_v1_responses(h: Harness, suffix: str) -> None:
    api = h.client(base_url=h.srv.base_url + suffix)
    events = await collect(api)
    assert isinstance(events[-1], ResponseCompleted)
    await api.compact(CompactRequest(model=MODEL, input=[user_message("x")]))
    await api.list_models()
    assert [r.path for r in h.srv.requests] == [
        "/v1/responses",
        "/v1/responses/compact",
        "/v1/models",
    ]


async def test_doubled_v1_is_not_found_with_a_base_url_hint(h: Harness) -> None:
    api = h.client(base_url=h.srv.base_url + "/v1/v1")
    with pytest.raises(NotFoundError) as caught:
        await collect(api)
    message = caught.value.user_message()
    assert "base URL must be the host only" in message
    assert "/v1/responses" in message
    assert [r.path for r in h.srv.requests] == ["/v1/v1/responses"]
    assert h.slept == []


# ------------------------------------------------------------------------------ request headers


async def test_request_headers_and_body(h: Harness, api: ResponsesClient) -> None:
    await collect(api)
    (request,) = h.srv.requests
    assert (request.method, request.path) == ("POST", "/v1/responses")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("responses-lsp/")
    assert request.body == {
        "model": MODEL,
        "input": [user_message("Rewrite this function.")],
        "stream": True,
        "store": False,
    }
    others = {name: value for name, value in request.headers.items() if name != "authorization"}
    assert KEY not in repr(others)
    assert KEY.encode() not in request.raw_body
    assert KEY not in request.path


async def test_stream_forces_stream_true_and_create_forces_false(
    h: Harness, api: ResponsesClient
) -> None:
    await collect(api, REQUEST.model_copy(update={"stream": False}))
    await api.create(REQUEST)
    assert [r.body["stream"] for r in h.srv.requests if r.body] == [True, False]


async def test_one_connection_serves_streams_and_json_calls(h: Harness) -> None:
    transport = CountingTransport()
    api = h.client(transport=transport)
    done = Reply.text(CODE).render(model=MODEL, input_bytes=10).frames
    with_done = Reply.raw_frames([*(f.data for f in done), b"data: [DONE]\n\n"])
    h.srv.script(Reply.text(CODE), with_done, Reply.text(CODE))
    for _ in range(3):  # a plain stream, one with `data: [DONE]` after completed, another
        await collect(api)
    await api.list_models()
    await api.compact(CompactRequest(model=MODEL, input=[user_message("x")]))
    assert len(transport.local_ports) == 5
    assert len(set(transport.local_ports)) == 1  # every request on the same TCP connection
    assert transport.open == 0


async def test_a_failed_stream_does_not_poison_the_pool(h: Harness) -> None:
    transport = CountingTransport()
    api = h.client(transport=transport, max_retries=0)
    h.srv.script(Reply.drop(after_events=3), Reply.text(CODE))
    with pytest.raises(StreamClosedEarly):
        await collect(api)
    assert text_of(await collect(api)) == CODE
    assert transport.local_ports[0] != transport.local_ports[1]  # the broken one was dropped


# ------------------------------------------------------------------------------ cancellation


async def _cancel_after(api: ResponsesClient, events_before_cancel: int) -> float:
    """Stream in a task, cancel it once `events_before_cancel` events arrived; the cancel time."""
    seen: list[Any] = []
    enough = asyncio.Event()

    async def consume() -> None:
        async for event in api.stream(REQUEST):
            seen.append(event)
            if len(seen) >= events_before_cancel:
                enough.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(5.0):
        await enough.wait()
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return cancelled_at


@pytest.mark.parametrize(
    ("reply", "events_before_cancel"),
    [
        (Reply.text("y" * 400, chunks=1, pace_tps=50), 6),  # would take 8 s
        (Reply.stall(after_events=3), 3),  # would wait forever
    ],
    ids=["paced", "stalled"],
)
async def test_cancelling_the_task_closes_the_connection_at_once(
    h: Harness, api: ResponsesClient, reply: Reply, events_before_cancel: int
) -> None:
    h.srv.script(reply)
    cancelled_at = await _cancel_after(api, events_before_cancel)
    (request,) = h.srv.wait_until(lambda rs: rs[0].disconnected_at is not None, timeout=2.0)
    assert request.disconnected_at is not None
    assert request.disconnected_at - cancelled_at < CANCEL_WITHIN
    assert not request.completed


class CountingTransport(httpx.AsyncBaseTransport):
    """The real transport, counting response bodies that are still open and recording the local
    port of each request's TCP connection (httpx's `network_stream` response extension)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.open = 0
        self.local_ports: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        network = response.extensions["network_stream"]
        self.local_ports.append(int(network.get_extra_info("client_addr")[1]))
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        owner = self

        class Counted(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                async for chunk in stream:
                    yield chunk

            async def aclose(self) -> None:
                owner.open -= 1
                await stream.aclose()

        self.open += 1
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=Counted(),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_aclosing_with_an_early_break_closes_the_connection(h: Harness) -> None:
    transport = CountingTransport()
    api = h.client(transport=transport)
    h.srv.script(Reply.text("y" * 400, chunks=1, pace_tps=50))
    seen = 0
    async with contextlib.aclosing(api.stream(REQUEST)) as events:
        async for event in events:
            seen += 1
            if isinstance(event, OutputTextDelta):
                break
    closed_at = time.monotonic()
    assert transport.open == 0  # closed by the time the `async with` is left, not later
    # the server sees the hang-up without this test yielding to the event loop
    (request,) = h.srv.wait_until(lambda rs: rs[0].disconnected_at is not None, timeout=2.0)
    assert request.disconnected_at is not None
    assert request.disconnected_at - closed_at < CANCEL_WITHIN
    assert not request.completed
    assert seen >= 1


async def test_the_client_still_works_after_a_cancel(h: Harness, api: ResponsesClient) -> None:
    h.srv.script(Reply.stall(after_events=3), Reply.text(CODE))
    await _cancel_after(api, 3)
    events = await collect(api)
    assert text_of(events) == CODE


async def test_errors_are_api_errors(h: Harness, api: ResponsesClient) -> None:
    h.srv.script(Reply.error(401))
    with pytest.raises(ApiError):
        await collect(api)
