"""The command line: `responses-lsp` serves LSP on stdio (or TCP); subcommands run jobs.

    responses-lsp [--tcp HOST:PORT] [--log-level LEVEL]     the language server (`serve`)
    responses-lsp demo [--real] [--speed TOKENS_PER_S]      watch a scripted refactor stream
    responses-lsp apply --action ID FILE[:START[-END]]      one action, no editor
    responses-lsp check [--base-url URL] [--model M]        what would be used; one call

One module per subcommand (`serve`, `demo`, `apply`, `check`), each with
`add_parser(subparsers)` and `run(args) -> int`. This module is the command line's one lazy
boundary: it imports only the standard library, and imports a subcommand's module when that
subcommand is dispatched, so an editor starting the server never loads the other commands
(and `demo` never loads the server). `demo` and `apply` drive the real language server
through a real LSP client (`lsp_client`), down the same path as an editor; `check` calls the
endpoint with the server's own API client.

Only the protocol is ever written to stdout while serving.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from responses_lsp import __version__

SUBCOMMANDS = ("demo", "apply", "check")
"""The subcommands beside serving, in the order `--help` lists them."""
_HELP = ("-h", "--help")


def _command_module(name: str) -> ModuleType:
    """`responses_lsp.cli.<name>`, imported now (the lazy boundary)."""
    return importlib.import_module(f"{__name__}.{name}")


def build_parser(commands: Sequence[str] = SUBCOMMANDS) -> argparse.ArgumentParser:
    """The `responses-lsp` parser with the options of serving and of `commands`."""
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
    for name in commands:
        module = _command_module(name)
        module.add_parser(sub).set_defaults(handler=module.run)
    return parser


def _wanted(arguments: Sequence[str]) -> tuple[str, ...]:
    """The subcommand modules this command line needs: the one it names (the first
    argument that is a subcommand), all of them for a top-level `--help`, else none."""
    for argument in arguments:
        if argument in SUBCOMMANDS:
            return (argument,)
        if argument in _HELP:
            return SUBCOMMANDS
    return ()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_wanted(arguments)).parse_args(arguments)
    handler = getattr(args, "handler", None)
    if handler is None:  # `serve`, or no subcommand: the language server
        handler = _command_module("serve").run
    return int(handler(args))
