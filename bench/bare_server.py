"""The reference for startup, codeAction latency and RSS: a bare pygls 2.x language server.

One code-action feature (four actions with a command each, the shape ours returns; no
document access, no network) and pygls' stock incremental document sync. Nothing else is
imported: this is the floor a pygls server cannot go below.

    python -m bare_server          (cwd = bench/)
"""

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer

server = LanguageServer(
    "bare-server", "0.1", text_document_sync_kind=t.TextDocumentSyncKind.Incremental
)
TITLES = ["Refactor to async", "Add type hints", "Add docstrings", "Edit with instruction…"]


@server.feature(
    t.TEXT_DOCUMENT_CODE_ACTION,
    t.CodeActionOptions(code_action_kinds=[t.CodeActionKind.RefactorRewrite]),
)
def code_action(_ls: LanguageServer, params: t.CodeActionParams) -> list[t.CodeAction]:
    uri, r = params.text_document.uri, params.range
    span = {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }
    return [
        t.CodeAction(
            title=title,
            kind=t.CodeActionKind.RefactorRewrite,
            command=t.Command(
                title=title,
                command="bare.run",
                arguments=[{"action": i, "uri": uri, "range": span}],
            ),
        )
        for i, title in enumerate(TITLES)
    ]


if __name__ == "__main__":
    server.start_io()
