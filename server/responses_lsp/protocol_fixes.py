"""Client-side fixes for lsprotocol, written once for every LSP client the project runs.

The command line (`cli/lsp_client.py`), the headless test harness (`testing/session.py`) and
the benchmarks all drive the server through pygls' `LanguageClient`; they share this module
so a fix to the protocol types is made in one place.
"""

from __future__ import annotations

from typing import Any, Union

from lsprotocol import types as t
from pygls.client import JsonRPCClient

__all__ = ["fix_command_union"]


def fix_command_union(client: JsonRPCClient) -> None:
    """Parse `textDocument/codeAction` results as the CodeActions they are.

    lsprotocol 2025.0.0 structures the result union `Command | CodeAction` by trying `Command`
    first, and a CodeAction that carries a `command` (every one this server returns) validates
    as a Command: its title survives, its kind, edit and command object are lost. A `Command`
    has a string `command`; a CodeAction's `command` is an object (or absent).
    """
    converter = client.protocol._converter

    def structure(obj: Any, _type: Any) -> t.Command | t.CodeAction:
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, t.Command)
        return converter.structure(obj, t.CodeAction)

    converter.register_structure_hook(Union[t.Command, t.CodeAction], structure)  # noqa: UP007
