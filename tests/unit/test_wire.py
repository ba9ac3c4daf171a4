"""What the server writes on the wire (`responses_lsp/wire.py`): one streamed edit's bytes,
Content-Length in bytes for non-ASCII text, integer ids that never meet the client's, the
applyEdit params as the typed path made them, and the pygls methods we override."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest
from lsprotocol import types as t
from pygls.io_ import run_async
from pygls.lsp.client import LanguageClient
from pygls.protocol import JsonRPCProtocol, LanguageServerProtocol

from responses_lsp.contract import edit_label
from responses_lsp.editing.live_region import OutgoingEdit
from responses_lsp.language_server import ResponsesLanguageServer, ResponsesProtocol
from responses_lsp.wire import WireProtocol, apply_edit_params

URI = "file:///home/user/project/app/service.py"


class Sink:
    """A synchronous writer, as pygls' StdoutWriter: what the server wrote, message by message."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        pass


def server(document_changes: bool = True) -> tuple[ResponsesLanguageServer, Sink]:
    ls = ResponsesLanguageServer()
    sink = Sink()
    ls.protocol.set_writer(sink)
    ls.document_changes = document_changes
    return ls, sink


def edit(new_text: str = "return x", version: int | None = 42, **kw: Any) -> OutgoingEdit:
    fields: dict[str, Any] = dict(
        sent_id=1, job_id=1, uri=URI, version=version, start=(12, 8), end=(12, 8)
    )
    fields.update(kw)
    return OutgoingEdit(new_text=new_text, intent=fields.pop("intent", "insert"), **fields)


def unframe(data: bytes) -> tuple[list[bytes], bytes]:
    """The header lines and the body of one framed message (the body exactly as counted)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep, data[:80]
    lines = head.split(b"\r\n")
    [length] = [int(line.split(b":")[1]) for line in lines if line.startswith(b"Content-Length:")]
    assert length == len(body), (length, len(body))
    return lines, body


def answer(protocol: JsonRPCProtocol, message: dict[str, Any]) -> None:
    """A message from the client, read the way pygls' reader reads it."""
    body = json.dumps(message).encode()
    protocol.handle_message(json.loads(body, object_hook=protocol.structure_message))


def typed_apply_edit_params(one: OutgoingEdit, versioned: bool) -> t.ApplyWorkspaceEditParams:
    """The params as `send_edit` built them before `wire.apply_edit_params` (lsprotocol types,
    unstructured by cattrs on the way out)."""
    rng = t.Range(
        start=t.Position(line=one.start[0], character=one.start[1]),
        end=t.Position(line=one.end[0], character=one.end[1]),
    )
    text_edit = t.TextEdit(range=rng, new_text=one.new_text)
    if versioned:
        identifier = t.OptionalVersionedTextDocumentIdentifier(uri=one.uri, version=one.version)
        workspace_edit = t.WorkspaceEdit(
            document_changes=[t.TextDocumentEdit(text_document=identifier, edits=[text_edit])]
        )
    else:
        workspace_edit = t.WorkspaceEdit(changes={one.uri: [text_edit]})
    return t.ApplyWorkspaceEditParams(edit=workspace_edit, label=edit_label(one.job_id, one.intent))


# ------------------------------------------------------------------ one streamed edit


TYPICAL = (
    b"Content-Length: 323\r\n\r\n"
    b'{"jsonrpc":"2.0","id":1,"method":"workspace/applyEdit","params":{"edit":'
    b'{"documentChanges":[{"textDocument":{"uri":"file:///home/user/project/app/service.py",'
    b'"version":42},"edits":[{"range":{"start":{"line":12,"character":8},"end":{"line":12,'
    b'"character":8}},"newText":"return x"}]}]},"label":"responses-lsp job 1: insert"}}'
)


def test_one_typical_streamed_edit_is_346_bytes_on_the_wire() -> None:
    """8 characters of newText into a versioned document. pygls 2.1's envelope for the same
    edit was 469 bytes: a Content-Type line, `", "`/`": "` separators, a uuid4 id."""
    ls, sink = server()
    ls.send_edit(edit())
    [message] = sink.written
    assert message == TYPICAL
    assert len(message) == 346
    lines, body = unframe(message)
    assert lines == [b"Content-Length: 323"]  # no Content-Type: its default is what we send
    assert json.loads(body)["params"] == apply_edit_params(edit(), versioned=True)


