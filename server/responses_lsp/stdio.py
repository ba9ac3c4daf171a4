"""The language server on stdin/stdout, stdin read by the event loop itself.

pygls 2.1 reads stdin in its thread pool: every incoming message costs three hand-offs to a
worker thread and back (header line, blank line, body), each a future chained into the loop
and a wake-up. While a job streams, the client answers each edit and reports it in a
didChange, so that was six thread round trips per edit (bench/RESULTS.md). Here stdin is an
`asyncio.StreamReader` on the pipe: a message that has arrived is parsed without leaving the
loop. pygls' own message loop (`pygls.io_.run_async`) and writer are used unchanged. When stdin
is not something asyncio can watch (a regular file), pygls' reader is used instead.

pygls 2.1 also dispatches every incoming message with `isinstance` against runtime-checkable
Protocols, which inspects the object's attributes one by one on each call; `FastDispatch`
does the same dispatch with plain attribute tests.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import stat
import sys
import threading
from typing import Any, BinaryIO

from pygls.io_ import StdoutWriter, run_async
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)

LINE_LIMIT = 1 << 16
"""Longest header line accepted (bytes)."""


class PipeReader:
    """pygls' reader interface (`readline`, `readexactly`) over an `asyncio.StreamReader`;
    end of input reads as `b""`, as pygls' loop expects."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    async def readline(self) -> bytes:
        try:
            return await self._reader.readline()
        except ValueError:  # a header line over LINE_LIMIT: not a client we can talk to
            log.error("a header line longer than %d bytes: closing", LINE_LIMIT)
            return b""

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self._reader.readexactly(n)
        except asyncio.IncompleteReadError:
            return b""


def _watchable(stdin: BinaryIO) -> bool:
    """A pipe or a socket (what editors give): epoll can watch it. A regular file, a terminal
    or /dev/null is left to pygls' reader (epoll refuses some of them only once the loop
    runs, with EPERM in a callback, and the server would wait forever)."""
    try:
        mode = os.fstat(stdin.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


async def _serve(server: LanguageServer, stdin: BinaryIO, stop: threading.Event) -> bool:
    """Run pygls' message loop on `stdin` read by the loop; False if stdin cannot be watched."""
    if not _watchable(stdin):
        return False
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    except (ValueError, OSError) as exc:
        log.info("stdin cannot be read by the event loop (%s): pygls' reader", exc)
        return False
    await run_async(
        stop_event=stop,
        reader=PipeReader(reader),
        protocol=server.protocol,
        logger=log,
        error_handler=server.report_server_error,
    )
    return True


def serve_stdio(
    server: LanguageServer, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None
) -> None:
    """What `server.start_io()` does, with stdin read by the event loop."""
    stdin = stdin or sys.stdin.buffer
    stop = threading.Event()
    server._stop_event = stop  # pygls' shutdown() sets it
    server.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
    served = True
    try:
        served = asyncio.run(_serve(server, stdin, stop))
    except BrokenPipeError:
        log.error("Connection to the client is lost! Shutting down the server.")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if served:
            server.shutdown()  # type: ignore[no-untyped-call]
    if not served:
        server.start_io(stdin, stdout)


class FastDispatch(LanguageServerProtocol):
    """`handle_message` as pygls 2.1 has it, the message kind told by its attributes (the
    order of pygls' isinstance checks: request, notification, response, error)."""

    def handle_message(self, message: Any) -> None:
        if message.jsonrpc != self.VERSION:
            log.warning('Unknown message "%s"', message)
            return
        method = getattr(message, "method", None)
        if self._shutdown and method != "exit":
            log.warning("Server shutting down. No more requests!")
            return
        ctx = contextvars.copy_context()  # each handler in its own context, as in pygls
        if method is not None and hasattr(message, "params"):
            if hasattr(message, "id"):
                ctx.run(self._handle_request, message.id, method, message.params)
            else:
                ctx.run(self._handle_notification, method, message.params)
        elif hasattr(message, "result"):
            ctx.run(self._handle_response, message.id, message.result)
        else:
            ctx.run(self._handle_response, message.id, None, message.error)
