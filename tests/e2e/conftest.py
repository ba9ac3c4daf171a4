"""End-to-end fixtures: the real server over stdio, a real loopback Responses endpoint, and
a fake editor (VS Code or Neovim behaviour) driven through pytest-lsp's client.

Every test that uses `session` runs once per client profile; each profile uses the
capabilities pytest-lsp recorded from the real client (VS Code negotiates utf-16 position
encoding, Neovim 0.11 utf-8).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Union

import pytest
from lsprotocol import types as t
from pytest_lsp import LanguageClient, make_test_lsp_client

from responses_lsp.loopback import LoopbackServer
from tests.fakes.lsp_editor import FakeEditor

API_KEY = "sk-test-e2e-0123456789abcdef"
SERVER_DIR = str(Path(__file__).resolve().parents[2] / "server")
RUN = "responses-lsp.run"


def _fix_command_union(client: LanguageClient) -> None:
    """lsprotocol 2025.0.0 parses every CodeAction carrying a `command` as a Command."""
    converter = client.protocol._converter

    def structure(obj: Any, _type: Any) -> Any:
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, t.Command)
        return converter.structure(obj, t.CodeAction)

    converter.register_structure_hook(Union[t.Command, t.CodeAction], structure)  # noqa: UP007


class Session:
    """One server + one fake editor + the loopback endpoint."""

    def __init__(self, client: LanguageClient, editor: FakeEditor, api: LoopbackServer, root: Path):
        self.client = client
        self.editor = editor
        self.api = api
        self.root = root
        self.init_result: t.InitializeResult | None = None

    def uri(self, name: str) -> str:
        return (self.root / name).as_uri()

    def open(self, name: str, text: str, language_id: str = "python") -> str:
        uri = self.uri(name)
        (self.root / name).write_text(text, encoding="utf-8", errors="surrogatepass")
        self.editor.open(uri, text, language_id)
        return uri

    def span(self, uri: str, start: int, end: int | None = None) -> t.Range:
        return t.Range(
            start=self.editor.position(uri, start),
            end=self.editor.position(uri, start if end is None else end),
        )

    async def actions(
        self, uri: str, rng: t.Range, diagnostics: list[t.Diagnostic] | None = None
    ) -> list[t.CodeAction]:
        result = await self.client.text_document_code_action_async(
            t.CodeActionParams(
                text_document=t.TextDocumentIdentifier(uri=uri),
                range=rng,
                context=t.CodeActionContext(diagnostics=diagnostics or []),
            )
        )
        return [a for a in result or [] if isinstance(a, t.CodeAction)]

    async def run(self, uri: str, action: str, rng: t.Range, **extra: Any) -> dict[str, Any]:
        """Pick `action` from the code-action menu and execute it; returns the job result."""
        actions = await self.actions(uri, rng, extra.pop("diagnostics", None))
        chosen = next(
            a for a in actions if a.command and a.command.arguments[0]["action"] == action
        )
        args = dict(chosen.command.arguments[0])
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

    def prompt(self, index: int = -1) -> str:
        """The user message text of a recorded /v1/responses request."""
        body = self.api.requests[index].body or {}
        return "\n".join(
            part.get("text", "")
            for item in body.get("input", [])
            if isinstance(item, dict)
            for part in (item.get("content") if isinstance(item.get("content"), list) else [])
        )

    def messages(self) -> list[str]:
        return [m.message for m in self.client.messages]


@pytest.fixture
def loopback() -> Any:
    with LoopbackServer() as server:
        yield server


@pytest.fixture(params=["vscode", "neovim"])
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def open_session(
    profile: str,
    api: LoopbackServer,
    root: Path,
    *,
    settings: dict[str, Any] | None = None,
    api_key: str | None = API_KEY,
    state_dir: Path | None = None,
    apply_edit: bool = True,
    client_features: dict[str, Any] | None = None,
) -> AsyncIterator[Session]:
    client = make_test_lsp_client()
    _fix_command_union(client)
    editor = FakeEditor(client, profile)
    editor.apply_edit = apply_edit
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["OPENAI_BASE_URL"] = api.base_url
    env["RESPONSES_LSP_LOG"] = "warning"
    env["RESPONSES_LSP_STATE_DIR"] = str(state_dir or root / ".state")
    env["PYTHONPATH"] = SERVER_DIR
    if api_key:
        env["OPENAI_API_KEY"] = api_key
    await client.start_io(sys.executable, "-m", "responses_lsp", env=env)
    session = Session(client, editor, api, root)
    options = {
        "responsesLsp": {"maxRetries": 2, **(settings or {})},
        "clientFeatures": {"jobDone": True} if client_features is None else client_features,
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
        process = client._server
        try:
            if process is None or process.returncode is None:  # a test may have ended it
                await asyncio.wait_for(client.shutdown_session(), 10)
        finally:
            # e.g. a test that failed after its own `shutdown` (a second one gets no answer):
            # never leave the process behind, or client.stop() waits for it forever
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()
            await client.stop()


@pytest.fixture
async def session(profile: str, loopback: LoopbackServer, tmp_path: Path) -> AsyncIterator[Session]:
    async with open_session(profile, loopback, tmp_path) as s:
        yield s