def test_every_message_is_framed_the_same_way() -> None:
    """Notifications and answers too (they go through pygls' typed messages)."""
    ls, sink = server()
    ls.protocol.notify(
        "window/logMessage", t.LogMessageParams(type=t.MessageType.Info, message="é")
    )
    ls.protocol._send_response(7, result={"outcome": "started", "jobId": 1})
    log, reply = sink.written
    lines, body = unframe(log)
    assert lines == [b"Content-Length: %d" % len(body)]
    assert '"message":"é"'.encode() in body
    assert json.loads(body) == {
        "method": "window/logMessage",
        "params": {"type": 3, "message": "é"},
        "jsonrpc": "2.0",
    }
    lines, body = unframe(reply)
    assert lines == [b"Content-Length: %d" % len(body)]
    assert json.loads(body) == {
        "id": 7,
        "result": {"outcome": "started", "jobId": 1},
        "jsonrpc": "2.0",
    }


# ------------------------------------------------------------------ non-ASCII text

NON_ASCII = "naïve = «日本語» # 🙂\n"


async def test_content_length_counts_bytes_not_characters() -> None:
    """UTF-8 as it is (no \\uXXXX escapes), its length in bytes: a reader that takes exactly
    Content-Length bytes (pygls', pytest-lsp's, Neovim's, vscode-jsonrpc's) gets the whole
    message and the next one intact. `len()` of the str would be 12 short here."""
    ls, sink = server()
    ls.send_edit(edit(NON_ASCII))
    ls.send_edit(edit("after"))
    first, second = sink.written
    _, body = unframe(first)
    assert NON_ASCII.rstrip("\n").encode() in body  # sent raw, not escaped
    assert len(body) - len(body.decode()) == len(NON_ASCII.encode()) - len(NON_ASCII) == 12
    # pygls' own reader, as every pygls-based client runs it, reads both messages back
    reader = asyncio.StreamReader()
    reader.feed_data(first + second)
    reader.feed_eof()
    client = LanguageClient("a pygls client", "1").protocol
    seen: list[Any] = []
    client.handle_message = seen.append  # type: ignore[method-assign,assignment]
    await run_async(stop_event=threading.Event(), reader=reader, protocol=client)
    texts = [m.params.edit.document_changes[0].edits[0].new_text for m in seen]
    assert texts == [NON_ASCII, "after"]


def test_a_lone_surrogate_is_escaped_as_pygls_did() -> None:
    """Half of a surrogate pair has no UTF-8: the message falls back to ASCII escapes."""
    ls, sink = server()
    ls.send_edit(edit("x\ud83d"))
    [message] = sink.written
    _, body = unframe(message)
    assert b'"newText":"x\\ud83d"' in body
    assert (
        json.loads(body)["params"]["edit"]["documentChanges"][0]["edits"][0]["newText"] == "x\ud83d"
    )


# ------------------------------------------------------------------ ids


def test_our_request_ids_are_a_counter_per_connection() -> None:
    ls, sink = server()
    for _ in range(3):
        ls.send_edit(edit())
    ls.protocol.send_request(
        t.WINDOW_WORK_DONE_PROGRESS_CREATE, t.WorkDoneProgressCreateParams(token="p")
    )
    ids = [json.loads(unframe(m)[1])["id"] for m in sink.written]
    assert ids == [1, 2, 3, 4]
    other, other_sink = server()
    other.send_edit(edit())
    assert json.loads(unframe(other_sink.written[0])[1])["id"] == 1


async def test_a_client_request_with_the_same_id_as_ours_takes_nothing_of_ours() -> None:
    """The client numbers its requests too. Our applyEdit 1 is in flight when the client's
    own request 1 (an async handler: pygls files its future under the id) is handled and
    answered; then the client answers our 1. With our ids in pygls' tables, the handler's
    future would replace ours and the answer would find nothing: the edit never acked."""
    ls, sink = server()

    async def slow(_params: Any) -> str:
        await asyncio.sleep(0)
        return "pong"

    ls.feature("test/ping")(slow)
    pending = ls.send_edit(edit())
    assert json.loads(unframe(sink.written[0])[1])["id"] == 1
    answer(ls.protocol, {"jsonrpc": "2.0", "id": 1, "method": "test/ping", "params": {}})
    for _ in range(10):
        await asyncio.sleep(0)
    reply = json.loads(unframe(sink.written[1])[1])
    assert reply == {"id": 1, "result": "pong", "jsonrpc": "2.0"}
    assert not pending.done()
    answer(ls.protocol, {"jsonrpc": "2.0", "id": 1, "result": {"applied": True}})
    result = pending.result(timeout=0)
    assert isinstance(result, t.ApplyWorkspaceEditResult) and result.applied is True


