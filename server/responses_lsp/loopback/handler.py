"""HTTP side of the loopback server: request records, routing and writing replies on the wire.

Owns `RecordedRequest`, the stdlib `ThreadingHTTPServer` subclass and its request handler: reading
the request, routing (`POST /v1/responses`, `POST /v1/responses/compact`, `GET /v1/models`, 404 for
the rest), the API-key check, and sending a `Reply`: fixed bodies and chunked SSE with pacing,
noticing when the client closes the connection. The test suite's fault handler
(`tests/loopback/`) overrides the hooks `_play`, `_send_final`, `_at_frame` and `_write_frame` to
delay, drop, stall or split what is sent. Stdlib only.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import socketserver
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from .replies import Reply
from .streams import Rendered
from .wire import JSON, dumps, error_envelope, estimate_tokens, new_id

if TYPE_CHECKING:
    from .server import LoopbackServer

logger = logging.getLogger(__name__)

WaitOutcome = Literal["elapsed", "gone", "stopping"]
FrameStep = Literal["send", "end", "stop", "resumed"]

RESPONSES_PATH = "/v1/responses"
COMPACT_PATH = "/v1/responses/compact"
MODELS_PATH = "/v1/models"
POLL_SECONDS = 0.01  # how often a waiting reply checks whether the client closed the connection


@dataclass
class RecordedRequest:
    """One request as the server saw it. The server updates the fields after `received_at` while
    it replies (snapshots share these objects). `completed`: the whole scripted reply was written
    (set just before its last bytes go out). `sent_events`: SSE event dicts written so far.
    `finished_at`: the handler is done with this request."""

    method: str
    path: str
    headers: dict[str, str]
    body: JSON | None
    raw_body: bytes
    received_at: float
    disconnected_at: float | None = None
    reply_kind: str = ""
    completed: bool = False
    status: int = 0
    finished_at: float | None = None
    sent_events: list[JSON] = field(default_factory=list)

    def to_json(self) -> JSON:
        """A JSON-able dict (raw body as text) for `--record` files."""
        data = asdict(self)
        data["raw_body"] = self.raw_body.decode("utf-8", errors="replace")
        return data


def models_body(models: list[str], path: str) -> tuple[int, JSON]:
    """`GET /v1/models` (and `/v1/models/{id}`) bodies."""

    def model(name: str) -> JSON:
        return {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "openai"}

    if path == MODELS_PATH:
        return 200, {"object": "list", "data": [model(name) for name in models]}
    name = path.removeprefix(MODELS_PATH + "/")
    if name in models:
        return 200, model(name)
    message = f"The model `{name}` does not exist or you do not have access to it."
    return 404, error_envelope(message, error_type="invalid_request_error", code="model_not_found")


class LoopbackHTTPServer(ThreadingHTTPServer):
    """The stdlib threading server, bound without reverse DNS, tracking open connections."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], owner: LoopbackServer) -> None:
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, owner.handler_class)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); not needed, sometimes slow
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002
        logger.debug("loopback: error while handling %s", client_address, exc_info=True)


