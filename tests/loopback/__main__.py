"""Standalone loopback server: `python -m tests.loopback [--script FILE.json] ...` (from the
repository root, with `server/` on PYTHONPATH).

Prints exactly one line, `LOOPBACK_URL=http://HOST:PORT`, then serves until SIGTERM/SIGINT (or stdin
EOF with `--exit-on-stdin-eof`). The script file is a JSON list of reply specs
(`{"kind": "text", "text": "...", "pace_tps": 200}`, see `Reply.from_spec`) or an object
`{"responses": [...], "compact": [...], "default": {...}, "expected_key": "...", "models": [...]}`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from responses_lsp.loopback import RecordedRequest

from .faults import Reply
from .server import LoopbackServer


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.loopback", description="Scripted Responses API server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--script", type=Path, help="JSON reply specs for POST /v1/responses")
    parser.add_argument("--default-text", help="text of the reply used when the script is empty")
    parser.add_argument("--pace", type=float, help="deltas per second of the default reply")
    parser.add_argument("--fence", help="fence language for the default reply (e.g. python)")
    parser.add_argument(
        "--expected-key",
        default=os.environ.get("LOOPBACK_EXPECTED_KEY"),
        help="reject other bearer keys with 401 (default: $LOOPBACK_EXPECTED_KEY)",
    )
    parser.add_argument("--record", type=Path, help="append each request as a JSON line")
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    return parser.parse_args(argv)


def _load_script(path: Path, server: LoopbackServer) -> None:
    spec: Any = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(spec, list):
        spec = {"responses": spec}
    if not isinstance(spec, dict):
        raise SystemExit(f"{path}: expected a list of reply specs or an object")
    server.script(*(Reply.from_spec(item) for item in spec.get("responses", [])))
    server.script_compact(*(Reply.from_spec(item) for item in spec.get("compact", [])))
    if "default" in spec:
        server.default = Reply.from_spec(spec["default"])
    if "expected_key" in spec:
        server.expected_key = spec["expected_key"]
    if "models" in spec:
        server.models = [str(model) for model in spec["models"]]


def _recorder(path: Path) -> Callable[[RecordedRequest], None]:
    lock = threading.Lock()

    def record(request: RecordedRequest) -> None:
        line = json.dumps(request.to_json(), ensure_ascii=False)
        with lock, path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")

    return record


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    server = LoopbackServer(args.host, args.port, expected_key=args.expected_key)
    if args.default_text is not None or args.pace is not None or args.fence is not None:
        text = args.default_text if args.default_text is not None else "ok"
        server.default = Reply.text(text, pace_tps=args.pace, fence=args.fence)
    if args.script is not None:
        _load_script(args.script, server)
    if args.record is not None:
        server.on_request_done = _recorder(args.record)

    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.exit_on_stdin_eof:
        stdin_fd = sys.stdin.fileno()

        def watch_stdin() -> None:
            try:
                while os.read(stdin_fd, 65536):
                    pass
            finally:
                done.set()

        threading.Thread(target=watch_stdin, name="stdin-eof", daemon=True).start()

    with server:
        sys.stdout.write(f"LOOPBACK_URL={server.base_url}\n")
        sys.stdout.flush()
        while not done.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
