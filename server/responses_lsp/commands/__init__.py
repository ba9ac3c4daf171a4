"""The subcommands beside serving: `demo`, `apply` and `check`.

Each command is one module with `add_parser(subparsers)` (its options and help) and
`run(args) -> int` (the exit code, see `console`). `demo` and `apply` drive the real
language server through a real LSP client (`lsp_client`), so the command line goes down
the same path as an editor; `check` calls the endpoint with the server's own API client.

`cli.py` is on the language server's startup path, so these modules import only the
standard library at import time; everything heavy is imported inside `run`.
"""

from __future__ import annotations

from typing import Any

from responses_lsp.commands import apply as apply
from responses_lsp.commands import check as check
from responses_lsp.commands import demo as demo


def register(subparsers: Any) -> None:
    """Add `demo`, `apply` and `check` to the `responses-lsp` parser's subparsers."""
    for module in (demo, apply, check):
        parser = module.add_parser(subparsers)
        parser.set_defaults(handler=module.run)
