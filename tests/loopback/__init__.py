"""The test suite's loopback endpoint: the shipped `responses_lsp.loopback` plus the fault DSL.

    from tests.loopback import LoopbackServer, Reply

    with LoopbackServer() as srv:
        srv.script(Reply.drop(after_events=5), Reply.text("ok\\n"))

`Reply` has every shipped constructor (`text`, `items`, `function_call`, `custom_tool_call`,
`error`, `compacted`) and the faults (`incomplete`, `failed`, `error_event`, `drop`, `stall`,
`malformed`, `raw_events`, `raw_frames`, `wrong_content_type`, `header_delay=`,
`write_chunk_size=`, `from_spec`); `LoopbackServer` plays them. The shipped package keeps what
the demo and `responses_lsp.testing` need; this is what only the project's tests use.
`python -m tests.loopback` runs it as a standalone process (the VS Code tier).
"""

from responses_lsp.loopback import (
    ChunkSpec,
    RecordedRequest,
    Responder,
    message_item,
    reasoning_item,
)
from responses_lsp.loopback.replies import DEFAULT_SUMMARY

from .faults import DEFAULT_PARTIAL, Reply, StreamOptions
from .server import FaultHandler, LoopbackServer

__all__ = [
    "DEFAULT_PARTIAL",
    "DEFAULT_SUMMARY",
    "ChunkSpec",
    "FaultHandler",
    "LoopbackServer",
    "RecordedRequest",
    "Reply",
    "Responder",
    "StreamOptions",
    "message_item",
    "reasoning_item",
]
