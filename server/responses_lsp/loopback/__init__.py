"""A loopback OpenAI Responses API server: the endpoint of `responses-lsp demo` and of the
headless test harness `responses_lsp.testing` (and the benchmarks).

A real HTTP server on 127.0.0.1 that speaks the Responses wire format (SSE streams, error
envelopes, `/responses/compact`) from scripted `Reply` values and records every request. It
imports nothing from the rest of `responses_lsp` (stdlib only): an independent implementation
of the wire format. The project's own test suite extends it with fault replies (streams that
fail, drop, stall or carry garbage) in `tests/loopback/`.

    with LoopbackServer() as srv:
        srv.script(Reply.text("async def f():\\n    return 1\\n"), Reply.error(429, retry_after=1))
        ...  # point a client at srv.base_url (host only; the client appends /v1/responses)
        srv.wait_for_requests(2)
"""

from .handler import LoopbackHandler
from .replies import ChunkSpec, Reply, StreamOptions
from .server import LoopbackServer, RecordedRequest, Responder
from .wire import message_item, reasoning_item

__all__ = [
    "ChunkSpec",
    "LoopbackHandler",
    "LoopbackServer",
    "RecordedRequest",
    "Reply",
    "Responder",
    "StreamOptions",
    "message_item",
    "reasoning_item",
]
