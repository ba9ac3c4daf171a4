"""The wire of a whole streamed job, read byte by byte from the server's stdout by a client
that numbers its own requests like every editor does (1, 2, 3, ...).

What it checks: every message is `Content-Length` only and that length is the body in bytes
(the answer has non-ASCII text, sent as UTF-8); our applyEdit ids are 1, 2, 3, ...; and the
client's own requests carry the very ids of our applyEdits still in flight (the client sends
its request N before it answers our N): each side gets exactly its own answers, every edit is
acknowledged and the document ends exactly right.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from tests.e2e.conftest import API_KEY, RUN, spawn_server
from tests.fakes.raw_lsp import did_open, frame
from tests.fakes.samples import ASYNC_FETCH, CURSOR, FETCH, SOURCE
from tests.loopback import LoopbackServer, Reply

# the rewrite, with text outside ASCII: 2-, 3- and 4-byte UTF-8 (the emoji is 2 UTF-16 units)
ANSWER = ASYNC_FETCH.replace('"""Fetch a URL."""', '"""Fetch a URL — «ü», 日本 🙂."""')
LIMIT = 20.0  # seconds for any one step of the conversation (the whole takes ~2 s)


def offset(text: str, line: int, character: int) -> int:
    """A UTF-16 position (VS Code's) -> an index into `text`."""
    start = 0
    for _ in range(line):
        start = text.index("\n", start) + 1
    units, index = 0, start
    while units < character:
        units += 2 if ord(text[index]) > 0xFFFF else 1
        index += 1
    assert units == character, "a position inside a surrogate pair"
    return index


class WireClient:
    """A VS Code-like client on raw stdio: versioned edits, a stale version refused, the
    didChange of an applied edit sent before the answer. It keeps every frame it read."""

    def __init__(self, proc: asyncio.subprocess.Process, uri: str, text: str) -> None:
        self.proc = proc
        self.uri, self.text, self.version = uri, text, 1
        self.frames: list[tuple[list[bytes], bytes]] = []  # (header lines, body) as read
        self.answers: dict[int, list[dict[str, Any]]] = {}  # our request id -> its answers
        self.used: set[int] = set()  # the ids of our own requests
        self.collided: list[int] = []  # our requests sent under the id of an applyEdit in flight
        self.edits: list[dict[str, Any]] = []  # the server's applyEdit requests
        self.done = asyncio.Event()
        self.answered = asyncio.Condition()
        self.job_done: dict[str, Any] = {}

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(frame(message))

    def request(self, msg_id: int, method: str, params: Any) -> None:
        assert msg_id not in self.used, "a client never reuses its own ids"
        self.used.add(msg_id)
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})

    async def read_frame(self) -> tuple[list[bytes], bytes] | None:
        """One message as read: its header lines and exactly Content-Length bytes (None: EOF)."""
        assert self.proc.stdout is not None
        lines: list[bytes] = []
        while (line := await self.proc.stdout.readline()) != b"\r\n":
            if not line and not lines:
                return None
            assert line.endswith(b"\r\n"), f"not a header line: {line!r}"
            lines.append(line[:-2])
        [length] = [
            int(h.split(b":")[1]) for h in lines if h.lower().startswith(b"content-length:")
        ]
        body = await self.proc.stdout.readexactly(length)
        return lines, body

    async def run(self) -> None:
        while (read := await self.read_frame()) is not None:
            lines, body = read
            self.frames.append((lines, body))
            message = json.loads(body)  # the body is exactly one JSON value: the length was right
            if "method" not in message:
                self.answers.setdefault(message["id"], []).append(message)
                async with self.answered:
                    self.answered.notify_all()
            elif message["method"] == "workspace/applyEdit":
                self.edits.append(message)
                self.apply(message)
            elif "id" in message:  # any other request of the server
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            elif message["method"] == "responsesLsp/jobDone":
                self.job_done = message["params"]
                self.done.set()

    def apply(self, message: dict[str, Any]) -> None:
        msg_id = message["id"]
        if isinstance(msg_id, int) and msg_id not in self.used:
            # our own request, under the id of the edit in flight (clients number theirs)
            self.request(msg_id, "workspace/executeCommand", {"command": "responses-lsp.jobs"})
            self.collided.append(msg_id)
        [change] = message["params"]["edit"]["documentChanges"]
        if change["textDocument"]["version"] != self.version:
            result = {"applied": False, "failureReason": "the document changed"}
        else:
            [edit] = change["edits"]
            start, end = edit["range"]["start"], edit["range"]["end"]
            a = offset(self.text, start["line"], start["character"])
            b = offset(self.text, end["line"], end["character"])
            self.text = self.text[:a] + edit["newText"] + self.text[b:]
            self.version += 1
            self.send(
                {
                    "jsonrpc": "2.0",
                    "method": "textDocument/didChange",
                    "params": {
                        "textDocument": {"uri": self.uri, "version": self.version},
                        "contentChanges": [{"range": edit["range"], "text": edit["newText"]}],
                    },
                }
            )
            result = {"applied": True}
        self.send({"jsonrpc": "2.0", "id": msg_id, "result": result})


