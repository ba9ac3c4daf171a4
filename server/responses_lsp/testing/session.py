"""One language server + one scripted editor + one scripted Responses endpoint."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from lsprotocol import types as t
from pytest_lsp import LanguageClient, make_test_lsp_client

from responses_lsp.contract import CLIENT_FEATURES, FEATURE_JOB_DONE, RUN
from responses_lsp.loopback import LoopbackServer
from responses_lsp.protocol_fixes import fix_command_union
from responses_lsp.testing.editor import FakeEditor

API_KEY = "sk-test-responses-lsp-0123456789abcdef"
"""The key the server is started with (the loopback endpoint accepts any key)."""


class Session:
    """A running server, the editor talking to it (`editor`) and its endpoint (`api`).

    `open` a file, `run` an action as the user picks it from the code-action menu, then
    assert on `text(uri)` (the buffer), `prompt()` / `request()` (what was sent).
    """

    def __init__(
        self, client: LanguageClient, editor: FakeEditor, api: LoopbackServer, root: Path
    ) -> None:
        self.client = client
        self.editor = editor
        self.api = api
        self.root = root
        self.init_result: t.InitializeResult | None = None

    def uri(self, name: str) -> str:
        return (self.root / name).as_uri()

    def open(self, name: str, text: str, language_id: str = "python") -> str:
        """Write `name` under the workspace folder and open it in the editor; its URI."""
        uri = self.uri(name)
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        self.editor.open(uri, text, language_id)
        return uri

    def text(self, uri: str) -> str:
        """The editor's buffer."""
        return self.editor.text(uri)

    def span(self, uri: str, start: int, end: int | None = None) -> t.Range:
        """The range from character offset `start` to `end` (a cursor when `end` is None)."""
        return t.Range(
            start=self.editor.position(uri, start),
            end=self.editor.position(uri, start if end is None else end),
        )

    async def actions(
        self, uri: str, rng: t.Range, diagnostics: list[t.Diagnostic] | None = None
    ) -> list[t.CodeAction]:
        """The code-action menu for `rng`."""
        result = await self.client.text_document_code_action_async(
            t.CodeActionParams(
                text_document=t.TextDocumentIdentifier(uri=uri),
                range=rng,
                context=t.CodeActionContext(diagnostics=diagnostics or []),
            )
        )
        return [a for a in result or [] if isinstance(a, t.CodeAction)]

    async def titles(self, uri: str, rng: t.Range) -> list[str]:
        return [a.title for a in await self.actions(uri, rng)]

    async def run(self, uri: str, action: str, rng: t.Range, **extra: Any) -> dict[str, Any]:
        """Pick `action` from the code-action menu and execute it; returns the job result
        (`outcome`, `message`, `tokens`, ...) once the job has ended."""
        actions = await self.actions(uri, rng, extra.pop("diagnostics", None))
        offered = [_action_id(a) for a in actions]
        chosen = next((a for a in actions if _action_id(a) == action), None)
        if chosen is None or chosen.command is None or not chosen.command.arguments:
            raise AssertionError(f"{action!r} is not in the menu; offered: {offered}")
        args: dict[str, Any] = dict(chosen.command.arguments[0] or {})
        args.update(extra)
        return await self.run_command(args)

    async def run_command(self, args: dict[str, Any], limit: float = 60.0) -> dict[str, Any]:
        """`responses-lsp.run` (answered at once), then the job's `responsesLsp/jobDone`."""
        answer = await self.execute(RUN, args)
        return await self.editor.job_result(answer, limit)

    def start(self, uri: str, action: str, rng: t.Range, **extra: Any) -> asyncio.Task[Any]:
        return asyncio.ensure_future(self.run(uri, action, rng, **extra))

    async def execute(self, command: str, *args: Any) -> Any:
        return await self.client.workspace_execute_command_async(
            t.ExecuteCommandParams(command=command, arguments=list(args))
        )

    async def wait_for(self, predicate: Callable[[], bool], limit: float = 10.0) -> None:
        """Poll `predicate` until true (the event loop keeps serving messages meanwhile)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError("timed out waiting for a condition")
            await asyncio.sleep(0.005)

    def request(self, index: int = -1) -> dict[str, Any]:
        """The JSON body of a recorded `POST /v1/responses` (the last one by default)."""
        return dict(self.api.requests[index].body or {})

    def prompt(self, index: int = -1) -> str:
        """The user message text of a recorded /v1/responses request."""
        body = self.api.requests[index].body or {}
        items: Any = body.get("input") or []
        texts: list[str] = []
        for item in items:
            content = item.get("content") if isinstance(item, dict) else None
            if isinstance(content, list):
                texts.extend(str(part.get("text", "")) for part in content)
        return "\n".join(texts)

    def messages(self) -> list[str]:
        """The `window/showMessage` texts received so far."""
        return [m.message for m in self.client.messages]


def _action_id(action: t.CodeAction) -> str | None:
    if action.command is None or not action.command.arguments:
        return None
    first = action.command.arguments[0]
    return str(first.get("action")) if isinstance(first, dict) else None


@asynccontextmanager
async def open_session(
    profile: str,
    root: Path,
    *,
    api: LoopbackServer | None = None,
    settings: dict[str, Any] | None = None,
    api_key: str | None = API_KEY,
    state_dir: Path | None = None,
    apply_edit: bool = True,
    client_features: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    command: Sequence[str] | None = None,
) -> AsyncIterator[Session]:
    """Start the server as `profile` ("vscode" or "neovim") would, with `root` as the
    workspace folder, against `api` (a fresh scripted endpoint when None).

    `settings` are the `responsesLsp` settings (e.g. `{"actions": [...]}`); `command`
    replaces `python -m responses_lsp` (e.g. an installed `responses-lsp`); `env` adds
    environment variables.
    """
    async with AsyncExitStack() as stack:
        if api is None:
            api = stack.enter_context(LoopbackServer())
        client = make_test_lsp_client()
        fix_command_union(client)
        editor = FakeEditor(client, profile)
        editor.apply_edit = apply_edit
        environ = {
            k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")
        }
        environ["OPENAI_BASE_URL"] = api.base_url
        environ["RESPONSES_LSP_LOG"] = "warning"
        environ["RESPONSES_LSP_STATE_DIR"] = str(state_dir or root / ".state")
        environ.update(env or {})
        if api_key:
            environ["OPENAI_API_KEY"] = api_key
        argv = list(command or (sys.executable, "-m", "responses_lsp"))
        await client.start_io(argv[0], *argv[1:], env=environ)
        session = Session(client, editor, api, root)
        options = {
            "responsesLsp": {"maxRetries": 2, **(settings or {})},
            CLIENT_FEATURES: {FEATURE_JOB_DONE: True}
            if client_features is None
            else client_features,
        }
        try:
            session.init_result = await client.initialize_session(
                t.InitializeParams(
                    capabilities=editor.capabilities,
                    root_uri=root.as_uri(),
                    workspace_folders=[t.WorkspaceFolder(uri=root.as_uri(), name="ws")],
                    initialization_options=options,
                )
            )
            encoding = session.init_result.capabilities.position_encoding
            editor.encoding = str(getattr(encoding, "value", encoding) or "utf-16")
            yield session
        finally:
            process: Any = client._server
            try:
                if process is None or process.returncode is None:  # a test may have ended it
                    await asyncio.wait_for(client.shutdown_session(), 10)
            finally:
                # e.g. a test that failed after its own `shutdown` (a second one gets no answer):
                # never leave the process behind, or client.stop() waits for it forever
                if process is not None and process.returncode is None:
                    process.kill()
                    await process.wait()
                await client.stop()  # type: ignore[no-untyped-call]
