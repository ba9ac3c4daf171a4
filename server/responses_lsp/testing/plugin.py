"""The pytest plugin (entry point `pytest11`): the `responses_lsp` fixture.

    async def test_mine(responses_lsp):
        async with responses_lsp("vscode", settings={...}) as lsp:
            ...

It is `responses_lsp.testing.open_session` with the test's `tmp_path` as the workspace
folder. Imports nothing heavy until used, so it costs nothing in other test suites.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def responses_lsp(tmp_path: Path) -> Callable[..., Any]:
    """`responses_lsp(profile, **options)`: an async context manager yielding a Session."""
    from responses_lsp.testing import open_session

    def start(profile: str = "vscode", **options: Any) -> Any:
        return open_session(profile, tmp_path, **options)

    return start
