"""The command line: `responses-lsp` serves LSP on stdio (or TCP); subcommands run jobs.

    responses-lsp [--tcp HOST:PORT] [--log-level LEVEL]     the language server
    responses-lsp demo [--real] [--speed TOKENS_PER_S]      watch a scripted refactor stream
    responses-lsp apply --action ID FILE[:START[-END]]      one action, no editor
    responses-lsp check [--base-url URL] [--model M]        what would be used; one call

The subcommands live in `commands/` (one module each).

Only the protocol is ever written to stdout while serving.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from responses_lsp import __version__


def _serve(args: argparse.Namespace) -> int:
    from responses_lsp.logging_setup import setup_stderr_logging

    setup_stderr_logging(args.log_level)
    from responses_lsp.language_server import build_server

    server = build_server()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.start_io()
    return 0


def build_parser(*, with_commands: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="responses-lsp",
        description="AI code actions over the OpenAI Responses API, as a language server.",
    )
    parser.add_argument("--version", action="version", version=f"responses-lsp {__version__}")
    parser.add_argument("--tcp", metavar="HOST:PORT", help="serve over TCP instead of stdio")
    parser.add_argument(
        "--stdio", action="store_true", help="serve over stdio (the default; accepted for clients)"
    )
    parser.add_argument(
        "--log-level",
        choices=["error", "warning", "info", "debug"],
        help="stderr log level (default: $RESPONSES_LSP_LOG or warning)",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the language server (the default)")
    if with_commands:
        from responses_lsp import commands

        commands.register(sub)
    return parser


SUBCOMMANDS = ("demo", "apply", "check")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # An editor starting the server must not pay for the subcommands' imports.
    wants_commands = any(a in SUBCOMMANDS or a in ("-h", "--help") for a in arguments)
    parser = build_parser(with_commands=wants_commands)
    args = parser.parse_args(arguments)
    handler = getattr(args, "handler", None)
    if handler is not None:
        return int(handler(args))
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