def test_answers_are_typed_errors_fail_the_request_and_unknown_ids_are_ignored() -> None:
    ls, _ = server()
    refused, failed, unreadable = (ls.send_edit(edit()) for _ in range(3))
    answer(
        ls.protocol,
        {"jsonrpc": "2.0", "id": 1, "result": {"applied": False, "failureReason": "stale"}},
    )
    assert refused.result(timeout=0) == t.ApplyWorkspaceEditResult(
        applied=False, failure_reason="stale"
    )
    answer(ls.protocol, {"jsonrpc": "2.0", "id": 2, "error": {"code": -32603, "message": "boom"}})
    assert "boom" in str(failed.exception(timeout=0))
    with pytest.raises(Exception):  # noqa: B017 (pygls' reader logs it and goes on)
        answer(ls.protocol, {"jsonrpc": "2.0", "id": 3, "result": {"failureReason": "?"}})
    assert unreadable.exception(timeout=0) is not None  # failed now, not left waiting
    answer(ls.protocol, {"jsonrpc": "2.0", "id": 99, "result": None})  # nobody's: ignored
    answer(ls.protocol, {"jsonrpc": "2.0", "id": "1", "result": {"applied": True}})  # not 1
    assert len(ls.protocol._requests) == 0


def test_callbacks_and_shutdown_as_pygls() -> None:
    ls, _ = server()
    got: list[Any] = []
    ls.protocol.send_request(
        t.WORKSPACE_APPLY_EDIT, apply_edit_params(edit(), True), callback=got.append
    )
    answer(ls.protocol, {"jsonrpc": "2.0", "id": 1, "result": {"applied": True}})
    assert got == [t.ApplyWorkspaceEditResult(applied=True)]
    left = ls.send_edit(edit())
    ls.protocol.cancel_requests()
    assert left.cancelled()
    answer(ls.protocol, {"jsonrpc": "2.0", "id": 2, "result": {"applied": True}})  # too late
    assert left.cancelled()


def test_our_ids_wrap_within_lsp_integers_and_skip_pending_ones() -> None:
    ls, sink = server()
    ls.protocol._requests._last = 2**31 - 3
    first = ls.send_edit(edit())  # 2**31 - 2
    ls.send_edit(edit())  # 2**31 - 1
    ls.protocol._requests._pending[1] = (Future(), None)  # 1 still in flight
    ls.send_edit(edit())
    ids = [json.loads(unframe(m)[1])["id"] for m in sink.written]
    assert ids == [2**31 - 2, 2**31 - 1, 2]
    assert not first.done()


# ------------------------------------------------------------------ params


@pytest.mark.parametrize(
    ("document_changes", "version"),
    [(True, 42), (True, None), (False, 42)],
    ids=["versioned", "null version", "changes"],
)
def test_apply_edit_params_are_what_the_typed_path_made(
    document_changes: bool, version: int | None
) -> None:
    """Same dict, same keys in the same order (so the same JSON), as `converter.unstructure`
    of the lsprotocol params the server built before."""
    ls, sink = server(document_changes)
    one = edit(NON_ASCII, version, start=(3, 0), end=(5, 17), job_id=12, intent="delete-original")
    typed = typed_apply_edit_params(one, document_changes)
    expected = ls.converter.unstructure(typed)
    params = apply_edit_params(one, document_changes)
    assert params == expected
    assert json.dumps(params) == json.dumps(expected)
    ls.send_edit(one)
    assert json.loads(unframe(sink.written[0])[1])["params"] == expected


def test_typed_requests_serialize_as_pygls_serialized_them() -> None:
    """The other server -> client requests still pass lsprotocol params: same JSON as pygls'
    own send_request wrote, but for the id."""
    cases = [
        (
            t.WINDOW_WORK_DONE_PROGRESS_CREATE,
            t.WorkDoneProgressCreateParams(token="responses-lsp/job/3"),
        ),
        (
            t.WORKSPACE_CONFIGURATION,
            t.ConfigurationParams(items=[t.ConfigurationItem(section="responsesLsp")]),
        ),
        (
            t.WORKSPACE_APPLY_EDIT,
            t.ApplyWorkspaceEditParams(edit=t.WorkspaceEdit(changes={URI: []}), label="é"),
        ),
    ]
    for method, params in cases:
        ls, sink = server()
        ls.protocol.send_request(method, params)
        ours = json.loads(unframe(sink.written[0])[1])
        stock = LanguageServerProtocol(ls, ls.converter)
        stock_sink = Sink()
        stock.set_writer(stock_sink)
        stock.send_request(method, params)
        theirs = json.loads(stock_sink.written[0].partition(b"\r\n\r\n")[2])
        assert ours.pop("id") == 1 and isinstance(theirs.pop("id"), str)
        assert ours == theirs


