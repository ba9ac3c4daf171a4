"""A corporate front door for the LiteLLM proxy, as teams put nginx or an API manager there:
the proxy is mounted under a path prefix (`/llm/…` -> `/…`), a routing header is required
(`X-Team`; 403 without it), and the key arrives in an `api-key` header, which the front
turns into `Authorization: Bearer` for LiteLLM (Azure API Management style). Responses,
event streams included, are relayed chunk by chunk as they arrive. Stdlib only.
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

PREFIX = "/llm"
TEAM_HEADER = "X-Team"
TEAM = "payments"


class Front:
    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.seen: list[dict[str, str]] = []  # the headers of every request that came in
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{PREFIX}/v1"

    def __enter__(self) -> Front:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(front: Front) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _refuse(self, status: int, message: str) -> None:
            data = json.dumps({"error": {"message": message, "type": "gateway_error"}}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _relay(self, method: str) -> None:
            front.seen.append({k.lower(): v for k, v in self.headers.items()})
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.startswith(PREFIX + "/"):
                self._refuse(404, f"no route {self.path}")
                return
            if self.headers.get(TEAM_HEADER) != TEAM:
                self._refuse(403, f"missing or unknown {TEAM_HEADER} header")
                return
            headers = {
                "Content-Type": self.headers.get("Content-Type", "application/json"),
                "Accept": self.headers.get("Accept", "*/*"),
            }
            if self.headers.get("api-key"):
                headers["Authorization"] = f"Bearer {self.headers['api-key']}"
            upstream = http.client.HTTPConnection(
                front.upstream.hostname or "127.0.0.1", front.upstream.port, timeout=120
            )
            try:
                upstream.request(method, self.path[len(PREFIX) :], body or None, headers)
                answer = upstream.getresponse()
                self.send_response(answer.status)
                for name in ("Content-Type", "Retry-After"):
                    if answer.getheader(name):
                        self.send_header(name, str(answer.getheader(name)))
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                while chunk := answer.read1(65536):
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            finally:
                upstream.close()

        def do_POST(self) -> None:
            self._relay("POST")

        def do_GET(self) -> None:
            self._relay("GET")

    return Handler
