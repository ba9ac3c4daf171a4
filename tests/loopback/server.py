"""The fault-playing loopback server: the shipped `LoopbackServer` whose connections also play
the faults of `faults.Reply`.

A delay before the status line, a stream cut before frame N (aborted, ended cleanly without a
terminal event, or stalled until the client leaves, the server stops or `stall_seconds` pass,
then aborted or resumed), the same cuts on a non-streaming request, and bodies written in
`write_chunk_size`-byte HTTP chunks. Everything else is the shipped server, unchanged.
"""

from __future__ import annotations

from responses_lsp.loopback import LoopbackHandler, RecordedRequest
from responses_lsp.loopback import LoopbackServer as ShippedServer
from responses_lsp.loopback import Reply as ShippedReply
from responses_lsp.loopback.handler import FrameStep
from responses_lsp.loopback.streams import Rendered
from responses_lsp.loopback.wire import dumps, error_envelope

from .faults import FaultRendered, Reply


class FaultHandler(LoopbackHandler):
    def _play(self, request: RecordedRequest, reply: ShippedReply) -> None:
        if isinstance(reply, Reply) and reply.header_delay > 0:
            self.server.owner._update(request, reply_kind=reply.kind)
            if self._wait(request, reply.header_delay) != "elapsed":
                self._abort()
                return
        super()._play(request, reply)

    def _send_final(
        self, request: RecordedRequest, reply: ShippedReply, rendered: Rendered
    ) -> None:
        if isinstance(reply, Reply):
            if reply.cut in ("drop", "drop_clean"):
                self._abort()
                return
            if reply.cut == "stall":
                outcome = self._wait(request, reply.stall_seconds)
                if outcome != "elapsed" or not reply.stall_resume:
                    self._abort()
                    return
            if rendered.response is None:
                error = reply.failure or {}
                message = str(error.get("message") or "stream ended without a response")
                self._send_error(request, message, error.get("code"))
                return
        super()._send_final(request, reply, rendered)

    def _send_error(self, request: RecordedRequest, message: str, code: str | None) -> None:
        envelope = error_envelope(message, error_type="server_error", code=code)
        self._send_body(request, 500, "application/json", dumps(envelope).encode(), {})

    def _at_frame(
        self, request: RecordedRequest, reply: ShippedReply, rendered: Rendered, index: int
    ) -> FrameStep:
        if not (isinstance(reply, Reply) and isinstance(rendered, FaultRendered)):
            return "send"
        if index != rendered.cut_index:
            return "send"
        if reply.cut == "drop":
            self._abort()
            return "stop"
        if reply.cut == "drop_clean":
            return "end"
        outcome = self._wait(request, reply.stall_seconds)
        if outcome != "elapsed" or not reply.stall_resume:
            self._abort()
            return "stop"
        return "resumed"

    def _write_frame(self, reply: ShippedReply, data: bytes) -> None:
        size = reply.write_chunk_size if isinstance(reply, Reply) else None
        step = size or len(data)
        for start in range(0, len(data), step):
            piece = data[start : start + step]
            self.wfile.write(b"%X\r\n%s\r\n" % (len(piece), piece))


class LoopbackServer(ShippedServer):
    """The shipped loopback server, playing fault replies too (its default reply is the
    shipped `Reply.text("ok")`; scripted replies are usually `tests.loopback.Reply`)."""

    handler_class = FaultHandler
