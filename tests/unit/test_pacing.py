"""Reading a stream at the consumer's pace (`api.pacing`, `jobs.feed`), issue 16.

A fast stream read at a 40 ms pace is read in a handful of socket reads instead of one per
event, with every event delivered, in order; a pace that says "now" reads as data arrives;
a connection that cannot be paced still tells the consumer after every chunk; the job's
feed hands the sanitizer one piece per read.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import httpcore
import httpx
import pytest

from responses_lsp.api.client import ClientConfig, ResponsesClient
from responses_lsp.api.events import OutputTextDelta, ResponseCompleted
from responses_lsp.api.pacing import PacedBackend, PacedStream, make_paceable
from responses_lsp.api.requests import ResponseRequest, user_message
from responses_lsp.editing.sanitizer import SanitizerOptions
from responses_lsp.jobs.feed import READ_EARLY, StreamFeed
from tests.loopback import LoopbackServer, Reply

KEY = "sk-test-pacing-0123456789"
TEXT = "".join(f"tok{i:03d} " for i in range(200))


class Pace:
    """A consumer's pace: records when it was asked, and how many deltas it had by then."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self.asked: list[int] = []
        self.deltas = 0

    def before_read(self) -> float:
        self.asked.append(self.deltas)
        return self.wait


def _client(base_url: str) -> ResponsesClient:
    return ResponsesClient(ClientConfig(base_url=base_url, api_key=KEY, model="m"))


async def _read(client: ResponsesClient, pace: Pace | None) -> tuple[str, list[str]]:
    request = ResponseRequest(model="m", input=[user_message("x")])
    text, kinds = "", []
    async for event in client.stream(request, pace=pace):
        kinds.append(type(event).__name__)
        if isinstance(event, OutputTextDelta):
            text += event.delta
            if pace is not None:
                pace.deltas += 1
    return text, kinds


def test_the_default_client_is_paceable() -> None:
    """httpx and httpcore internals the pacing relies on: fails should they move."""
    client = httpx.AsyncClient()
    assert make_paceable(client)
    backend = client._transport._pool._network_backend  # type: ignore[attr-defined]
    assert isinstance(backend, PacedBackend)
    assert make_paceable(client)  # twice: still one wrapper
    assert not isinstance(backend._inner, PacedBackend)


def test_a_custom_transport_is_left_alone() -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda _r: httpx.Response(200)))
    assert not make_paceable(client)


async def test_a_fast_stream_is_read_in_few_reads_and_arrives_whole() -> None:
    with LoopbackServer() as srv:
        srv.script(Reply.text(TEXT, chunks=8, pace_tps=2000))  # 200 deltas in ~0.1 s
        client = _client(srv.base_url)
        pace = Pace(0.04)
        started = time.monotonic()
        text, kinds = await _read(client, pace)
        elapsed = time.monotonic() - started
        await client.aclose()
    assert text == TEXT
    assert kinds[-1] == ResponseCompleted.__name__
    deltas = kinds.count(OutputTextDelta.__name__)
    assert deltas == len(TEXT) // 8
    # asked before every read of the body: a few reads of many deltas each, not one per delta
    assert 2 <= len(pace.asked) <= 12, pace.asked
    steps = [b - a for a, b in itertools.pairwise(pace.asked)]
    assert max(steps) >= 20, steps
    assert elapsed < 2.0


async def test_a_pace_of_now_reads_as_the_data_arrives() -> None:
    with LoopbackServer() as srv:
        srv.script(Reply.text(TEXT[:400], chunks=8, pace_tps=100))  # one delta per 10 ms
        client = _client(srv.base_url)
        pace = Pace(0.0)
        text, _ = await _read(client, pace)
        await client.aclose()
    assert text == TEXT[:400]
    # at 10 ms apart each delta is its own read: asked before (nearly) every one
    assert len(pace.asked) >= 40, len(pace.asked)


async def test_the_pace_is_dropped_when_the_body_is_done() -> None:
    """The next request on the connection (its headers, a JSON call) is not paced."""
    with LoopbackServer() as srv:
        srv.script(Reply.text("one two", chunks=3), Reply.text("three", chunks=2))
        client = _client(srv.base_url)
        pace = Pace(0.2)
        await _read(client, pace)
        asked = len(pace.asked)
        started = time.monotonic()
        text, _ = await _read(client, None)
        assert time.monotonic() - started < 0.15
        await client.aclose()
    assert text == "three"
    assert len(pace.asked) == asked