# ------------------------------------------------------------------ what we override

# The pygls 2.1 methods WireProtocol and ResponsesProtocol override, with their parameters.
# pygls calls them by these names from its own code: if it renames one (or changes what it
# passes), our override is silently dead or broken, and this test says which.
OVERRIDDEN = {
    "_send_data": ["self", "data"],
    "send_request": ["self", "method", "params", "callback", "msg_id"],
    "structure_message": ["self", "data"],
    "_handle_response": ["self", "msg_id", "result", "error"],
    "_send_response": ["self", "msg_id", "result", "error"],
}


@pytest.mark.parametrize("name", sorted(OVERRIDDEN))
def test_pygls_still_has_what_we_override(name: str) -> None:
    theirs = getattr(JsonRPCProtocol, name, None)
    assert theirs is not None, f"pygls has no JsonRPCProtocol.{name} any more"
    assert list(inspect.signature(theirs).parameters) == OVERRIDDEN[name]
    ours = getattr(ResponsesProtocol, name)
    assert ours is not theirs and ours.__qualname__.split(".")[0] in (
        "WireProtocol",
        "ResponsesProtocol",
    )
    assert list(inspect.signature(ours).parameters) == OVERRIDDEN[name]


def test_pygls_still_routes_through_what_we_override() -> None:
    """Its answers and notifications go out through `_send_data`, the client's answers come in
    through `structure_message` and `_handle_response`; the attributes our overrides read."""
    source = inspect.getsource(JsonRPCProtocol)
    assert "self._send_data(response)" in source and "self._send_data(notification)" in source
    assert "ctx.run(self._handle_response, message.id, message.result)" in source
    assert "object_hook=protocol.structure_message" in inspect.getsource(run_async)
    ls, _ = server()
    for attribute in (
        "writer",
        "_include_headers",
        "_converter",
        "_serialize_message",
        "_request_futures",
    ):
        assert hasattr(ls.protocol, attribute), attribute
    assert isinstance(ls.protocol, WireProtocol)


def test_a_broken_pipe_ends_the_send_as_in_pygls() -> None:
    """pygls' stdio loop stops on BrokenPipeError: it must get out of `_send_data`."""

    class Broken(Sink):
        def write(self, data: bytes) -> None:
            raise BrokenPipeError

    ls, _ = server()
    ls.protocol.set_writer(Broken())
    with pytest.raises(BrokenPipeError):
        ls.send_edit(edit())


async def test_an_async_transport_gets_every_write_awaited() -> None:
    """pygls' websocket writer returns an awaitable per write (and wants the body alone)."""
    written: list[bytes] = []

    class AsyncSink:
        async def write(self, data: bytes) -> None:
            await asyncio.sleep(0)
            written.append(data)

        async def close(self) -> None:
            pass

    ls, _ = server()
    ls.protocol.set_writer(AsyncSink(), include_headers=False)
    ls.send_edit(edit())
    ls.send_edit(edit())
    for _ in range(5):
        await asyncio.sleep(0)
    assert [json.loads(w)["id"] for w in written] == [1, 2]
    assert not ls.protocol._writes  # nothing left in flight


def cost_of_one_edit(repeat: int = 7, number: int = 10_000) -> None:
    """`python -m tests.unit.test_wire`: one typical streamed edit, its bytes and the best µs
    per send (timeit), through our path and through pygls' own (typed params, its
    `send_request` and `_send_data`: what `send_edit` did before)."""
    import timeit

    ls, sink = server()
    stock = LanguageServerProtocol(ls, ls.converter)
    stock.set_writer(sink)
    one = edit()
    paths: dict[str, Callable[[], object]] = {
        "pygls 2.1 (before)": lambda: stock.send_request(
            t.WORKSPACE_APPLY_EDIT, typed_apply_edit_params(one, True)
        ),
        "responses-lsp wire (after)": lambda: ls.send_edit(one),
    }
    for name, send in paths.items():
        sink.written.clear()
        send()
        message = sink.written[0]

        def once(send: Callable[[], object] = send) -> None:
            send()
            sink.written.clear()
            stock._request_futures.clear()
            stock._result_types.clear()
            ls.protocol.cancel_requests()

        best = min(timeit.repeat(once, number=number, repeat=repeat)) / number * 1e6
        print(f"{name}: {len(message)} bytes, {best:.1f} us per send\n{message.decode()}\n")


if __name__ == "__main__":
    cost_of_one_edit()