class LoopbackHandler(BaseHTTPRequestHandler):
    """One connection: reads requests, routes them, plays the owner's replies."""

    protocol_version = "HTTP/1.1"
    server_version = "loopback-responses"
    sys_version = ""
    server: LoopbackHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("loopback: " + format, *args)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # ---- request --------------------------------------------------------------------------------

    def _serve(self) -> None:
        owner = self.server.owner
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = RecordedRequest(
            method=self.command,
            path=urlsplit(self.path).path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body if isinstance(body, dict) else None,
            raw_body=raw,
            received_at=time.monotonic(),
        )
        owner._record(request)
        try:
            self._dispatch(owner, request)
        except OSError:  # BrokenPipe, ConnectionReset, ...: the client went away mid-reply
            owner._disconnected(request)
            self.close_connection = True
        except Exception as exc:  # a bug in a script or responder: say so instead of hanging up
            logger.exception("loopback: failed to reply to %s %s", request.method, request.path)
            self.close_connection = True
            if request.status == 0:  # nothing sent yet
                message = f"loopback server error: {exc!r}"
                envelope = error_envelope(message, error_type="server_error", code="server_error")
                self._send_body(request, 500, "application/json", dumps(envelope).encode(), {})
        finally:
            owner._finished(request)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length:
            return self.rfile.read(int(length))
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return b""
        parts: list[bytes] = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline().strip():  # trailers
            pass
        return b"".join(parts)

    def _dispatch(self, owner: LoopbackServer, request: RecordedRequest) -> None:
        method, path = request.method, request.path
        known = (method == "POST" and path in (RESPONSES_PATH, COMPACT_PATH)) or (
            method == "GET" and (path == MODELS_PATH or path.startswith(MODELS_PATH + "/"))
        )
        if not known:
            reply = Reply.error(404, message=f"Invalid URL ({method} {path})")
            self._play(request, reply.replace(kind="unknown_url"))
            return
        key = owner.expected_key
        auth = request.headers.get("authorization")
        if key is not None and auth != f"Bearer {key}":
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
                if not auth
                else None
            )
            self._play(request, Reply.error(401, message=message).replace(kind="auth_error"))
            return
        if method == "GET":
            owner._update(request, reply_kind="models")
            status, payload = models_body(owner.models, path)
            self._send_body(request, status, "application/json", dumps(payload).encode(), {})
            return
        self._play(request, owner._reply_for(request))

    # ---- reply ----------------------------------------------------------------------------------

    def _play(self, request: RecordedRequest, reply: Reply) -> None:
        self.server.owner._update(request, reply_kind=reply.kind)
        if reply.body is not None:
            self._send_body(request, reply.status, reply.content_type, reply.body, reply.headers)
            return
        body = request.body or {}
        if request.path == RESPONSES_PATH and self.server.owner.prompt_cache is not None:
            reply = self._with_cached_tokens(request, reply, body)
        model = body.get("model")
        rendered = reply.render(
            model=model if isinstance(model, str) else None, input_bytes=len(request.raw_body)
        )
        if body.get("stream") is True:
            self._send_stream(request, reply, rendered)
        else:
            self._send_final(request, reply, rendered)

    def _with_cached_tokens(self, request: RecordedRequest, reply: Reply, body: JSON) -> Reply:
        """`reply` with the prefix cache's `cached_tokens` in its usage (unless it sets them)."""
        cache = self.server.owner.prompt_cache
        if cache is None:
            return reply
        cached = cache.lookup(body)
        overrides = dict(reply.usage or {})
        if "input_tokens_details" in overrides:
            return reply
        input_tokens = overrides.get("input_tokens", estimate_tokens(len(request.raw_body)))
        details = {"cached_tokens": min(cached, int(input_tokens)), "cache_write_tokens": 0}
        return reply.replace(usage={**overrides, "input_tokens_details": details})

    def _send_body(
        self,
        request: RecordedRequest,
        status: int,
        content_type: str,
        body: bytes,
        headers: Mapping[str, str],
    ) -> None:
        owner = self.server.owner
        owner._update(request, status=status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self._common_headers(headers)
        owner._update(request, completed=True)  # before the client can see the end of the body
        try:
            self.wfile.write(body)
        except OSError:
            owner._update(request, completed=False)
            raise

    def _common_headers(self, headers: Mapping[str, str]) -> None:
        self.send_header("x-request-id", new_id("req"))
        self.send_header("openai-version", "2020-10-01")
        self.send_header("openai-processing-ms", "1")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_final(self, request: RecordedRequest, reply: Reply, rendered: Rendered) -> None:
        """A non-streaming request: the final `Response` object as JSON."""
        if rendered.response is None:
            message = "the stream ended without a response"
            envelope = error_envelope(message, error_type="server_error", code="server_error")
            self._send_body(request, 500, "application/json", dumps(envelope).encode(), {})
            return
        payload = dumps(rendered.response).encode()
        self._send_body(request, reply.status, "application/json", payload, reply.headers)

    def _send_stream(self, request: RecordedRequest, reply: Reply, rendered: Rendered) -> None:
        """SSE, chunked: one HTTP chunk per frame, deltas paced at `reply.pace_tps`."""
        owner = self.server.owner
        owner._update(request, status=reply.status)
        self.send_response(reply.status)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self._common_headers(reply.headers)
        interval = 1.0 / reply.pace_tps if reply.pace_tps else 0.0
        next_at: float | None = None  # when the next paced frame is due
        frames = rendered.frames
        for index, frame in enumerate(frames):
            step = self._at_frame(request, reply, rendered, index)
            if step == "stop":
                return
            if step == "end":
                break
            if step == "resumed":
                next_at = None
            if frame.paced and interval:
                if next_at is not None:
                    delay = next_at - time.monotonic()
                    if delay > 0 and self._wait(request, delay) != "elapsed":
                        self._abort()
                        return
                next_at = (time.monotonic() if next_at is None else next_at) + interval
            if frame.event is not None:
                request.sent_events.append(frame.event)
            if index == len(frames) - 1:  # mark before the client can see the last frame
                owner._update(request, completed=True)
            try:
                self._write_frame(reply, frame.data)
            except OSError:
                owner._update(request, completed=False)
                raise
        owner._update(request, completed=True)
        self.wfile.write(b"0\r\n\r\n")

    def _at_frame(
        self,
        request: RecordedRequest,  # noqa: ARG002
        reply: Reply,  # noqa: ARG002
        rendered: Rendered,  # noqa: ARG002
        index: int,  # noqa: ARG002
    ) -> FrameStep:
        """What to do before frame `index` goes out: "send" it, "end" the body cleanly here,
        "stop" (the connection was aborted) or send it after a pause ("resumed": pacing starts
        over). Every frame is sent here; fault replies cut streams short."""
        return "send"

    def _write_frame(self, reply: Reply, data: bytes) -> None:  # noqa: ARG002
        """Write one frame as one HTTP chunk."""
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def _abort(self) -> None:
        """Close the connection now, without finishing the body."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _wait(self, request: RecordedRequest, seconds: float | None) -> WaitOutcome:
        """Sleep up to `seconds` (None: forever), polling every POLL_SECONDS for the client closing
        the connection (recorded as `disconnected_at`) or the server stopping."""
        owner = self.server.owner
        deadline = None if seconds is None else time.monotonic() + seconds
        while not owner._stopping.is_set():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return "elapsed"
            step = POLL_SECONDS if remaining is None else min(POLL_SECONDS, remaining)
            try:
                readable, _, _ = select.select([self.connection], [], [], step)
                if readable and self.connection.recv(1, socket.MSG_PEEK) == b"":
                    owner._disconnected(request)
                    return "gone"
                if readable:  # the client sent more bytes; keep waiting without spinning
                    owner._stopping.wait(step)
            except (OSError, ValueError):
                owner._disconnected(request)
                return "gone"
        return "stopping"
