"""The language server on stdin/stdout, stdin read by the event loop itself.

pygls 2.1 reads stdin in its thread pool: every incoming message costs three hand-offs to a
worker thread and back (header line, blank line, body), each a future chained into the loop
and a wake-up. While a job streams, the client answers each edit and reports it in a
didChange, so that was six thread round trips per edit (bench/RESULTS.md). Here stdin is read
by an `asyncio.Protocol` on the pipe (`incoming.FrameReader`): a message is handled in the
callback that received its last byte, no task woken per message. pygls' writer is used
unchanged. When stdin is not something asyncio can watch (a regular file), pygls' reader and
loop are used instead.

pygls 2.1 also dispatches every incoming message with `isinstance` against runtime-checkable
Protocols, which inspects the object's attributes one by one on each call; `FastDispatch`
does the same dispatch with plain attribute tests, and takes the two messages of each streamed
edit (a didChange, an applyEdit answer) to their handlers without pygls' machinery
(`handle_body`).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import logging
import os
import stat
import sys
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from lsprotocol import types as t
from pygls.exceptions import FeatureNotificationError, JsonRpcException, JsonRpcInternalError
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from responses_lsp.incoming import FrameReader, did_change_params

log = logging.getLogger(__name__)


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
    """Read and handle stdin's messages until it ends; False if stdin cannot be watched."""
    if not _watchable(stdin):
        return False
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    protocol = server.protocol
    assert isinstance(protocol, FastDispatch)

    def on_body(body: bytes) -> None:
        if stop.is_set():  # pygls' loop reads no more once the server is shut down
            if not done.done():
                done.set_result(None)
            return
        protocol.handle_body(body)

    try:
        transport, _ = await loop.connect_read_pipe(lambda: FrameReader(on_body, done), stdin)
    except (ValueError, OSError) as exc:
        log.info("stdin cannot be read by the event loop (%s): pygls' reader", exc)
        return False
    try:
        await done
    finally:
        transport.close()
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


def _maybe_now(body: bytes) -> bool:
    """Whether `body` can be a message `FastDispatch._handled_now` takes: a didChange names its
    method, an answer has a "result" (a method name written `textDocument\\/didChange`, legal
    JSON, goes pygls' way: correct, only slower)."""
    return b"textDocument/didChange" in body or b'"result"' in body


class FastDispatch(LanguageServerProtocol):
    """`handle_message` as pygls 2.1 has it, the message kind told by its attributes (the
    order of pygls' isinstance checks: request, notification, response, error); and
    `handle_body`, what pygls' loop does with a message's body, with a short way for the two
    messages of every streamed edit."""

    _did_change: Callable[[Any], Any] | None = None

    def handle_body(self, body: bytes) -> None:
        """One message from the client. A didChange, or the answer to one of our applyEdits,
        whose shape `incoming` takes, goes straight to its handler; anything else the way
        pygls 2.1's `run_async` takes it (parsed with `structure_message` on every object,
        then `handle_message`), errors reported as it reports them. Only a body that can be
        one of the two is parsed for the short way: a didOpen of a 1 MB file is parsed once."""
        try:
            if _maybe_now(body) and self._handled_now(json.loads(body)):
                return
            message = json.loads(body, object_hook=self.structure_message)
            self.handle_message(message)
        except Exception as exc:
            log.exception("Unable to handle message")
            self._server.report_server_error(exc, JsonRpcException)

    def _handled_now(self, data: Any) -> bool:
        if type(data) is not dict or data.get("jsonrpc") != self.VERSION or self._shutdown:
            return False
        method = data.get("method")
        if method == t.TEXT_DOCUMENT_DID_CHANGE and "id" not in data:
            return self._did_change_now(data.get("params"))
        if method is None and "result" in data and "error" not in data:
            return self._answer_now(data)
        return False

    def _did_change_now(self, raw: Any) -> bool:
        params = did_change_params(raw)
        if params is None:
            return False
        handler = self._did_change
        if handler is None:
            handler = self._get_handler(t.TEXT_DOCUMENT_DID_CHANGE)
            if inspect.isgeneratorfunction(handler) or inspect.iscoroutinefunction(handler):
                return False  # one that yields to user handlers: pygls' way
            self._did_change = handler
        try:
            handler(params)
        except Exception:  # as pygls reports a failed notification handler
            error = JsonRpcInternalError.of(sys.exc_info())  # type: ignore[no-untyped-call]
            self._server._report_server_error(error, FeatureNotificationError)
        return True

    def _answer_now(self, data: dict[str, Any]) -> bool:  # noqa: ARG002 (wire.py has it)
        """The answer to one of our own requests, handled if it can be without pygls (wire.py)."""
        return False

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
