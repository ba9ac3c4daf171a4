"""A newcomer's first minutes: the CLI's small edges and `demo --serve` in an editor.

`demo --serve` runs as a real subprocess; the editor that uses the settings it prints is
the shipped headless harness (`responses_lsp.testing`) in both client profiles.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from responses_lsp.cli.apply import not_offered
from responses_lsp.cli.demo import DEMO_KEY
from responses_lsp.cli.demo_serve import scripted_rewrite
from responses_lsp.testing import open_session
from tests.cli.test_cli import KEY, run_cli
from tests.fakes.samples import FETCH, SOURCE
from tests.loopback import LoopbackServer, Reply

SERVER_DIR = str(Path(__file__).resolve().parents[2] / "server")


@pytest.fixture
def api() -> Iterator[LoopbackServer]:
    with LoopbackServer(expected_key=KEY) as server:
        yield server


@pytest.fixture
def app(tmp_path: Path) -> Path:
    path = tmp_path / "app.py"
    path.write_text(SOURCE, encoding="utf-8")
    return path


# ----------------------------------------------------------------- CLI edges


def test_a_mistyped_line_range_is_a_usage_error_not_a_file_name(
    api: LoopbackServer, app: Path, tmp_path: Path
) -> None:
    result = run_cli("apply", "--action", "refactor-to-async", "app.py:abc", cwd=tmp_path, api=api)

    assert result.returncode == 2
    assert "bad line range 'abc' in 'app.py:abc'" in result.stderr
    assert "cannot read" not in result.stderr
    assert api.requests == []


def test_a_file_whose_name_has_a_colon_is_still_read(api: LoopbackServer, tmp_path: Path) -> None:
    (tmp_path / "odd:name.py").write_text(SOURCE, encoding="utf-8")
    api.default = Reply.text(SOURCE)  # unchanged: exit 1, but the file was read and sent

    result = run_cli("apply", "--action", "add-docstrings", "odd:name.py", cwd=tmp_path, api=api)

    assert result.returncode == 1, result.stderr
    assert len(api.requests) == 1


def test_a_mistyped_action_gets_a_did_you_mean(
    api: LoopbackServer, app: Path, tmp_path: Path
) -> None:
    result = run_cli("apply", "--action", "refactor-to-asnyc", "app.py:5", cwd=tmp_path, api=api)

    assert result.returncode == 2
    assert "'refactor-to-asnyc' is not offered" in result.stderr
    assert "did you mean --action refactor-to-async?" in result.stderr
    assert api.requests == []


def test_did_you_mean_only_when_something_is_close() -> None:
    offered = ["refactor-to-async", "add-type-hints", "add-docstrings", "edit-with-instruction"]
    assert "did you mean --action add-type-hints?" in str(
        getattr(not_offered("add-typehints", offered, "python"), "hint", "")
    )
    assert "did you mean" not in str(not_offered("make-it-rust", offered, "python").hint)
    fix = not_offered("fix-diagnostics", offered, "python")
    assert "needs --diagnostic" in str(getattr(fix, "hint", ""))


def test_one_token_is_not_one_tokens(api: LoopbackServer, app: Path, tmp_path: Path) -> None:
    # a one-delta reply: the server's own "done" message and the CLI summary say "1 token"
    api.default = Reply.text(SOURCE.replace("def fetch", "async def fetch"), chunks=10**6)
    result = run_cli("apply", "--action", "refactor-to-async", "app.py:5", cwd=tmp_path, api=api)

    assert result.returncode == 0, result.stderr
    assert re.search(r"\b1 token in\b", result.stderr), result.stderr
    assert "1 tokens" not in result.stdout + result.stderr


async def test_the_server_says_1_token(tmp_path: Path) -> None:
    async with open_session("neovim", tmp_path, env={"PYTHONPATH": SERVER_DIR}) as lsp:
        lsp.api.default = Reply.text(FETCH.replace("def fetch", "async def fetch"), chunks=10**6)
        uri = lsp.open("app.py", SOURCE)
        start = SOURCE.index("def fetch")
        result = await lsp.run(uri, "refactor-to-async", lsp.span(uri, start, start + len(FETCH)))

    assert result["outcome"] == "applied"
    assert result["tokens"] == 1
    assert result["message"] == "done: 1 token; checked"  # and it parses


# ----------------------------------------------------------------- demo --serve


def test_the_demo_model_rewrites_the_selection_as_asked() -> None:
    prompt = "Refactor to async.\n<selection>\ndef f():\n    time.sleep(1)\n</selection>\n"
    assert scripted_rewrite(prompt) == "async def f():\n    await asyncio.sleep(1)\n"
    other = "Add docstrings.\n<selection>\n    def f():\n        pass\n</selection>\n"
    assert scripted_rewrite(other) == (
        "    # edited by the responses-lsp demo (a scripted reply, not a model)\n"
        "    def f():\n        pass\n"
    )
    assert scripted_rewrite("no selection here") is None


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """`responses-lsp demo --serve --port 0`: (its base URL, the lines it printed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RESPONSES_LSP"))}
    env["PYTHONPATH"] = SERVER_DIR
    process = subprocess.Popen(
        [sys.executable, "-m", "responses_lsp", "demo", "--serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for _ in range(20):  # bounded: the banner is about ten lines
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("Then select"):
                break
        found = re.search(r"on (http://127\.0\.0\.1:\d+) ", lines[0])
        assert found, lines
        yield found.group(1), lines
    finally:
        process.terminate()
        assert process.wait(10) == 0


@pytest.mark.parametrize("profile", ["vscode", "neovim"])
async def test_demo_serve_drives_an_editor_with_the_settings_it_prints(
    demo_server: tuple[str, list[str]], profile: str, tmp_path: Path
) -> None:
    base_url, lines = demo_server
    settings_line = next(line.strip() for line in lines if line.strip().startswith("{"))
    settings = json.loads(settings_line)["responsesLsp"]
    assert settings == {"baseUrl": base_url, "apiKey": DEMO_KEY}
    assert f"OPENAI_BASE_URL={base_url} OPENAI_API_KEY={DEMO_KEY}" in "\n".join(lines)

    async with open_session(
        profile, tmp_path, settings=settings, api_key=None, env={"PYTHONPATH": SERVER_DIR}
    ) as lsp:
        uri = lsp.open("app.py", SOURCE)
        start = SOURCE.index("def fetch")
        rng = lsp.span(uri, start, start + len(FETCH))
        assert "Refactor to async (AI)" in await lsp.titles(uri, rng)
        result = await lsp.run(uri, "refactor-to-async", rng)
        assert lsp.api.requests == []  # the harness' own endpoint was not the one asked

        assert result["outcome"] == "applied", result
        assert lsp.text(uri) == SOURCE.replace("def fetch", "async def fetch")
