"""A prompt cache the way the provider's works, for the `cached_tokens` of the loopback's usage.

OpenAI caches prompt prefixes: a request reuses the longest prefix it shares, byte for byte,
with an earlier request routed to the same cache (the same `prompt_cache_key`), counted in
128-token steps from the first 1,024 tokens (a prompt below 1,024 tokens caches nothing). The
prompt is what the model reads, in the order it reads it: the instructions, the tools, then
the input items; the other fields (`model`, `stream`, `reasoning`, ...) are not part of it.

`PrefixCache.lookup` returns the cached tokens of a request and remembers its prompt for the
requests after it. Tokens are estimated as everywhere in the loopback (bytes / 4, `wire`); a
partial token of the shared prefix does not count. Eviction is not modelled (the real cache
keeps a prefix for minutes, longer than any test or benchmark session).
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from typing import Any

from .wire import dumps

MIN_TOKENS = 1024
"""Prompts shorter than this cache nothing."""
STEP_TOKENS = 128
"""Above the minimum, the cached prefix grows in steps of this many tokens."""
BYTES_PER_TOKEN = 4
KEEP = 64
"""Earlier prompts remembered per cache key (a session's recent requests)."""


def prompt_bytes(body: dict[str, Any]) -> bytes:
    """The prompt of a `/v1/responses` body as the model reads it: instructions, tools, input."""
    parts: list[str] = []
    if body.get("instructions"):
        parts.append(dumps({"instructions": body["instructions"]}))
    if body.get("tools"):
        parts.append(dumps({"tools": body["tools"]}))
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    for item in items if isinstance(items, list) else []:
        parts.append(dumps(item))
    return "\n".join(parts).encode()


def common_prefix(a: bytes, b: bytes) -> int:
    """Length of the longest common prefix (binary search over slice comparisons, in C)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def cacheable_tokens(shared_bytes: int) -> int:
    """Tokens served from the cache for a shared prefix of `shared_bytes` bytes."""
    tokens = shared_bytes // BYTES_PER_TOKEN
    if tokens < MIN_TOKENS:
        return 0
    return MIN_TOKENS + (tokens - MIN_TOKENS) // STEP_TOKENS * STEP_TOKENS


class PrefixCache:
    """Earlier prompts per `prompt_cache_key` (thread-safe: the server has a thread per request)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._prompts: defaultdict[str | None, deque[bytes]] = defaultdict(
            lambda: deque(maxlen=KEEP)
        )

    def lookup(self, body: dict[str, Any]) -> int:
        """The cached tokens of this request; its prompt is remembered for the next ones."""
        key = body.get("prompt_cache_key")
        key = key if isinstance(key, str) else None
        prompt = prompt_bytes(body)
        with self._lock:
            earlier = list(self._prompts[key])
            self._prompts[key].append(prompt)
        shared = max((common_prefix(prompt, e) for e in earlier), default=0)
        return cacheable_tokens(shared)

    def clear(self) -> None:
        with self._lock:
            self._prompts.clear()
