"""The server writes nothing but framed JSON-RPC on stdout, and the API key appears nowhere:
not on stdout, not in the server's stderr log (at debug level), not in any message it sends.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tests.e2e.conftest import spawn_server
from tests.fakes.raw_lsp import did_open, frame
from tests.loopback import LoopbackServer, Reply

KEY = "sk-test-NEVER-SHOW-0123456789abcdef"


def parse_frames(data: bytes) -> list[dict[str, Any]]:
    """Every byte of stdout must belong to a Content-Length framed JSON message."""
    messages = []
    while data:
        header, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"stray bytes on stdout: {data[:80]!r}"
        length = None
        for line in header.split(b"\r\n"):
            name, _, value = line.partition(b":")
            assert name.lower() in (b"content-length", b"content-type"), f"not a header: {line!r}"
            if name.lower() == b"content-length":
                length = int(value)
        assert length is not None
        messages.append(json.loads(rest[:length]))
        data = rest[length:]
    return messages


async def test_stdout_is_only_the_protocol_and_the_key_never_leaks(tmp_path: Path) -> None:
    source = "def f():\n    return 1\n"
    (tmp_path / "a.py").write_text(source)
    uri = (tmp_path / "a.py").as_uri()
    with LoopbackServer() as api:
        # the endpoint echoes the key in an error, as some gateways do; then a normal answer
        api.script(
            Reply.error(401, message=f"Incorrect API key provided: {KEY}"),
            Reply.text("async def f():\n    return 1\n"),
        )
        proc = await spawn_server(
            api.base_url,
            KEY,
            tmp_path / "state",
            stderr=asyncio.subprocess.PIPE,
            RESPONSES_LSP_LOG="debug",
        )
        assert proc.stdin is not None
        run = {
            "action": "refactor-to-async",
            "uri": uri,
            "range": {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 4}},
        }
        script = [
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "processId": None,
                    "rootUri": tmp_path.as_uri(),
                    "capabilities": {
                        "workspace": {"applyEdit": True},
                        "window": {"workDoneProgress": False},
                    },
                    "initializationOptions": {"clientFeatures": {"jobDone": True}},
                },
            },
            {"jsonrpc": "2.0", "method": "initialized", "params": {}},
            did_open(uri, source),
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "workspace/executeCommand",
                "params": {"command": "responses-lsp.run", "arguments": [run]},
            },
        ]
        for message in script:
            proc.stdin.write(frame(message))
        await proc.stdin.drain()
        # the job fails with the 401: it never sends an edit, so no client answer is needed;
        # the command answers at once, the job's end comes as responsesLsp/jobDone
        await asyncio.sleep(0)  # let the server work; the reads below are bounded
        stdout = b""
        deadline = asyncio.get_running_loop().time() + 20
        while b"responsesLsp/jobDone" not in stdout:
            assert asyncio.get_running_loop().time() < deadline, stdout[-400:]
            chunk = await asyncio.wait_for(proc.stdout.read(65536), 20)  # type: ignore[union-attr]
            assert chunk, "the server exited"
            stdout += chunk
        proc.stdin.write(frame({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}))
        proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
        await proc.stdin.drain()
        rest, stderr = await asyncio.wait_for(proc.communicate(), 20)
        stdout += rest
    messages = parse_frames(stdout)
    answer = next(m for m in messages if m.get("id") == 2)["result"]
    assert answer["outcome"] == "started"
    done = next(m for m in messages if m.get("method") == "responsesLsp/jobDone")
    result = done["params"]
    assert result["jobId"] == answer["jobId"]
    assert result["outcome"] == "error" and "401" in result["message"]
    assert messages.index(done) > next(i for i, m in enumerate(messages) if m.get("id") == 2)
    everything = stdout.decode() + stderr.decode()
    assert KEY not in everything
    assert "sk-test-NEVER" not in everything
    assert any(m.get("method") == "window/showMessage" for m in messages)
    # the log really was written, with the error in it (so the check above covers it)
    assert b"responses_lsp" in stderr and b"401" in stderr
