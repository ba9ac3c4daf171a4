"""What the client writes, read by `incoming.FrameReader` and handed on by
`FastDispatch.handle_body` (issue 16): the short way for a didChange and an applyEdit answer
must read them exactly as pygls' converter does, and leave every other shape to pygls."""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import Future
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types as t

from responses_lsp.incoming import FrameReader, apply_edit_result, did_change_params
from responses_lsp.jobs.arguments import make_converter
from responses_lsp.language_server import ResponsesLanguageServer

CONVERTER = make_converter()

# ------------------------------------------------------------------ the shapes, against cattrs

ints = st.one_of(
    st.integers(min_value=0, max_value=2**31 - 1),
    st.integers(min_value=-5, max_value=-1),  # lsprotocol refuses them
    st.integers(min_value=2**31, max_value=2**33),  # out of LSP's range
    st.booleans(),
    st.none(),
    st.text(max_size=2),
)
positions = st.one_of(
    st.fixed_dictionaries({"line": ints, "character": ints}),
    st.fixed_dictionaries({"line": ints}),
    st.fixed_dictionaries({"line": ints, "character": ints, "x": st.just(1)}),
    st.none(),
)
ranges = st.one_of(
    st.fixed_dictionaries({"start": positions, "end": positions}), st.none(), st.just([])
)
changes = st.one_of(
    st.fixed_dictionaries({"range": ranges, "text": st.text(max_size=8)}),
    st.fixed_dictionaries(
        {"range": ranges, "rangeLength": st.one_of(ints), "text": st.text(max_size=8)}
    ),
    st.fixed_dictionaries({"text": st.one_of(st.text(max_size=8), st.none(), st.just(3))}),
    st.fixed_dictionaries({"range": ranges}),
    st.just({}),
)
params = st.one_of(
    st.fixed_dictionaries(
        {
            "textDocument": st.fixed_dictionaries(
                {
                    "uri": st.one_of(st.just("file:///a.py"), st.none(), st.just(1)),
                    "version": ints,
                }
            ),
            "contentChanges": st.one_of(st.lists(changes, max_size=3), st.none()),
        }
    ),
    st.fixed_dictionaries({"textDocument": st.just({"uri": "file:///a.py"})}),
    st.just([]),
)


@settings(max_examples=400, deadline=None)
@given(params)
def test_did_change_params_reads_what_the_converter_reads(raw: Any) -> None:
    fast = did_change_params(raw)
    if fast is not None:  # whatever the short way takes, it reads as the converter does
        assert fast == CONVERTER.structure(raw, t.DidChangeTextDocumentParams)


uints = st.integers(min_value=0, max_value=2**31 - 1)
good_position = st.fixed_dictionaries({"line": uints, "character": uints})
good_change = st.one_of(
    st.fixed_dictionaries(
        {"range": st.fixed_dictionaries({"start": good_position, "end": good_position})},
        optional={"rangeLength": uints},
    ).map(lambda change: {**change, "text": "t"}),
    st.just({"text": "whole"}),
)


@settings(max_examples=200, deadline=None)
@given(st.integers(-(2**31), 2**31 - 1), st.lists(good_change, max_size=4))
def test_every_well_formed_did_change_takes_the_short_way(version: int, changes: Any) -> None:
    raw = {"textDocument": {"uri": "file:///a.py", "version": version}, "contentChanges": changes}
    fast = did_change_params(raw)
    assert fast is not None
    assert fast == CONVERTER.structure(raw, t.DidChangeTextDocumentParams)


def test_the_common_did_change_takes_the_short_way() -> None:
    rng = {"start": {"line": 3, "character": 1}, "end": {"line": 3, "character": 4}}
    raw = {
        "textDocument": {"uri": "file:///a.py", "version": 7},
        "contentChanges": [{"range": rng, "rangeLength": 3, "text": "é"}, {"text": "whole"}],
    }
    fast = did_change_params(raw)
    assert fast is not None
    assert fast == CONVERTER.structure(raw, t.DidChangeTextDocumentParams)
    assert isinstance(fast.content_changes[0], t.TextDocumentContentChangePartial)
    assert isinstance(fast.content_changes[1], t.TextDocumentContentChangeWholeDocument)


results = st.one_of(
    st.fixed_dictionaries({"applied": st.one_of(st.booleans(), st.none(), st.just(1))}),
    st.fixed_dictionaries(
        {
            "applied": st.booleans(),
            "failureReason": st.one_of(st.text(max_size=5), st.none(), st.just(2)),
        }
    ),
    st.fixed_dictionaries({"applied": st.booleans(), "failedChange": ints}),
    st.fixed_dictionaries({"applied": st.booleans(), "other": st.just(1)}),
    st.just({}),
    st.none(),
    st.just([True]),
)


@settings(max_examples=300, deadline=None)
@given(results)
def test_apply_edit_result_reads_what_the_converter_reads(raw: Any) -> None:
    fast = apply_edit_result(raw)
    if fast is not None:
        assert fast == CONVERTER.structure(raw, t.ApplyWorkspaceEditResult)


# ------------------------------------------------------------------ framing


def _reader() -> tuple[FrameReader, list[bytes], asyncio.Future[None]]:
    loop = asyncio.new_event_loop()
    done: asyncio.Future[None] = loop.create_future()
    bodies: list[bytes] = []
    return FrameReader(bodies.append, done), bodies, done


