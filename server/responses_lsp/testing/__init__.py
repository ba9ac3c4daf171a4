"""Test your actions headless: the real server, a scripted editor, a scripted endpoint.

    from responses_lsp.testing import Reply, open_session

    async with open_session("neovim", tmp_path, settings={"actions": [MY_ACTION]}) as lsp:
        lsp.api.script(Reply.text("new code\\n"))       # what the "model" answers
        uri = lsp.open("app.py", "old code\\n")
        result = await lsp.run(uri, "my-action", lsp.span(uri, 0, 9))
        assert lsp.prompt() ...                         # what was sent
        assert lsp.text(uri) == "new code\\n"            # what it did to the buffer

The editor behaves like the real client of its profile (`"vscode"`: utf-16, rejects
stale versioned edits; `"neovim"`: utf-8, debounced didChange, skips stale edits) with
the capabilities pytest-lsp recorded from it. With the pytest plugin (installed with the
package) the fixture `responses_lsp` is `open_session` with `tmp_path` as the root.
Needs the `testing` extra (pytest, pytest-asyncio, pytest-lsp).
"""

from responses_lsp.contract import RUN
from responses_lsp.loopback import LoopbackServer, Reply
from responses_lsp.testing.editor import PROFILES, FakeEditor
from responses_lsp.testing.session import API_KEY, Session, open_session

__all__ = [
    "API_KEY",
    "PROFILES",
    "RUN",
    "FakeEditor",
    "LoopbackServer",
    "Reply",
    "Session",
    "open_session",
]
