"""The server's stdin is read by the event loop (`responses_lsp.stdio`), issue 16.

pygls 2.1 reads stdin in its thread pool (three thread round trips per message); the server
reads a pipe with an `asyncio.Protocol` instead (`incoming.FrameReader`), and falls back to
pygls' reader for what epoll cannot watch (a regular file, /dev/null), which would otherwise
hang it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from responses_lsp.stdio import FastDispatch, _watchable
from tests.fakes.raw_lsp import did_open, frame

ROOT = Path(__file__).resolve().parents[2]


def _read_message(stream: Any) -> dict[str, Any]:
    length = 0
    while True:
        line = stream.readline()
        assert line, "the server closed stdout"
        if line in (b"\r\n", b"\n"):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return dict(json.loads(stream.read(length)))


def test_pipes_and_sockets_are_watchable_files_are_not() -> None:
    r, w = os.pipe()
    try:
        with os.fdopen(r, "rb", closefd=False) as f:
            assert _watchable(f)
    finally:
        os.close(r)
        os.close(w)
    with tempfile.TemporaryFile() as f:
        assert not _watchable(f)
    with open(os.devnull, "rb") as f:
        assert not _watchable(f)  # a character device epoll refuses (EPERM)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_the_served_server_reads_stdin_without_a_thread(tmp_path: Path) -> None:
    """Over a pipe, after initialize and a few messages, the server runs one thread: pygls'
    reader would have started its thread pool for the first readline."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "server"), "OPENAI_API_KEY": "sk-test-0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "responses_lsp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout
    uri = (tmp_path / "a.py").as_uri()
    seen: list[Any] = []

    def talk() -> None:
        def send(message: dict[str, Any]) -> None:
            stdin.write(frame({"jsonrpc": "2.0", **message}))
            stdin.flush()

        init = {"processId": None, "rootUri": None, "capabilities": {}}
        send({"id": 1, "method": "initialize", "params": init})
        seen.append(_read_message(stdout))
        send({"method": "initialized", "params": {}})
        send(did_open(uri, "x = 1\n"))
        rng = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 5}}
        for n in range(3):
            params = {"textDocument": {"uri": uri}, "range": rng, "context": {"diagnostics": []}}
            send({"id": 10 + n, "method": "textDocument/codeAction", "params": params})
            while True:  # skip what the server asks meanwhile (workspace/configuration)
                message = _read_message(stdout)
                if message.get("id") == 10 + n and "method" not in message:
                    seen.append(message)
                    break
                if "method" in message and "id" in message:
                    send({"id": message["id"], "result": [None]})
        time.sleep(0.1)
        seen.append(len(os.listdir(f"/proc/{proc.pid}/task")))
        send({"id": 20, "method": "shutdown"})
        _read_message(stdout)
        send({"method": "exit"})

    worker = threading.Thread(target=talk, daemon=True)
    worker.start()
    worker.join(30)
    try:
        assert not worker.is_alive(), f"the server stopped answering: {seen}"
        assert seen[0]["id"] == 1 and "capabilities" in seen[0]["result"]
        assert [m["id"] for m in seen[1:4]] == [10, 11, 12]
        assert seen[4] == 1, f"{seen[4]} threads"
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()


class _Recorder(FastDispatch):
    def __init__(self) -> None:  # no server: only the dispatch is under test
        self._shutdown = False
        self.calls: list[tuple[Any, ...]] = []

    def _handle_request(self, *args: Any) -> None:
        self.calls.append(("request", *args))

    def _handle_notification(self, *args: Any) -> None:
        self.calls.append(("notification", *args))

    def _handle_response(self, *args: Any) -> None:
        self.calls.append(("response", *args))


class _Msg:
    def __init__(self, **fields: Any) -> None:
        self.jsonrpc = "2.0"
        self.__dict__.update(fields)


def test_fast_dispatch_tells_the_kinds_apart_as_pygls_does() -> None:
    proto = _Recorder()
    proto.handle_message(_Msg(id=1, method="m", params={"a": 1}))
    proto.handle_message(_Msg(method="n", params=None))
    proto.handle_message(_Msg(id=2, result={"applied": True}))
    proto.handle_message(_Msg(id=3, error={"code": -1}))
    assert proto.calls == [
        ("request", 1, "m", {"a": 1}),
        ("notification", "n", None),
        ("response", 2, {"applied": True}),
        ("response", 3, None, {"code": -1}),
    ]
    proto.handle_message(_Msg(jsonrpc="1.0", id=6, method="m", params=None))
    assert len(proto.calls) == 4  # not JSON-RPC 2.0: ignored
    proto._shutdown = True
    before = len(proto.calls)
    proto.handle_message(_Msg(id=5, method="m", params=None))
    assert len(proto.calls) == before  # shutting down: nothing but exit
