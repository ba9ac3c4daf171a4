"""What the client writes, read and handed on in the callback that received it.

While a job streams, the client writes two messages per edit: the answer to our
`workspace/applyEdit` and the `textDocument/didChange` that reports the edit. pygls 2.1 reads
each message in its own task (`pygls.io_.run_async`: three awaits per message, a wake-up of the
task for each read that finds the buffer short), builds the typed message with cattrs called on
every JSON object of it (`object_hook`), and dispatches a notification through a uuid, a
`concurrent.futures.Future` and three introspections of the handler. That was a quarter of the
server's CPU per edit (bench/RESULTS.md §9, issue 16).

`FrameReader` is an `asyncio.Protocol` on stdin: it cuts the bytes into messages by their
`Content-Length` and hands each body to `on_body` (`FastDispatch.handle_body`) right there.
`did_change_params` and `apply_edit_result` build the two messages of an edit the way
lsprotocol's converter does, from plain JSON, or return None for any shape they do not take
(the message then goes pygls' whole way, which also reports what is wrong with it);
tests/unit/test_incoming.py checks them against the converter.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

from lsprotocol import types as t

log = logging.getLogger(__name__)

HEADER_LIMIT = 1 << 16
"""Longest header block accepted (bytes)."""

_CONTENT_LENGTH = re.compile(
    rb"^content-length:[ \t]*(\d+)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE
)
_END = b"\r\n\r\n"


class FrameReader(asyncio.Protocol):
    """stdin's bytes -> message bodies, each handed to `on_body` as soon as it is whole.

    `done` resolves when stdin ends (or the client writes what is no LSP header): the server's
    loop ends there, as pygls' does at end of input."""

    def __init__(self, on_body: Callable[[bytes], None], done: asyncio.Future[None]) -> None:
        self._on_body = on_body
        self._done = done
        self._buf = bytearray()
        self._body_len = -1  # the current message's body length once its header is read
        self._transport: asyncio.ReadTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while not self._done.done():
            if self._body_len < 0:
                end = buf.find(_END)
                if end < 0:
                    if len(buf) > HEADER_LIMIT:
                        self._give_up(f"a header longer than {HEADER_LIMIT} bytes")
                    return
                found = _CONTENT_LENGTH.search(buf, 0, end)
                length = -1 if found is None else int(found.group(1))  # before buf changes
                del buf[: end + len(_END)]
                if length < 0:  # pygls skips a header without its length, too
                    log.error("a message header without Content-Length: skipped")
                    continue
                self._body_len = length
            if len(buf) < self._body_len:
                return
            body = bytes(buf[: self._body_len])
            del buf[: self._body_len]
            self._body_len = -1
            if body:  # pygls reads no body for `Content-Length: 0`
                self._on_body(body)

    def eof_received(self) -> bool | None:
        self._finish()
        return None

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002
        self._finish()

    def _give_up(self, why: str) -> None:
        log.error("%s: closing", why)
        if self._transport is not None:
            self._transport.close()
        self._finish()

    def _finish(self) -> None:
        if not self._done.done():
            self._done.set_result(None)


# ---------------------------------------------------------------- the two messages of an edit

_CHANGE_KEYS = frozenset({"range", "rangeLength", "text"})
_RESULT_KEYS = frozenset({"applied", "failureReason", "failedChange"})


def did_change_params(params: Any) -> t.DidChangeTextDocumentParams | None:
    """`DidChangeTextDocumentParams` from the JSON of a didChange's params, as lsprotocol's
    converter reads it; None when the shape is anything else."""
    if type(params) is not dict or params.keys() != {"textDocument", "contentChanges"}:
        return None
    doc, raw_changes = params["textDocument"], params["contentChanges"]
    if type(doc) is not dict or doc.keys() != {"uri", "version"} or type(raw_changes) is not list:
        return None
    uri, version = doc["uri"], doc["version"]
    if type(uri) is not str or type(version) is not int:
        return None
    changes: list[t.TextDocumentContentChangeEvent] = []
    try:
        for change in raw_changes:
            if type(change) is not dict or type(text := change.get("text")) is not str:
                return None
            if change.keys() == {"text"}:
                changes.append(t.TextDocumentContentChangeWholeDocument(text=text))
                continue
            if not change.keys() <= _CHANGE_KEYS or "range" not in change:
                return None
            range_length = change.get("rangeLength")
            if range_length is not None and type(range_length) is not int:
                return None
            rng = _range(change["range"])
            if rng is None:
                return None
            changes.append(
                t.TextDocumentContentChangePartial(range=rng, text=text, range_length=range_length)
            )
        return t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(version=version, uri=uri),
            content_changes=tuple(changes),
        )
    except (ValueError, TypeError):  # lsprotocol's validators (a negative line, say)
        return None


def _range(raw: Any) -> t.Range | None:
    if type(raw) is not dict or raw.keys() != {"start", "end"}:
        return None
    start, end = _position(raw["start"]), _position(raw["end"])
    return None if start is None or end is None else t.Range(start=start, end=end)


def _position(raw: Any) -> t.Position | None:
    if type(raw) is not dict or raw.keys() != {"line", "character"}:
        return None
    line, character = raw["line"], raw["character"]
    if type(line) is not int or type(character) is not int:
        return None
    return t.Position(line=line, character=character)


def apply_edit_result(result: Any) -> t.ApplyWorkspaceEditResult | None:
    """`ApplyWorkspaceEditResult` from the JSON of an applyEdit answer's result, as lsprotocol's
    converter reads it; None when the shape is anything else."""
    if type(result) is not dict or not result.keys() <= _RESULT_KEYS:
        return None
    applied = result.get("applied")
    reason = result.get("failureReason")
    failed = result.get("failedChange")
    if type(applied) is not bool:
        return None
    if (reason is not None and type(reason) is not str) or (
        failed is not None and type(failed) is not int
    ):
        return None
    try:
        return t.ApplyWorkspaceEditResult(
            applied=applied, failure_reason=reason, failed_change=failed
        )
    except (ValueError, TypeError):
        return None
