"""Reading a stream at the editor's pace, not the token's.

A model streams a token every 0.5 to 5 ms, each in its own SSE event and, on a quiet network, in
its own TCP segment; the editor takes an edit every ~34 ms. Read as it arrives, every token costs
an event-loop wake-up, a socket read and a pass through httpcore and h11 — most of a job's CPU
(bench/RESULTS.md, "Where our server's CPU goes"). So the connection's network stream asks the
stream's consumer, before each socket read of a response body, how long to wait (`ReadPace`):
the consumer hands on everything read so far (one sanitizer feed, at most one edit) and answers
"until the next edit may go". Meanwhile the kernel holds the bytes (anyio pauses asyncio's
reading between two reads), and the next read takes all of them at once.

A slow token (one that arrives after the edit window has opened) is read the moment it arrives:
the wait only ever ends early, never late. The pace is set per response by
`ResponsesClient.stream_once` and cleared when the body is done, so the next request on the
connection reads as usual. Only the default transport's connections are paced; a stream
through any other transport (a test's mock, a proxy from the environment) calls the pace after
every chunk instead, so the consumer's batching still works, one chunk at a time.
"""

from __future__ import annotations

import asyncio
import logging
import select
import ssl
from collections.abc import Iterable
from typing import Any, Protocol

import httpcore
import httpx

log = logging.getLogger(__name__)

MAX_PIECES = 32
"""At most this many more reads to take what is at hand after a paced read."""

MAX_WAIT = 0.25
"""A pace never holds a read longer than this (seconds), whatever the consumer answers."""


class ReadPace(Protocol):
    def before_read(self) -> float:
        """Everything read so far has been handed to the consumer; seconds until the next read
        of the socket should start (0 or less: now). Must not raise."""
        ...


class PacedStream(httpcore.AsyncNetworkStream):
    """A connection's network stream that waits as its `pace` says before each read."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self.pace: ReadPace | None = None
        self._poller: select.poll | None = None
        self._failure: Exception | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        pace = self.pace
        if self._failure is not None:  # met while taking what was at hand: its turn now
            failure, self._failure = self._failure, None
            if pace is not None:
                pace.before_read()  # what was read before it is handed on first
            raise failure
        if pace is None:
            return await self._inner.read(max_bytes, timeout)
        wait = pace.before_read()
        if wait > 0:
            await asyncio.sleep(min(wait, MAX_WAIT))
        data = await self._inner.read(max_bytes, timeout)
        # One read may return a leftover of the last round: asyncio's transport can deliver
        # once more between the data arriving and anyio pausing it. Take what else is here
        # now, so that what the kernel held for us is not left for the next round.
        for _ in range(MAX_PIECES):
            if not data or len(data) >= max_bytes or not self._more_at_hand():
                break
            try:
                more = await self._inner.read(max_bytes - len(data), timeout)
            except Exception as exc:  # a reset right behind the data: the data first
                self._failure = exc
                break
            if not more:  # the end: the next read says so again
                break
            data += more
        return data

    def _more_at_hand(self) -> bool:
        """Bytes a read would return without waiting: in the kernel, or already read from it
        (anyio's queue, TLS records not yet decrypted or not yet handed out)."""
        layer: Any = getattr(self._inner, "_stream", None)  # httpcore's AnyIOStream
        for _ in range(4):  # TLS over TCP: two layers; a proxy's TLS-in-TLS: three
            if layer is None:
                break
            ssl_object = getattr(layer, "_ssl_object", None)
            if ssl_object is not None and ssl_object.pending():
                return True
            bio = getattr(layer, "_read_bio", None)
            if bio is not None and bio.pending:
                return True
            protocol = getattr(layer, "_protocol", None)
            if protocol is not None and getattr(protocol, "read_queue", None):
                return True
            layer = getattr(layer, "transport_stream", None)
        return self._kernel_readable()

    def _kernel_readable(self) -> bool:
        """The socket has bytes (or EOF) for us: one poll(0) on a poller made once (asking
        httpcore's stream for "is_readable" builds anyio's attribute table every time)."""
        if self._poller is None:
            sock = self._inner.get_extra_info("socket")
            if sock is None:
                return False
            self._poller = select.poll()
            self._poller.register(sock.fileno(), select.POLLIN)
        return bool(self._poller.poll(0))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return PacedStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class PacedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, its streams wrapped in `PacedStream`."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return PacedStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )
        return PacedStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def make_paceable(client: httpx.AsyncClient) -> bool:
    """Make the connections of `client`'s default transport paceable (True if it could).

    httpx takes no network backend, and giving it a transport of our own would turn off the
    proxies from the environment (`HTTPS_PROXY`: httpx mounts them only when it makes its own
    transport). So the default transport's pool gets its backend wrapped in place
    (`AsyncClient._transport._pool._network_backend`, httpx 0.28/0.29 and httpcore 1.x;
    tests/unit/test_pacing.py fails should they move). Proxied and unknown transports are left
    as they are: their streams are read unpaced."""
    transport = getattr(client, "_transport", None)
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if type(pool) is not httpcore.AsyncConnectionPool or not isinstance(
        backend, httpcore.AsyncNetworkBackend
    ):
        log.info("this transport cannot be paced: streams are read as they arrive")
        return False
    if not isinstance(backend, PacedBackend):
        pool._network_backend = PacedBackend(backend)
    return True


def paced_stream(response: httpx.Response) -> PacedStream | None:
    """The paced network stream a response is read from, if it has one."""
    stream = response.extensions.get("network_stream")
    return stream if isinstance(stream, PacedStream) else None