def _frame(body: bytes, header: bytes = b"Content-Length: %d\r\n\r\n") -> bytes:
    return (header % len(body)) + body


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=6), st.data())
def test_messages_come_out_whole_however_the_bytes_are_cut(
    bodies: list[bytes], data: st.DataObject
) -> None:
    headers = [
        b"Content-Length: %d\r\n\r\n",
        b"content-length:%d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n",
        b"Content-Type: x\r\nCONTENT-LENGTH: %d \r\n\r\n",
    ]
    stream = b"".join(
        _frame(b, data.draw(st.sampled_from(headers), label="header")) for b in bodies
    )
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8), label="cuts"))
    reader, seen, done = _reader()
    start = 0
    for cut in [*cuts, len(stream)]:
        reader.data_received(stream[start:cut])
        start = cut
    assert seen == bodies
    assert not done.done()
    reader.eof_received()
    assert done.done()


def test_a_header_without_length_is_skipped_and_an_endless_one_closes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reader, seen, done = _reader()
    with caplog.at_level(logging.ERROR):
        reader.data_received(b"Content-Type: x\r\n\r\n" + _frame(b"{}"))
    assert seen == [b"{}"]
    assert "without Content-Length" in caplog.text
    reader.data_received(b"X" * (1 << 17))
    assert done.done()  # no end of header in 64 KiB: not a client we can talk to


# ------------------------------------------------------------------ dispatch


def _did_change_body(version: int, text: str) -> bytes:
    """A didChange inserting `text` at the start of file:///a.py, as a client writes it."""
    rng = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}
    change = {
        "jsonrpc": "2.0",
        "method": "textDocument/didChange",
        "params": {
            "textDocument": {"uri": "file:///a.py", "version": version},
            "contentChanges": [{"range": rng, "text": text}],
        },
    }
    return json.dumps(change).encode()


def test_the_short_way_and_pygls_way_reach_the_same_handlers() -> None:
    """A didChange goes to the protocol's handler; an applyEdit answer resolves its future
    with the typed result; a message the short way does not take (a request) still works."""
    server = ResponsesLanguageServer()
    protocol = server.protocol
    seen: list[t.DidChangeTextDocumentParams] = []
    protocol._did_change = seen.append  # the handler the short way calls
    written: list[bytes] = []

    class Writer:
        def write(self, data: bytes) -> None:
            written.append(data)

        def close(self) -> None:
            pass

    protocol.set_writer(Writer())
    protocol.handle_body(_did_change_body(version=2, text="x"))
    assert len(seen) == 1 and seen[0].text_document.version == 2

    future: Future[Any] = protocol.send_request("workspace/applyEdit", {"edit": {}})
    sent = json.loads(written[-1].split(b"\r\n\r\n", 1)[1])
    answer = {
        "jsonrpc": "2.0",
        "id": sent["id"],
        "result": {"applied": False, "failureReason": "r"},
    }
    protocol.handle_body(json.dumps(answer).encode())
    assert future.result(0) == t.ApplyWorkspaceEditResult(applied=False, failure_reason="r")

    odd: Future[Any] = protocol.send_request("workspace/applyEdit", {"edit": {}})
    sent = json.loads(written[-1].split(b"\r\n\r\n", 1)[1])
    answer = {"jsonrpc": "2.0", "id": sent["id"], "result": {"applied": 1}}  # cast by cattrs
    protocol.handle_body(json.dumps(answer).encode())
    assert odd.result(0).applied is True  # pygls' way


def test_a_body_that_is_no_json_is_reported_not_raised() -> None:
    server = ResponsesLanguageServer()
    reported: list[Exception] = []
    server.report_server_error = lambda exc, _source: reported.append(exc)  # type: ignore[method-assign]
    server.protocol.handle_body(b"{not json")
    assert len(reported) == 1 and isinstance(reported[0], ValueError)


def test_a_message_that_cannot_take_the_short_way_is_parsed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A didOpen (of a big file, say) is not parsed for the short way and again for pygls';
    a didChange is parsed once; only a body that looks like one of the two and is not (an
    answer of an odd shape) is parsed twice."""
    import responses_lsp.stdio as stdio

    parses: list[bytes] = []

    class CountingJson:
        @staticmethod
        def loads(body: bytes, **kwargs: Any) -> Any:
            parses.append(body)
            return json.loads(body, **kwargs)

    monkeypatch.setattr(stdio, "json", CountingJson)
    server = ResponsesLanguageServer()
    protocol = server.protocol
    protocol._did_change = lambda _params: None
    opened = {
        "jsonrpc": "2.0",
        "method": "textDocument/didOpen",
        "params": {
            "textDocument": {"uri": "file:///a.py", "languageId": "python", "version": 1},
        },
    }
    opened["params"]["textDocument"]["text"] = "x = 1\n" * 1000  # type: ignore[index]
    protocol.handle_body(json.dumps(opened).encode())
    assert len(parses) == 1
    protocol.handle_body(_did_change_body(version=2, text="y"))
    assert len(parses) == 2
    protocol.handle_body(b'{"jsonrpc":"2.0","id":99,"result":{"applied":1}}')  # not ours
    assert len(parses) == 4
