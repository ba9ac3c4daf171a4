"""`responses-lsp [serve]`: the language server on stdio, or on TCP with `--tcp HOST:PORT`.

What an editor starts. Its options live on the top-level parser (`cli/__init__.py`), so
`responses-lsp --tcp 127.0.0.1:2087` and `responses-lsp serve --tcp ...` are the same.
"""

from __future__ import annotations

import argparse

from responses_lsp.language_server import build_server
from responses_lsp.logging_setup import setup_stderr_logging
from responses_lsp.stdio import serve_stdio


def run(args: argparse.Namespace) -> int:
    setup_stderr_logging(args.log_level)
    server = build_server()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        serve_stdio(server)
    return 0