async def test_an_unpaced_transport_tells_the_pace_after_every_chunk() -> None:
    frames = [
        {"type": "response.created", "response": {"id": "r", "status": "in_progress"}},
        {"type": "response.output_text.delta", "delta": "a", "item_id": "m", "output_index": 0},
        {"type": "response.output_text.delta", "delta": "b", "item_id": "m", "output_index": 0},
        {"type": "response.completed", "response": {"id": "r", "status": "completed"}},
    ]
    body = [f"event: {f['type']}\ndata: {json.dumps(f)}\n\n".encode() for f in frames]

    async def stream() -> Any:
        for piece in body:
            yield piece

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream())

    client = ResponsesClient(
        ClientConfig(base_url="http://gw.test", api_key=KEY, model="m"),
        transport=httpx.MockTransport(handler),
    )
    pace = Pace(5.0)  # would stall the test if it were slept on
    started = time.monotonic()
    text, _ = await _read(client, pace)
    await client.aclose()
    assert text == "ab"
    assert time.monotonic() - started < 1.0
    # after the chunk with "a" the consumer had 1 delta, after "b" 2
    assert pace.asked[:3] == [0, 1, 2], pace.asked


async def test_a_paced_stream_waits_at_most_max_wait() -> None:
    class Inner(httpcore.AsyncNetworkStream):
        async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
            return b"x"

    stream = PacedStream(Inner())
    stream.pace = Pace(60.0)
    started = time.monotonic()
    assert await stream.read(10) == b"x"
    assert time.monotonic() - started < 0.5


class _Driver:
    def __init__(self) -> None:
        self.pumps = 0

    def pump(self, _uri: str) -> None:
        self.pumps += 1

    def next_edit_in(self, _uri: str) -> float:
        return 0.025


class _Region:
    def __init__(self) -> None:
        self.appended: list[str] = []

    def append(self, text: str) -> None:
        self.appended.append(text)


def test_the_feed_hands_one_piece_per_read() -> None:
    driver, region = _Driver(), _Region()
    feed = StreamFeed(SanitizerOptions(), region, driver, "file:///a.py")  # type: ignore[arg-type]
    for piece in ["def f", "(x):\n", "    return x\n"]:
        feed.add(piece)
    assert region.appended == [] and driver.pumps == 0  # nothing before the read
    assert feed.before_read() == pytest.approx(0.025 - READ_EARLY)
    assert driver.pumps == 1
    assert len(region.appended) == 1  # one piece for the three deltas
    assert "def f(x):\n    return x\n".startswith(region.appended[0])
    assert feed.sanitizer.finish() == "def f(x):\n    return x\n"
    assert feed.before_read() == pytest.approx(0.025 - READ_EARLY)  # nothing new: no pump
    assert driver.pumps == 1
    feed.add("junk")
    feed.restart()
    feed.flush()
    assert driver.pumps == 1


def test_a_failure_inside_the_read_is_kept_for_the_consumer() -> None:
    class Broken(_Driver):
        def pump(self, _uri: str) -> None:
            raise RuntimeError("boom")

    feed = StreamFeed(SanitizerOptions(), _Region(), Broken(), "file:///a.py")  # type: ignore[arg-type]
    feed.add("x = 1\n")
    assert feed.before_read() == 0.0
    assert isinstance(feed.error, RuntimeError)


async def test_a_reset_right_behind_the_data_keeps_the_data_and_fails_the_next_read() -> None:
    """The data of a read comes before a failure met while taking what else was at hand (a
    dropped stream's last events were lost with it: nothing reached the editor)."""

    class Inner(httpcore.AsyncNetworkStream):
        def __init__(self) -> None:
            self.pieces: list[bytes | Exception] = [b"events", ConnectionResetError("reset")]

        async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
            piece = self.pieces.pop(0)
            if isinstance(piece, Exception):
                raise piece
            return piece

        def get_extra_info(self, info: str) -> Any:
            return None

    stream = PacedStream(Inner())
    stream.pace = Pace(0.0)
    stream._more_at_hand = lambda: True  # type: ignore[method-assign]
    assert await stream.read(1024) == b"events"
    asked = len(stream.pace.asked)  # type: ignore[union-attr]
    with pytest.raises(ConnectionResetError):
        await stream.read(1024)
    assert len(stream.pace.asked) == asked + 1  # type: ignore[union-attr]  # told first


async def test_an_end_right_behind_the_data_is_an_end_on_the_next_read() -> None:
    class Inner(httpcore.AsyncNetworkStream):
        def __init__(self) -> None:
            self.pieces = [b"events", b"", b""]

        async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
            return self.pieces.pop(0)

    stream = PacedStream(Inner())
    stream.pace = Pace(0.0)
    stream._more_at_hand = lambda: True  # type: ignore[method-assign]
    assert await stream.read(1024) == b"events"
    asked = len(stream.pace.asked)  # type: ignore[union-attr]
    assert await stream.read(1024) == b""
    assert len(stream.pace.asked) == asked + 1  # type: ignore[union-attr]  # told first