def line_col16(text: str, index: int) -> dict[str, int]:
    line = text.count("\n", 0, index)
    start = text.rfind("\n", 0, index) + 1
    return {"line": line, "character": len(text[start:index].encode("utf-16-le")) // 2}


async def test_a_streamed_job_on_the_wire(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(SOURCE)
    uri = (tmp_path / "app.py").as_uri()
    with LoopbackServer() as api:
        api.script(Reply.text(ANSWER, chunks=2, pace_tps=300))
        proc = await spawn_server(
            api.base_url, API_KEY, tmp_path / "state", stderr=asyncio.subprocess.DEVNULL
        )
        client = WireClient(proc, uri, SOURCE)
        reading = asyncio.create_task(client.run())
        try:
            client.request(
                1,
                "initialize",
                {
                    "processId": os.getpid(),
                    "rootUri": tmp_path.as_uri(),
                    "clientInfo": {"name": "Visual Studio Code"},
                    "capabilities": {
                        "workspace": {
                            "applyEdit": True,
                            "workspaceEdit": {"documentChanges": True},
                        },
                    },
                    "initializationOptions": {"clientFeatures": {"jobDone": True}},
                },
            )
            await within(client, _answered(client, 1), "answer to initialize")
            client.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
            client.send(did_open(uri, SOURCE))
            cursor = line_col16(SOURCE, CURSOR)
            run_id = 1_000_000  # our command's id: clear of the applyEdits' 1, 2, 3, ...
            client.request(
                run_id,
                "workspace/executeCommand",
                {
                    "command": RUN,
                    "arguments": [
                        {
                            "action": "refactor-to-async",
                            "uri": uri,
                            "range": {"start": cursor, "end": cursor},
                        }
                    ],
                },
            )
            await within(client, client.done.wait(), "responsesLsp/jobDone")
            for msg_id in sorted(client.used):  # every request of ours answered
                await within(client, _answered(client, msg_id), f"answer to {msg_id}")
            client.request(run_id + 1, "shutdown", None)
            await within(client, _answered(client, run_id + 1), "answer to shutdown")
            client.send({"jsonrpc": "2.0", "method": "exit"})
            await asyncio.wait_for(proc.wait(), LIMIT)
        finally:
            if reading.done() and reading.exception() is not None:
                raise reading.exception()  # type: ignore[misc]
            reading.cancel()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    # the document, exactly
    assert client.job_done["outcome"] == "applied", client.job_done
    assert client.text == SOURCE.replace(FETCH, ANSWER)
    # the framing: Content-Length only, counted in bytes (read_frame took exactly that many)
    assert client.frames
    for lines, body in client.frames:
        assert lines == [b"Content-Length: %d" % len(body)], lines
        compact = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False)
        assert body == compact.encode()
    sent = b"".join(body for _, body in client.frames)
    assert "日本 🙂".encode() in sent  # UTF-8 as it is, not \\u escapes
    assert b"\\u" not in sent
    # our applyEdit ids: 1, 2, 3, ... ; the client's requests under the same ids meanwhile
    ids = [edit["id"] for edit in client.edits]
    assert ids == list(range(1, len(ids) + 1)), ids
    assert len(ids) >= 5 and client.collided == ids[1:]  # 1 was the client's `initialize`
    for msg_id in client.used:  # each of the client's requests got exactly its own answer
        [reply] = client.answers[msg_id]
        assert "error" not in reply, reply
    for msg_id in client.collided:
        assert isinstance(client.answers[msg_id][0]["result"], list)  # the jobs list
    assert client.answers[run_id][0]["result"]["outcome"] == "started"


async def within(client: WireClient, step: Awaitable[Any], what: str) -> None:
    try:
        await asyncio.wait_for(step, LIMIT)
    except TimeoutError:
        last = client.frames[-1][1][:300] if client.frames else b""
        raise AssertionError(
            f"no {what} within {LIMIT} s, after {len(client.edits)} applyEdits (each answered); "
            f"the server's last message: {last!r}"
        ) from None


async def _answered(client: WireClient, msg_id: int) -> None:
    async with client.answered:
        await client.answered.wait_for(lambda: msg_id in client.answers)
