"""The loopback Responses server: a real HTTP/1.1 server on 127.0.0.1 in a daemon thread.

Owns the lifecycle (start/stop, port, base URL), the reply FIFOs with their defaults and responders,
the optional API-key setting and the record of requests (`requests`, `wait_for_requests`). The wire
side lives in `handler`. Stdlib only, so it works from sync code, asyncio tests and other processes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any

from .cache import PrefixCache
from .handler import COMPACT_PATH, LoopbackHandler, LoopbackHTTPServer, RecordedRequest
from .replies import Reply
from .wire import DEFAULT_MODEL

logger = logging.getLogger(__name__)

Responder = Callable[[RecordedRequest], Reply | None]

__all__ = ["LoopbackServer", "RecordedRequest", "Responder"]


class LoopbackServer:
    """A scripted Responses API server. Use as a context manager, or `start()` / `stop()`."""

    handler_class: type[LoopbackHandler] = LoopbackHandler
    """How a connection is served (the test suite's fault server swaps in its own)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        default: Reply | None = None,
        expected_key: str | None = None,
        models: list[str] | None = None,
        prompt_cache: bool = True,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.default: Reply = default or Reply.text("ok")
        self.responder: Responder | None = None
        self.compact_default: Reply | None = None  # None: built from the request
        self.compact_responder: Responder | None = None
        self.expected_key = expected_key
        self.models: list[str] = list(models or [DEFAULT_MODEL])
        self.prompt_cache: PrefixCache | None = PrefixCache() if prompt_cache else None
        """Reports `cached_tokens` as the provider's prefix cache would (None: always 0)."""
        self.on_request_done: Callable[[RecordedRequest], None] | None = None
        self._responses: deque[Reply] = deque()
        self._compact: deque[Reply] = deque()
        self._changed = threading.Condition(threading.Lock())
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._httpd: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> LoopbackServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = LoopbackHTTPServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},  # how long stop() waits for the accept loop,
            name=f"loopback-responses:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; waiting replies (stalls, delays) end and open connections are closed."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("LoopbackServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT` (host only; clients append `/v1/...`)."""
        return f"http://{self.host}:{self.port}"

    # ---- scripting ----------------------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue replies for `POST /v1/responses`, in order."""
        with self._changed:
            self._responses.extend(replies)

    def script_compact(self, *replies: Reply) -> None:
        """Queue replies for `POST /v1/responses/compact`, in order."""
        with self._changed:
            self._compact.extend(replies)

    @property
    def pending(self) -> tuple[int, int]:
        """Scripted replies not yet used: (responses, compact)."""
        with self._changed:
            return len(self._responses), len(self._compact)

    def clear(self) -> None:
        """Forget recorded requests, unused scripted replies and the prompt cache (defaults
        and responders stay)."""
        with self._changed:
            self._requests.clear()
            self._responses.clear()
            self._compact.clear()
        if self.prompt_cache is not None:
            self.prompt_cache.clear()

    # ---- recorded requests --------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Recorded requests in arrival order (a new list; its records update as replies go on)."""
        with self._changed:
            return list(self._requests)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `n` requests arrived; TimeoutError otherwise."""
        return self.wait_until(lambda requests: len(requests) >= n, timeout, f"{n} requests")

    def wait_until(
        self,
        predicate: Callable[[list[RecordedRequest]], bool],
        timeout: float = 5.0,
        what: str = "condition",
    ) -> list[RecordedRequest]:
        """Block until `predicate(requests)` holds (re-checked on every record change)."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(list(self._requests)), timeout):
                raise TimeoutError(
                    f"loopback: waited {timeout}s for {what}; saw {len(self._requests)} requests"
                )
            return list(self._requests)

    # ---- used by the handler ------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()

    def _update(self, request: RecordedRequest, **changes: Any) -> None:
        with self._changed:
            for name, value in changes.items():
                setattr(request, name, value)
            self._changed.notify_all()

    def _disconnected(self, request: RecordedRequest) -> None:
        if request.disconnected_at is None and not self._stopping.is_set():
            self._update(request, disconnected_at=time.monotonic())

    def _finished(self, request: RecordedRequest) -> None:
        self._update(request, finished_at=time.monotonic())
        hook = self.on_request_done
        if hook is not None:
            try:
                hook(request)
            except Exception:
                logger.exception("loopback: on_request_done hook failed")

    def _next(
        self, script: deque[Reply], responder: Responder | None, request: RecordedRequest
    ) -> Reply | None:
        with self._changed:
            if script:
                return script.popleft()
        if responder is None:
            return None
        try:
            return responder(request)
        except Exception as exc:
            logger.exception("loopback: responder failed")
            return Reply.error(500, message=f"loopback responder failed: {exc!r}")

    def _reply_for(self, request: RecordedRequest) -> Reply:
        if request.path == COMPACT_PATH:
            reply = self._next(self._compact, self.compact_responder, request)
            return reply or self.compact_default or Reply.compaction_for(request.body)
        return self._next(self._responses, self.responder, request) or self.default
