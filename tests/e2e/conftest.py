"""End-to-end fixtures: the real server over stdio, a real loopback Responses endpoint, and
a fake editor (VS Code or Neovim behaviour) driven through pytest-lsp's client.

The harness is the one shipped to users, `responses_lsp.testing` (one harness, not two);
these fixtures only fix the project's defaults (the server run from this source tree).

Every test that uses `session` runs once per client profile; each profile uses the
capabilities pytest-lsp recorded from the real client (VS Code negotiates utf-16 position
encoding, Neovim 0.11 utf-8).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from responses_lsp import testing
from responses_lsp.testing import RUN, Session
from tests.loopback import LoopbackServer

__all__ = ["API_KEY", "RUN", "SERVER_DIR", "Session", "open_session", "spawn_server"]

API_KEY = "sk-test-e2e-0123456789abcdef"
SERVER_DIR = str(Path(__file__).resolve().parents[2] / "server")


async def spawn_server(
    base_url: str, key: str, state: Path, *, stderr: int, **env: str
) -> asyncio.subprocess.Process:
    """`python -m responses_lsp` from this tree on pipes, talking to `base_url` with `key`
    (no other OPENAI_* variable of the test's environment), its state under `state`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    environ.update(
        OPENAI_API_KEY=key,
        OPENAI_BASE_URL=base_url,
        RESPONSES_LSP_STATE_DIR=str(state),
        PYTHONPATH=SERVER_DIR,
        **env,
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "responses_lsp",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
        env=environ,
    )


@pytest.fixture
def loopback() -> Any:
    with LoopbackServer() as server:
        yield server


@pytest.fixture(params=["vscode", "neovim"])
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def open_session(
    profile: str,
    api: LoopbackServer,
    root: Path,
    *,
    settings: dict[str, Any] | None = None,
    api_key: str | None = API_KEY,
    state_dir: Path | None = None,
    apply_edit: bool = True,
    client_features: dict[str, Any] | None = None,
) -> AbstractAsyncContextManager[Session]:
    """`responses_lsp.testing.open_session`, with the server run from this source tree."""
    return testing.open_session(
        profile,
        root,
        api=api,
        settings=settings,
        api_key=api_key,
        state_dir=state_dir,
        apply_edit=apply_edit,
        client_features=client_features,
        env={"PYTHONPATH": SERVER_DIR},
    )


@pytest.fixture
async def session(profile: str, loopback: LoopbackServer, tmp_path: Path) -> AsyncIterator[Session]:
    async with open_session(profile, loopback, tmp_path) as s:
        yield s
