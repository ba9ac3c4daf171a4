"""Messages of a client that speaks LSP on raw pipes (the tests that read the server's bytes)."""

from __future__ import annotations

import json
from typing import Any


def frame(message: dict[str, Any]) -> bytes:
    """One message as a client writes it: Content-Length (in bytes) and the JSON body."""
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def did_open(uri: str, text: str, language_id: str = "python") -> dict[str, Any]:
    """`textDocument/didOpen` of `text` at version 1."""
    item = {"uri": uri, "languageId": language_id, "version": 1, "text": text}
    return {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": item}}
