"""A small local model behind the LiteLLM proxy: `POST /v1/chat/completions` on 127.0.0.1.

LiteLLM serves `/v1/responses` for a deployment `openai/chat_completions/<name>` by
translating it into a chat completion (its "bridge", `litellm/responses/main.py`
`_bridges_to_chat_completions`; a plain `openai/<name>` deployment would pass `/v1/responses`
through unchanged). So this stand-in speaks what OpenAI's chat completions API sends, as
LiteLLM's OpenAI client reads it: `data:`-only SSE chunks (`chat.completion.chunk`, a first
delta with the role, content deltas, tool calls streamed as `tool_calls[i].function.arguments`
fragments with the id and name in the first one, a final chunk with `finish_reason`, a usage
chunk with empty `choices` when `stream_options.include_usage` is set, then `data: [DONE]`),
or one `chat.completion` object when `stream` is false.

What it answers is decided by `brain(body) -> Turn` (deterministic; a test may replace it).
The default brain: a summary when asked for a CONTEXT CHECKPOINT, otherwise the code between
the `<selection>` tags with `def ` made `async def `. Failures are scripted per request with
`fail_next(...)`: an HTTP error, or a stream cut after N content chunks. Every request body
is recorded. Stdlib only.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

JSON = dict[str, Any]
SELECTION = re.compile(r"<(selection[^>]*)>\n(.*?)</\1>", re.DOTALL)
CHECKPOINT = "CONTEXT CHECKPOINT COMPACTION"


@dataclass
class ToolCall:
    name: str
    arguments: str
    call_id: str = ""


@dataclass
class Turn:
    """One answer of the model: text, and/or tool calls."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass
class Failure:
    """A scripted failure: an HTTP status with a body, or a stream cut after `after` chunks."""

    status: int = 500
    body: JSON | None = None
    cut_after: int | None = None


def message_text(message: JSON) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
    return ""


def last_user_text(body: JSON) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    return message_text(users[-1]) if users else ""


def rewrite_brain(body: JSON) -> Turn:
    """The default model: summaries for checkpoints, `def` -> `async def` for rewrites."""
    text = last_user_text(body)
    if CHECKPOINT in text:
        turns = sum(1 for m in body.get("messages", []) if m.get("role") == "user") - 1
        return Turn(f"Summary: {turns} earlier requests; functions were made async.")
    match = SELECTION.search(text)
    if match is None:
        return Turn("OK")
    code = match.group(2)
    return Turn(code.replace("def ", "async def ", 1))


class StandIn:
    """The stand-in server (a thread); use as a context manager."""

    def __init__(self, model: str = "stand-in") -> None:
        self.model = model
        self.brain: Callable[[JSON], Turn] = rewrite_brain
        self.requests: list[JSON] = []
        self.chunk_chars = 7
        self._failures: deque[Failure] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def fail_next(self, *failures: Failure) -> None:
        with self._lock:
            self._failures.extend(failures)

    def _next_failure(self) -> Failure | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _usage(body: JSON, turn: Turn) -> JSON:
    prompt = max(1, len(json.dumps(body.get("messages", []))) // 4)
    completion = max(1, (len(turn.text) + sum(len(c.arguments) for c in turn.tool_calls)) // 4)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _handler(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, status: int, payload: JSON) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": standin.model}]})
            else:
                self._json(404, {"error": {"message": "not found", "type": "not_found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "x"}})
                return
            standin.requests.append(body)
            failure = standin._next_failure()
            if failure is not None and failure.cut_after is None:
                error = {"message": "the stand-in failed", "type": "server_error"}
                self._json(failure.status, failure.body or {"error": error})
                return
            turn = standin.brain(body)
            if body.get("stream"):
                self._stream(body, turn, failure.cut_after if failure else None)
            else:
                self._complete(body, turn)

        def _complete(self, body: JSON, turn: Turn) -> None:
            message: JSON = {"role": "assistant", "content": turn.text or None}
            if turn.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": c.call_id or f"call_{i}",
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for i, c in enumerate(turn.tool_calls)
                ]
            self._json(
                200,
                {
                    "id": f"chatcmpl-{len(standin.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": standin.model,
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "finish_reason": "tool_calls" if turn.tool_calls else "stop",
                        }
                    ],
                    "usage": _usage(body, turn),
                },
            )

        def _stream(self, body: JSON, turn: Turn, cut_after: int | None) -> None:
            # chunked, as uvicorn / vLLM / LM Studio send it: a server that dies mid-stream
            # leaves the body without its last chunk, which the client sees as a broken stream
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

            def write(data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            base = {
                "id": f"chatcmpl-{len(standin.requests)}",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": standin.model,
            }

            def chunk(delta: JSON, finish: str | None = None) -> None:
                choice = {"index": 0, "delta": delta, "finish_reason": finish}
                frame = {**base, "choices": [choice]}
                write(f"data: {json.dumps(frame)}\n\n".encode())

            chunk({"role": "assistant", "content": ""})
            step = standin.chunk_chars
            pieces = [turn.text[i : i + step] for i in range(0, len(turn.text), step)]
            for n, piece in enumerate(pieces):
                if cut_after is not None and n >= cut_after:
                    return  # the upstream dies mid-stream: no finish, no [DONE], no last chunk
                chunk({"content": piece})
            for index, call in enumerate(turn.tool_calls):
                first = {
                    "index": index,
                    "id": call.call_id or f"call_{len(standin.requests)}_{index}",
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
                chunk({"tool_calls": [first]})
                args = call.arguments
                for i in range(0, len(args), step * 3):
                    part = {"index": index, "function": {"arguments": args[i : i + step * 3]}}
                    chunk({"tool_calls": [part]})
            chunk({}, "tool_calls" if turn.tool_calls else "stop")
            if (body.get("stream_options") or {}).get("include_usage"):
                frame = {**base, "choices": [], "usage": _usage(body, turn)}
                write(f"data: {json.dumps(frame)}\n\n".encode())
            write(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler
