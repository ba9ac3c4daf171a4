"""The loopback Responses server, spoken to with plain httpx: every reply kind sends what it
promises on the wire, and the server records what it saw (including clients that hang up)."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.loopback import LoopbackServer, RecordedRequest, Reply

CODE = "async def f():\n    return 1\n"
SERVER_DIR = Path(__file__).resolve().parents[2] / "server"

TEXT_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    *["response.output_text.delta"] * 7,  # CODE is 28 chars: 7 pieces of 4
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


@pytest.fixture
def srv() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def client(srv: LoopbackServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.base_url, timeout=5.0) as http:
        yield http


def parse_sse(text: str) -> list[dict[str, Any]]:
    """Frames -> event dicts; checks that `event:` equals the JSON `type`. Skips non-JSON data."""
    events = []
    for frame in text.split("\n\n"):
        lines = [line for line in frame.split("\n") if line and not line.startswith(":")]
        name = next((line[len("event: ") :] for line in lines if line.startswith("event: ")), None)
        data = "\n".join(line[len("data: ") :] for line in lines if line.startswith("data: "))
        try:
            event = json.loads(data)
        except ValueError:
            continue
        if isinstance(event, dict):
            if name is not None:
                assert name == event["type"]
            events.append(event)
    return events


def stream(client: httpx.Client, **body: Any) -> tuple[httpx.Response, list[dict[str, Any]]]:
    response = client.post(
        "/v1/responses", json={"model": "gpt-test", "input": "hi", "stream": True, **body}
    )
    return response, parse_sse(response.text)


def deltas(events: list[dict[str, Any]], kind: str = "response.output_text.delta") -> list[str]:
    return [e["delta"] for e in events if e["type"] == kind]


def assert_well_formed(events: list[dict[str, Any]]) -> None:
    numbers = [e["sequence_number"] for e in events]
    assert numbers == list(range(len(events)))


# ---- streamed replies --------------------------------------------------------------------------


def test_text_stream_sends_the_normal_event_sequence(
    srv: LoopbackServer, client: httpx.Client
) -> None:
    srv.script(Reply.text(CODE))
    response, events = stream(client)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["transfer-encoding"] == "chunked"
    assert [e["type"] for e in events] == TEXT_EVENTS
    assert_well_formed(events)
    assert "".join(deltas(events)) == CODE
    assert events[-4]["text"] == CODE
    final = events[-1]["response"]
    assert final["status"] == "completed"
    assert final["model"] == "gpt-test"  # echoes the request's model
    assert final["id"] == events[0]["response"]["id"]
    assert final["output"] == [events[-2]["item"]]
    assert final["output"][0]["content"][0]["text"] == CODE
    usage = final["usage"]
    assert usage["output_tokens"] == 7  # 28 bytes / 4
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["input_tokens_details"]["cached_tokens"] == 0
    assert usage["output_tokens_details"]["reasoning_tokens"] == 0


def test_text_with_reasoning_fence_and_prose(srv: LoopbackServer, client: httpx.Client) -> None:
    reply = Reply.text(
        CODE,
        reasoning="**Planning**",
        fence="python",
        prose_before="Here is the refactored code:\n\n",
        prose_after="\nThe function is now async.",
    )
    expected = f"Here is the refactored code:\n\n```python\n{CODE}```\nThe function is now async."
    assert reply.output_text == expected
    srv.script(reply)
    _, events = stream(client)

    types = [e["type"] for e in events]
    assert types[2:5] == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
    ]
    assert_well_formed(events)
    assert "".join(deltas(events, "response.reasoning_summary_text.delta")) == "**Planning**"
    reasoning_done = next(e for e in events if e["type"] == "response.output_item.done")
    assert reasoning_done["item"]["type"] == "reasoning"
    assert reasoning_done["item"]["encrypted_content"]
    assert reasoning_done["item"]["summary"] == [{"type": "summary_text", "text": "**Planning**"}]
    assert "".join(deltas(events)) == expected
    assert {e["output_index"] for e in events if e["type"] == "response.output_text.delta"} == {1}
    assert events[-1]["response"]["usage"]["output_tokens_details"]["reasoning_tokens"] == 3


@pytest.mark.parametrize(
    ("chunks", "sizes"),
    [(None, [4] * 7), (5, [5] * 5 + [3]), ([1, 10], [1, 10, 1, 10, 1, 5])],
)
def test_delta_chunking(
    srv: LoopbackServer, client: httpx.Client, chunks: Any, sizes: list[int]
) -> None:
    srv.script(Reply.text(CODE, chunks=chunks))
    _, events = stream(client)
    assert [len(d) for d in deltas(events)] == sizes


def test_random_chunks_depend_only_on_the_seed(srv: LoopbackServer, client: httpx.Client) -> None:
    text = "x" * 300
    srv.script(*(Reply.text(text, chunks="random", seed=seed) for seed in (7, 7, 8)))
    runs = [[len(d) for d in deltas(stream(client)[1])] for _ in range(3)]
    assert runs[0] == runs[1] != runs[2]
    assert all(1 <= size <= 12 for size in runs[0])
    assert sum(runs[0]) == 300


def test_pace_tps_spaces_the_deltas(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.script(Reply.text("a" * 20, chunks=1, pace_tps=200))  # 20 deltas, 5 ms apart
    arrivals = []
    with client.stream("POST", "/v1/responses", json={"stream": True}) as response:
        for line in response.iter_lines():
            if line.startswith("event: response.output_text.delta"):
                arrivals.append(time.monotonic())
    assert len(arrivals) == 20
    assert arrivals[-1] - arrivals[0] >= 19 / 200 * 0.9


def test_function_call_stream(srv: LoopbackServer, client: httpx.Client) -> None:
    args = '{"command": ["ls", "-la"]}'
    srv.script(Reply.function_call("shell", args, call_id="call_1", text_before="Listing."))
    _, events = stream(client)
    assert_well_formed(events)
    added = [e["item"] for e in events if e["type"] == "response.output_item.added"]
    assert [item["type"] for item in added] == ["message", "function_call"]
    assert added[1]["status"] == "in_progress" and added[1]["arguments"] == ""
    assert "".join(deltas(events, "response.function_call_arguments.delta")) == args
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert (done["arguments"], done["name"], done["output_index"]) == (args, "shell", 1)
    item = events[-2]["item"]
    assert item["call_id"] == "call_1" and item["status"] == "completed"
    assert item["arguments"] == args and item["id"] == done["item_id"]
    assert events[-1]["response"]["output"][1] == item


def test_custom_tool_call_stream(srv: LoopbackServer, client: httpx.Client) -> None:
    patch = "*** Begin Patch\n*** Add File: a.py\n+print('é')\n*** End Patch\n"
    srv.script(Reply.custom_tool_call("apply_patch", patch))
    _, events = stream(client)
    assert [e["type"] for e in events][2] == "response.output_item.added"
    assert "".join(deltas(events, "response.custom_tool_call_input.delta")) == patch
    done = next(e for e in events if e["type"] == "response.custom_tool_call_input.done")
    assert done["input"] == patch
    item = events[-2]["item"]
    assert item["type"] == "custom_tool_call" and item["input"] == patch
    assert item["call_id"].startswith("call_")


def test_items_stream_several_outputs(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.script(
        Reply.items(
            [
                {"type": "message", "text": "Reading files."},
                {"type": "function_call", "name": "read", "arguments": "{}", "call_id": "c1"},
                {"type": "compaction", "encrypted_content": "opaque"},
            ]
        )
    )
    _, events = stream(client)
    output = events[-1]["response"]["output"]
    assert [item["type"] for item in output] == ["message", "function_call", "compaction"]
    assert output[2]["id"].startswith("cmp_")
    assert "".join(deltas(events)) == "Reading files."


def test_ids_are_fresh_per_request(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.default = Reply.text("ok")
    first, second = stream(client)[1], stream(client)[1]
    assert first[0]["response"]["id"] != second[0]["response"]["id"]
    fixed = Reply.text("ok", response_id="resp_fixed", model="gpt-other")
    srv.script(fixed)
    final = stream(client)[1][-1]["response"]
    assert (final["id"], final["model"]) == ("resp_fixed", "gpt-other")


def test_failed_incomplete_and_error_event(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.script(
        Reply.failed("rate_limit_exceeded"),
        Reply.incomplete("max_output_tokens", text="def f(:"),
        Reply.error_event("server_error", "boom", after_events=1),
    )
    _, failed = stream(client)
    assert [e["type"] for e in failed] == [
        "response.created",
        "response.in_progress",
        "response.failed",
    ]
    assert_well_formed(failed)
    error = failed[-1]["response"]["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert "Please try again in 1.5s." in error["message"]
    assert failed[-1]["response"]["status"] == "failed"

    _, incomplete = stream(client)
    final = incomplete[-1]
    assert final["type"] == "response.incomplete"
    assert final["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["response"]["output"][0]["status"] == "incomplete"
    assert "".join(deltas(incomplete)) == "def f(:"

    _, errored = stream(client)
    assert [e["type"] for e in errored] == ["response.created", "error"]
    assert errored[-1] == {
        "type": "error",
        "sequence_number": 1,
        "code": "server_error",
        "message": "boom",
        "param": None,
    }


def test_malformed_stream_carries_garbage_and_the_text(
    srv: LoopbackServer, client: httpx.Client
) -> None:
    srv.script(Reply.malformed(CODE))
    response, events = stream(client)
    body = response.text
    assert ": keep-alive\n\n" in body
    assert "data: {this is not json\n\n" in body
    assert body.endswith("data: [DONE]\n\n")
    types = [e["type"] for e in events]
    assert "response.future_thing" in types
    assert_well_formed(events)
    assert events[-1]["type"] == "response.completed"
    assert [item["type"] for item in events[-1]["response"]["output"]] == ["future_item", "message"]
    assert "".join(deltas(events)) == CODE


def test_raw_events_fill_in_sequence_numbers(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.script(
        Reply.raw_events(
            [
                {"type": "response.created", "response": {"id": "r"}},
                {"type": "x", "sequence_number": 9},
                {"type": "y"},
            ]
        )
    )
    _, events = stream(client)
    assert [(e["type"], e["sequence_number"]) for e in events] == [
        ("response.created", 0),
        ("x", 9),
        ("y", 10),
    ]


# ---- connection-level failures -----------------------------------------------------------------


def test_drop_aborts_without_the_final_chunk(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.script(Reply.drop(after_events=5, text=CODE))
    received = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/v1/responses", json={"stream": True}) as response,
    ):
        for chunk in response.iter_text():
            received.append(chunk)
    events = parse_sse("".join(received))
    assert [e["type"] for e in events] == TEXT_EVENTS[:5]
    (request,) = srv.wait_until(lambda rs: len(rs) == 1 and rs[0].finished_at is not None)
    assert not request.completed and request.reply_kind == "drop"


def test_drop_clean_ends_the_body_without_completed(
    srv: LoopbackServer, client: httpx.Client
) -> None:
    srv.script(Reply.drop(after_events=3, clean=True), Reply.drop(after_events=99, clean=True))
    response, events = stream(client)
    assert response.status_code == 200
    assert [e["type"] for e in events] == TEXT_EVENTS[:3]
    _, events = stream(client)  # never cuts after the terminal event
    assert events[-1]["type"] == "response.output_item.done"


def test_stall_records_when_the_client_hangs_up(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.script(Reply.stall(after_events=3, seconds=5))
    seen = 0
    with client.stream("POST", "/v1/responses", json={"stream": True}) as response:
        for line in response.iter_lines():
            seen += line.startswith("data: ")
            if seen == 3:
                closing_at = time.monotonic()  # leaving the loop closes the connection
                break
    (request,) = srv.wait_until(lambda rs: rs[0].disconnected_at is not None, timeout=2.0)
    assert request.disconnected_at is not None
    assert 0 <= request.disconnected_at - closing_at < 1.0
    assert not request.completed
    assert [e["type"] for e in request.sent_events] == TEXT_EVENTS[:3]


def test_stall_resume_sends_the_rest(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.script(Reply.stall(after_events=2, seconds=0.1, resume=True, text=CODE))
    started = time.monotonic()
    _, events = stream(client)
    assert time.monotonic() - started >= 0.1
    assert [e["type"] for e in events] == TEXT_EVENTS


def test_paced_stream_records_the_disconnect(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.script(Reply.text("y" * 200, chunks=1, pace_tps=50))  # would take 4 s
    with client.stream("POST", "/v1/responses", json={"stream": True}) as response:
        for line in response.iter_lines():
            if line.startswith("event: response.output_text.delta"):
                closing_at = time.monotonic()
                break
    (request,) = srv.wait_until(lambda rs: rs[0].finished_at is not None, timeout=2.0)
    assert request.disconnected_at is not None
    assert 0 <= request.disconnected_at - closing_at < 1.0
    assert not request.completed


def test_header_delay_holds_back_the_status_line(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.script(Reply.text("late", header_delay=2.0), Reply.error(500, header_delay=0.2))
    with pytest.raises(httpx.ReadTimeout):
        client.post("/v1/responses", json={"stream": True}, timeout=httpx.Timeout(5.0, read=0.1))
    srv.wait_until(lambda rs: rs[0].disconnected_at is not None, timeout=2.0)
    started = time.monotonic()
    assert client.post("/v1/responses", json={}).status_code == 500
    assert time.monotonic() - started >= 0.2


def test_one_byte_writes_split_utf8_and_deliver_the_same_text(srv: LoopbackServer) -> None:
    text = "é → 🎉 ✓ naïve"
    srv.script(Reply.text(text, write_chunk_size=1))
    body = json.dumps({"model": "m", "stream": True}).encode()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, chunked = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    sizes, payload, rest = [], b"", chunked
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        sizes.append(size)
        if size == 0:
            break
        payload, rest = payload + rest[:size], rest[size + 2 :]
    assert set(sizes) == {1, 0}  # every HTTP chunk is one byte: multi-byte chars are split
    events = parse_sse(payload.decode("utf-8"))
    assert "".join(deltas(events)) == text
    assert events[-1]["type"] == "response.completed"


def test_one_byte_writes_through_httpx(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.script(Reply.text("héllo 🌍", write_chunk_size=1))
    _, events = stream(client)
    assert "".join(deltas(events)) == "héllo 🌍"


# ---- fixed bodies: errors, JSON, compaction ------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "status", "error_type", "code"),
    [
        (Reply.error(401), 401, "invalid_request_error", "invalid_api_key"),
        (Reply.error(403), 403, "invalid_request_error", "model_not_found"),
        (Reply.error(404), 404, "invalid_request_error", "unknown_url"),
        (Reply.error(429, retry_after=2), 429, "tokens", "rate_limit_exceeded"),
        (
            Reply.error(429, code="insufficient_quota"),
            429,
            "insufficient_quota",
            "insufficient_quota",
        ),
        (
            Reply.error(400, code="context_length_exceeded"),
            400,
            "invalid_request_error",
            "context_length_exceeded",
        ),
        (Reply.error(500), 500, "server_error", "server_error"),
        (Reply.error(503), 503, "server_error", None),
    ],
)
def test_error_envelopes(
    srv: LoopbackServer,
    client: httpx.Client,
    reply: Reply,
    status: int,
    error_type: str,
    code: str | None,
) -> None:
    srv.script(reply)
    response, _ = stream(client)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == (error_type, code)
    assert error["message"]


def test_error_retry_headers_and_overrides(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.script(
        Reply.error(429, retry_after=2),
        Reply.error(
            503,
            retry_after_ms=250,
            headers={"x-should-retry": "true"},
            message="busy",
            code="overloaded",
        ),
    )
    first = client.post("/v1/responses", json={})
    assert first.headers["retry-after"] == "2"
    assert "Please try again in 2s." in first.json()["error"]["message"]
    second = client.post("/v1/responses", json={})
    assert (second.headers["retry-after-ms"], second.headers["x-should-retry"]) == ("250", "true")
    assert second.json()["error"]["message"] == "busy"
    assert second.json()["error"]["code"] == "overloaded"


def test_non_streaming_request_gets_the_response_object(
    srv: LoopbackServer, client: httpx.Client
) -> None:
    srv.script(Reply.text(CODE, reasoning=True), Reply.failed(), Reply.drop())
    response = client.post("/v1/responses", json={"model": "m", "input": "x"})
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["object"] == "response" and body["status"] == "completed"
    assert [item["type"] for item in body["output"]] == ["reasoning", "message"]
    assert body["output"][1]["content"][0]["text"] == CODE
    assert body["usage"]["total_tokens"] > 0
    failed = client.post("/v1/responses", json={}).json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/v1/responses", json={})


def test_wrong_content_type(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.script(Reply.wrong_content_type())
    response, events = stream(client)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert events == []


def test_compact_default_echoes_user_messages_then_compaction(
    srv: LoopbackServer, client: httpx.Client
) -> None:
    history = [
        {"type": "message", "role": "developer", "content": "rules"},
        {"type": "message", "role": "user", "content": "refactor f"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "done"}],
        },
        {"role": "user", "content": [{"type": "input_text", "text": "now g"}]},
    ]
    body = client.post("/v1/responses/compact", json={"model": "m", "input": history}).json()
    assert body["object"] == "response.compaction"
    output = body["output"]
    assert [(item["type"], item.get("role")) for item in output] == [
        ("message", "user"),
        ("message", "user"),
        ("compaction", None),
    ]
    assert output[0]["content"] == [{"type": "input_text", "text": "refactor f"}]
    assert output[-1]["encrypted_content"]
    assert (
        body["usage"]["total_tokens"]
        == body["usage"]["input_tokens"] + body["usage"]["output_tokens"]
    )


def test_compact_script_and_errors(srv: LoopbackServer, client: httpx.Client) -> None:
    item = {"type": "compaction", "id": "cmp_1", "encrypted_content": "abc"}
    srv.script_compact(
        Reply.compacted([item], usage={"input_tokens": 100, "output_tokens": 10}), Reply.error(404)
    )
    body = client.post("/v1/responses/compact", json={}).json()
    assert body["output"] == [item]
    assert body["usage"]["total_tokens"] == 110
    assert client.post("/v1/responses/compact", json={}).status_code == 404
    srv.compact_responder = lambda request: (
        Reply.error(500) if request.body == {"fail": True} else None
    )
    assert client.post("/v1/responses/compact", json={"fail": True}).status_code == 500
    assert (
        client.post("/v1/responses/compact", json={"input": "x"}).json()["output"][-1]["type"]
        == "compaction"
    )
    assert srv.pending == (0, 0)


# ---- routing, auth, recording ------------------------------------------------------------------


def test_script_fifo_then_responder_then_default(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.script(Reply.text("first"), Reply.text("second"))
    srv.responder = lambda request: (
        Reply.text("special") if (request.body or {}).get("input") == "magic" else None
    )
    srv.default = Reply.text("fallback")
    texts = [
        "".join(deltas(stream(client, input=text)[1]))
        for text in ("magic", "magic", "magic", "plain")
    ]
    assert texts == ["first", "second", "special", "fallback"]
    assert srv.pending == (0, 0)


def test_requests_are_recorded(srv: LoopbackServer, client: httpx.Client) -> None:
    before = time.monotonic()
    client.post(
        "/v1/responses",
        json={"model": "m", "input": "hi", "stream": True},
        headers={"Authorization": "Bearer sk-x", "X-Custom": "1"},
    )
    (request,) = srv.wait_for_requests(1)
    assert isinstance(request, RecordedRequest)
    assert (request.method, request.path) == ("POST", "/v1/responses")
    assert request.headers["authorization"] == "Bearer sk-x"
    assert request.headers["x-custom"] == "1"
    assert request.body == {"model": "m", "input": "hi", "stream": True}
    assert json.loads(request.raw_body) == request.body
    assert before <= request.received_at <= time.monotonic()
    assert request.reply_kind == "text" and request.status == 200
    assert request.completed and request.disconnected_at is None
    assert request.sent_events[-1]["type"] == "response.completed"
    assert json.loads(json.dumps(request.to_json()))["path"] == "/v1/responses"
    srv.clear()
    assert srv.requests == []
    with pytest.raises(TimeoutError):
        srv.wait_for_requests(1, timeout=0.05)


def test_expected_key(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.expected_key = "sk-right"
    srv.script(Reply.text("secret"))
    wrong = client.post("/v1/responses", json={}, headers={"Authorization": "Bearer sk-wrong"})
    missing = client.post("/v1/responses", json={})
    for response in (wrong, missing):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
    assert "sk-wrong" not in wrong.text
    assert srv.pending == (1, 0)  # a rejected request does not consume the script
    right = client.post(
        "/v1/responses", json={"stream": True}, headers={"Authorization": "Bearer sk-right"}
    )
    assert "".join(deltas(parse_sse(right.text))) == "secret"
    assert [r.reply_kind for r in srv.requests] == ["auth_error", "auth_error", "text"]


def test_models(srv: LoopbackServer, client: httpx.Client) -> None:
    srv.models = ["gpt-5.2-codex", "gpt-5.1-codex"]
    listing = client.get("/v1/models").json()
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == srv.models
    assert client.get("/v1/models/gpt-5.1-codex").json()["id"] == "gpt-5.1-codex"
    assert client.get("/v1/models/nope").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/v1/responses"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/responses"),
        ("GET", "/v1/responses"),
        ("GET", "/"),
    ],
)
def test_other_paths_are_404(
    srv: LoopbackServer, client: httpx.Client, method: str, path: str
) -> None:
    response = client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error == {
        "message": f"Invalid URL ({method} {path})",
        "type": "invalid_request_error",
        "param": None,
        "code": "unknown_url",
    }
    assert srv.requests[-1].reply_kind == "unknown_url"


def test_stop_ends_a_stall_promptly() -> None:
    srv = LoopbackServer().start()
    srv.script(Reply.stall(after_events=1))  # no time limit: only the client or stop() ends it
    got_event = threading.Event()
    outcome: list[str] = []

    def read() -> None:
        try:
            with httpx.stream(
                "POST", srv.base_url + "/v1/responses", json={"stream": True}, timeout=10
            ) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        got_event.set()
            outcome.append("ended")
        except httpx.HTTPError as exc:
            outcome.append(type(exc).__name__)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert got_event.wait(5)
    started = time.monotonic()
    srv.stop()
    reader.join(5)
    assert not reader.is_alive() and time.monotonic() - started < 2
    assert outcome == ["RemoteProtocolError"]
    assert srv.requests[0].disconnected_at is None  # stopping is not a client disconnect


def test_a_failing_responder_answers_500_with_the_reason(
    srv: LoopbackServer, client: httpx.Client
) -> None:
    def responder(request: RecordedRequest) -> Reply:
        raise RuntimeError("script bug")

    srv.responder = responder
    response = client.post("/v1/responses", json={"stream": True})
    assert response.status_code == 500
    assert "script bug" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "options",
    [{"chunks": 0}, {"chunks": []}, {"chunks": "words"}, {"pace_tps": 0}, {"write_chunk_size": -1}],
)
def test_bad_reply_options_fail_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Reply.text("x", **options)


def test_from_spec_maps_kinds_to_constructors() -> None:
    assert Reply.from_spec(
        {"kind": "text", "text": "hi", "pace_tps": 200, "fence": "python"}
    ) == Reply.text("hi", pace_tps=200, fence="python")
    assert Reply.from_spec({"kind": "error", "status": 429, "retry_after": 1}) == Reply.error(
        429, retry_after=1
    )
    assert Reply.from_spec({"kind": "stall", "after_events": 2, "seconds": 1}).kind == "stall"
    with pytest.raises(ValueError, match="unknown reply kind"):
        Reply.from_spec({"kind": "nope"})


def test_loopback_is_stdlib_only_and_imports_nothing_else_from_the_package() -> None:
    package = SERVER_DIR / "responses_lsp" / "loopback"
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level in (0, 1), f"{source.name}: import from outside loopback"
                roots = [] if node.level == 1 else [(node.module or "").split(".")[0]]
            else:
                continue
            for root in roots:
                assert root == "__future__" or root in sys.stdlib_module_names, (source.name, root)


# ---- standalone CLI ------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(SERVER_DIR.parent), str(SERVER_DIR), env.get("PYTHONPATH")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    return env


def _read_url_line(proc: subprocess.Popen[str]) -> str:
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.append(proc.stdout.readline() if proc.stdout else ""), daemon=True
    )
    reader.start()
    reader.join(10)
    assert lines, "loopback CLI printed nothing within 10 s"
    assert lines[0].startswith("LOOPBACK_URL=http://127.0.0.1:"), lines
    return lines[0].strip().split("=", 1)[1]


def test_cli_serves_a_script_and_records(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            [
                {"kind": "text", "text": CODE, "fence": "python"},
                {"kind": "error", "status": 429, "retry_after": 1},
            ]
        )
    )
    record = tmp_path / "requests.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.loopback",
            "--port",
            "0",
            "--script",
            str(script),
            "--record",
            str(record),
            "--default-text",
            "dflt",
            "--exit-on-stdin-eof",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        url = _read_url_line(proc)
        with httpx.Client(base_url=url, timeout=5) as http:
            first = parse_sse(http.post("/v1/responses", json={"stream": True}).text)
            assert "".join(deltas(first)) == f"```python\n{CODE}```"
            assert http.post("/v1/responses", json={}).status_code == 429
            assert (
                "".join(deltas(parse_sse(http.post("/v1/responses", json={"stream": True}).text)))
                == "dflt"
            )
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
        recorded = [json.loads(line) for line in record.read_text().splitlines()]
        assert [r["reply_kind"] for r in recorded] == ["text", "error", "text"]
        assert recorded[0]["body"] == {"stream": True}
        assert proc.stdout is not None and proc.stdout.read() == ""  # exactly one line on stdout
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_cli_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.loopback"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        url = _read_url_line(proc)
        assert httpx.get(url + "/v1/models", timeout=5).status_code == 200
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


async def test_async_httpx_sse_reads_the_stream(srv: LoopbackServer) -> None:
    # the project's own stack (httpx.AsyncClient + httpx-sse), including the garbage frames
    from httpx_sse import aconnect_sse

    srv.script(Reply.malformed("ünïcode ✓\n", write_chunk_size=3))
    async with (
        httpx.AsyncClient(base_url=srv.base_url, timeout=5) as http,
        aconnect_sse(http, "POST", "/v1/responses", json={"stream": True}) as source,
    ):
        frames = [(sse.event, sse.data) async for sse in source.aiter_sse()]
    parsed = []
    for name, data in frames:
        try:
            event = json.loads(data)
        except ValueError:
            continue
        if isinstance(event, dict):
            assert name == event["type"]
            parsed.append(event)
    assert "".join(deltas(parsed)) == "ünïcode ✓\n"
    assert frames[-1] == ("message", "[DONE]")
