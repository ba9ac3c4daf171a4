"""The loopback's prompt cache (issue 15, item 4): `cached_tokens` as OpenAI's prefix cache
reports them — the longest byte-identical prefix with an earlier request of the same
`prompt_cache_key`, nothing below 1,024 tokens, then 128-token steps."""

from __future__ import annotations

import json
from typing import Any

import httpx

from responses_lsp.loopback import LoopbackServer, Reply
from responses_lsp.loopback.cache import PrefixCache, cacheable_tokens, prompt_bytes

INSTRUCTIONS = "You rewrite code."


def message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def body(*texts: str, key: str | None = "k", instructions: str = INSTRUCTIONS) -> dict[str, Any]:
    return {
        "model": "m",
        "instructions": instructions,
        "input": [message(t) for t in texts],
        "prompt_cache_key": key,
        "stream": True,
    }


def test_granularity_is_the_providers() -> None:
    assert cacheable_tokens(4 * 1023) == 0  # below the minimum: nothing
    assert cacheable_tokens(4 * 1024) == 1024
    assert cacheable_tokens(4 * (1024 + 127) + 3) == 1024  # 128-token steps
    assert cacheable_tokens(4 * (1024 + 128)) == 1152


def test_the_longest_common_prefix_with_an_earlier_request_of_the_same_key() -> None:
    cache = PrefixCache()
    history = "x" * 8000  # ~2,000 tokens
    first = body(history, "first question")
    assert cache.lookup(first) == 0  # nothing earlier
    second = body(history, "first question", "the answer", "second question")
    assert prompt_bytes(second).startswith(prompt_bytes(first))  # the whole first prompt
    assert cache.lookup(second) == cacheable_tokens(len(prompt_bytes(first))) == 2048
    # a prefix that stops in the middle of the first prompt: up to where they differ
    third = body(history[:6000] + "z", "first question")
    shared = len(prompt_bytes(body(history[:6000])).rstrip(b'"}]}'))
    assert cache.lookup(third) == cacheable_tokens(shared) == 1408
    assert cache.lookup(body(history, "other", key="another key")) == 0  # another cache
    # a different first byte (the instructions) shares nothing
    assert cache.lookup(body(history, "first question", instructions="Other.")) == 0
    # the same key, same prefix as before: cached again
    assert cache.lookup(body(history, "third")) >= 1024


def test_the_server_reports_cached_tokens_in_the_usage() -> None:
    history = "y" * 10_000
    with LoopbackServer() as srv, httpx.Client(base_url=srv.base_url) as client:
        srv.default = Reply.text("ok", chunks=100)
        finals = []
        for extra in ("a", "b"):
            request = body(history, extra)
            request["stream"] = False
            reply = client.post("/v1/responses", content=json.dumps(request))
            finals.append(reply.json()["usage"])
        assert finals[0]["input_tokens_details"]["cached_tokens"] == 0
        cached = finals[1]["input_tokens_details"]["cached_tokens"]
        assert cached >= 2048 and cached <= finals[1]["input_tokens"]
        assert cached % 128 == 0
        # a reply that sets the usage itself keeps it
        srv.default = Reply.text("ok", usage={"input_tokens_details": {"cached_tokens": 7}})
        reply = client.post("/v1/responses", content=json.dumps({**body(history), "stream": False}))
        assert reply.json()["usage"]["input_tokens_details"]["cached_tokens"] == 7
    with LoopbackServer(prompt_cache=False) as srv, httpx.Client(base_url=srv.base_url) as client:
        for _ in range(2):
            request = {**body(history, "a"), "stream": False}
            usage = client.post("/v1/responses", content=json.dumps(request)).json()["usage"]
        assert usage["input_tokens_details"]["cached_tokens"] == 0
