"""What the server writes on the wire: the framing, the JSON, the ids of its own requests.

pygls 2.1 frames every message with a `Content-Type` header that the LSP base protocol makes
optional (its default is the only value anyone sends), writes JSON with `", "`/`": "`
separators and `\\uXXXX` escapes, and gives each server -> client request a `uuid4` id. A
streamed edit is a `workspace/applyEdit` request many times a second, and that envelope was
most of its bytes (issue 16). `WireProtocol`, the base of `ResponsesProtocol`, writes:

- `Content-Length` only, compact UTF-8 JSON (`MessageEncoder`); the length counts bytes.
  Every client we ship for reads it: pygls' (and pytest-lsp's) reader takes the
  `Content-Length` line and skips the others to the blank line; Neovim's `vim.lsp.rpc`
  requires only `content_length`; vscode-jsonrpc's `ReadableStreamMessageReader` reads only
  `content-length` and decodes the body as JSON/UTF-8 by default; Emacs' jsonrpc.el (28, 30)
  matches any header lines around `Content-Length:`. Neovim and jsonrpc.el write no
  `Content-Type` themselves.
- Small integer ids from a per-connection counter (`OutgoingRequests`), with their own table
  of futures and result types. pygls keeps its outgoing requests in the dicts that also hold
  the client's requests being handled, keyed by id: safe with uuids, but a counter meets the
  client's own ids (every editor counts from 0 or 1), so ours live apart.
- One streamed edit's params as a plain dict (`apply_edit_params`), the JSON the typed
  lsprotocol path produced (a unit test compares them), without cattrs on the hot path.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from cattrs import Converter
from lsprotocol import types as t
from pygls.exceptions import JsonRpcException, JsonRpcInternalError
from pygls.protocol import JsonRPCResponseMessage, LanguageServerProtocol

from responses_lsp.contract import edit_label
from responses_lsp.incoming import apply_edit_result

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

    from responses_lsp.editing.live_region import OutgoingEdit

# Transport failures go where pygls logged them: to stderr, never forwarded to the editor as
# window/logMessage (the editor is who we failed to reach).
log = logging.getLogger("pygls.protocol.json_rpc")

MAX_ID = 2**31 - 1
"""LSP ids are `integer | string`; an LSP integer is 32-bit signed: the counter wraps."""


class MessageEncoder:
    """One JSON-RPC message -> its framed bytes: `Content-Length: N\\r\\n\\r\\n` + body."""

    def __init__(self, default: Callable[[Any], Any]) -> None:
        # `default` turns what json cannot (attrs messages, enums) into JSON values: pygls'
        # `_serialize_message`. One encoder per connection, not one per `json.dumps` call.
        self._utf8 = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=default)
        self._ascii = json.JSONEncoder(separators=(",", ":"), default=default)

    def body(self, message: Any) -> bytes:
        try:
            return self._utf8.encode(message).encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate (half of a pair cut by a stream, say) has no UTF-8: escape it
            # as `\udXXX`, which is what pygls always sent.
            return self._ascii.encode(message).encode("ascii")

    def frame(self, message: Any, *, headers: bool = True) -> bytes:
        body = self.body(message)
        if not headers:  # pygls' websocket transport: the body alone
            return body
        # Content-Length is the body's length in *bytes* (LSP base protocol), never in
        # characters: `len()` of the str would cut every message that carries non-ASCII text.
        return b"Content-Length: %d\r\n\r\n%b" % (len(body), body)


class OutgoingRequests:
    """The server's requests awaiting the client's answer: id -> (future, result type)."""

    def __init__(self) -> None:
        self._last = 0
        self._pending: dict[int | str, tuple[Future[Any], Any]] = {}

    def add(self, future: Future[Any], result_type: Any, msg_id: int | str | None) -> int | str:
        """Registers `future` under `msg_id`, or under the next free counter value."""
        if msg_id is None:
            msg_id = self._next_id()
        self._pending[msg_id] = (future, result_type)
        return msg_id

    def _next_id(self) -> int:
        while True:
            self._last = self._last + 1 if self._last < MAX_ID else 1
            if self._last not in self._pending:
                return self._last

    def key(self, msg_id: Any) -> int | str | None:
        """The pending id an answer's `id` is, or None: not an answer to one of our requests
        (JSON-RPC: the client echoes the id it was sent, same type, same value)."""
        ours = isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool)
        return msg_id if ours and msg_id in self._pending else None

    def result_type(self, key: int | str) -> Any:
        return self._pending[key][1]

    def pop(self, key: int | str) -> Future[Any]:
        return self._pending.pop(key)[0]

    def cancel_all(self) -> None:
        pending, self._pending = self._pending, {}
        for future, _ in pending.values():
            future.cancel()

    def __len__(self) -> int:
        return len(self._pending)


class WireProtocol(LanguageServerProtocol):
    """pygls' protocol with our wire. The four methods below override pygls 2.1's
    (`_send_data` and `_handle_response` are private API): tests/unit/test_wire.py fails should
    pygls rename one or change its parameters, and pins the bytes they write."""

    def __init__(self, server: LanguageServer, converter: Converter) -> None:
        super().__init__(server, converter)
        self._encoder = MessageEncoder(self._serialize_message)
        self._requests = OutgoingRequests()
        self._writes: set[asyncio.Future[Any]] = set()  # an async transport's writes in flight

    def _send_data(self, data: Any) -> None:
        """Every message the server writes (pygls' `_send_data`, our framing)."""
        if not data:
            return
        if self.writer is None:
            log.error("cannot send: no transport")
            return
        try:
            written = self.writer.write(self._encoder.frame(data, headers=self._include_headers))
            if inspect.isawaitable(written):
                task = asyncio.ensure_future(written)
                self._writes.add(task)
                task.add_done_callback(self._writes.discard)
        except BrokenPipeError:
            log.exception("cannot send: broken pipe")
            raise
        except Exception as error:
            log.exception("cannot send a message")
            self._server._report_server_error(error, JsonRpcInternalError)

    def send_request(
        self,
        method: str,
        params: Any | None = None,
        callback: Callable[[Any], None] | None = None,
        msg_id: int | str | None = None,
    ) -> Future[Any]:
        """A server -> client request; `params` a JSON dict or lsprotocol types. The future
        resolves to the answer typed as lsprotocol types it for `method` (as in pygls)."""
        future: Future[Any] = Future()
        if callback is not None:
            future.add_done_callback(lambda done: callback(done.result()))
        msg_id = self._requests.add(future, self.get_result_type(method), msg_id)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self._send_data(message)
        return future

    def structure_message(self, data: dict[str, Any]) -> Any:
        """An answer to one of our requests is read as that request's result type (pygls
        looks in its own table, where ours are not); anything else as pygls reads it."""
        if "jsonrpc" in data and "method" not in data and "error" not in data:
            key = self._requests.key(data.get("id"))
            if key is not None:
                result_type = self._requests.result_type(key) or JsonRPCResponseMessage
                try:
                    return self._converter.structure(data, result_type)
                except Exception as exc:  # an answer we cannot read: the request fails now
                    future = self._requests.pop(key)
                    if not future.done():
                        future.set_exception(exc)
                    raise
        return super().structure_message(data)

    def _answer_now(self, data: dict[str, Any]) -> bool:
        """An applyEdit answer whose result `incoming.apply_edit_result` reads: straight to
        its future, as `structure_message` + `_handle_response` would take it."""
        key = self._requests.key(data.get("id"))
        if key is None or self._requests.result_type(key) is not t.ApplyWorkspaceEditResponse:
            return False
        result = apply_edit_result(data["result"])
        if result is None:
            return False
        self._handle_response(key, result)
        return True

    def _handle_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        key = self._requests.key(msg_id)
        if key is None:  # not ours: pygls logs an answer to an unknown id
            super()._handle_response(msg_id, result, error)
            return
        future = self._requests.pop(key)
        if future.done():  # cancelled meanwhile (a timeout gave up on it, shutdown)
            return
        if error is not None:
            future.set_exception(JsonRpcException.from_error(error))
        else:
            future.set_result(result)

    def cancel_requests(self) -> None:
        """At shutdown, as pygls does to the requests it tracks: no answer will come."""
        self._requests.cancel_all()


def apply_edit_params(edit: OutgoingEdit, versioned: bool) -> dict[str, Any]:
    """`ApplyWorkspaceEditParams` of one streamed edit, the JSON lsprotocol's converter made
    of the typed params: `documentChanges` with the document version when the client takes
    versioned edits (`versioned`), `changes` otherwise; labelled by job (`edit_label`: the
    editors group a job's edits into one undo step by it)."""
    text_edit = {
        "range": {
            "start": {"line": edit.start[0], "character": edit.start[1]},
            "end": {"line": edit.end[0], "character": edit.end[1]},
        },
        "newText": edit.new_text,
    }
    if versioned:
        workspace_edit: dict[str, Any] = {
            "documentChanges": [
                {
                    "textDocument": {"uri": edit.uri, "version": edit.version},
                    "edits": [text_edit],
                }
            ]
        }
    else:
        workspace_edit = {"changes": {edit.uri: [text_edit]}}
    return {"edit": workspace_edit, "label": edit_label(edit.job_id, edit.intent)}
