"""A client we did not write: `tests/editors/node/client.js` (vscode-languageserver-protocol from
npm) drives the real server against a scripted loopback Responses endpoint, behaving like a
strict editor (utf-16 columns, stale versions refused). It checks the happy path, cancel through
`window/workDoneProgress/cancel`, and typing above the region while it streams; it prints PASS
and exits 0 only when every check holds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.processes import run_group
from tests.loopback import LoopbackServer, Reply

pytestmark = pytest.mark.editors

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).resolve().parent / "node"
NPM_TIMEOUT = 180
RUN_TIMEOUT = 60

SOURCE = '''"""Files and URLs — café ☕, 漢字, 😀."""
import requests


def fetch(url):
    """Fetch a URL 😀."""
    response = requests.get(url)
    return response.text


def load(path):
    with open(path, encoding="utf-8") as f:  # é 漢 😀
        return f.read()


def save(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)  # 😀😀
'''


def block(name: str) -> str:
    start = SOURCE.index(f"def {name}")
    end = SOURCE.find("\n\n\ndef ", start)
    return SOURCE[start : end + 1 if end >= 0 else len(SOURCE)]


ASYNC_FETCH = '''async def fetch(url):
    """Fetch a URL 😀 without blocking."""
    async with httpx.AsyncClient() as client:
        response = await client.get(url)  # 漢 é
    return response.text
'''
ASYNC_LOAD = """async def load(path):
    async with aiofiles.open(path, encoding="utf-8") as f:  # é 漢 😀
        return await f.read()
"""
ASYNC_SAVE = """async def save(path, text):
    async with aiofiles.open(path, "w", encoding="utf-8") as f:
        await f.write(text)  # 😀😀 done
"""
TYPED = ["#", " ", "n", "o", "t", "e", " ", "😀", " ", "é", "\n"]

AFTER_FETCH = SOURCE.replace(block("fetch"), ASYNC_FETCH)
AFTER_SAVE = AFTER_FETCH.replace(block("save"), ASYNC_SAVE)
FIRST_LINE_END = AFTER_SAVE.index("\n") + 1
AFTER_TYPING = AFTER_SAVE[:FIRST_LINE_END] + "".join(TYPED) + AFTER_SAVE[FIRST_LINE_END:]


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    return node


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """`npm ci` (or `npm install` without a lock) into tests/editors/node when it is missing."""
    _node()
    modules = NODE_DIR / "node_modules"
    if not (modules / "vscode-languageserver-protocol").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed")
        verb = "ci" if (NODE_DIR / "package-lock.json").exists() else "install"
        done = subprocess.run(
            [npm, verb, "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
        )
        assert done.returncode == 0, f"npm {verb} failed:\n{done.stdout}\n{done.stderr}"
    return modules


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


def test_node_protocol_client_happy_path_cancel_and_typing(
    node_modules: Path, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(
        Reply.text(ASYNC_FETCH, chunks=3, pace_tps=200),  # 1. streamed refactor
        Reply.text(ASYNC_LOAD, chunks=2, pace_tps=25),  # 2. cancelled mid-stream
        Reply.text(ASYNC_SAVE, chunks=2, pace_tps=60),  # 3. the user types meanwhile
    )
    (tmp_path / "mod.py").write_text(SOURCE, encoding="utf-8")
    case = {
        "root": str(tmp_path),
        "file": "mod.py",
        "source": SOURCE,
        "titles": [
            "Refactor to async (AI)",
            "Add type hints (AI)",
            "Add docstrings (AI)",
            "Edit with instruction… (AI)",
            "Refactor to async, with its callers (AI)",
            "Edit across files with instruction… (AI)",
        ],
        "happy": {"selection": block("fetch"), "expected": AFTER_FETCH},
        "cancel": {"cursor": "with open(path, encoding"},
        "typing": {"cursor": "f.write(text)", "typed": TYPED, "expected": AFTER_TYPING},
    }
    case_file = tmp_path / "case.json"
    case_file.write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(
        OPENAI_BASE_URL=loopback.base_url,
        OPENAI_API_KEY="sk-dummy-node-test",
        PYTHONPATH=str(REPO / "server"),
        RESPONSES_LSP_LOG="warning",
        RESPONSES_LSP_STATE_DIR=str(tmp_path / "state"),
        RLSP_SERVER=json.dumps([sys.executable, "-m", "responses_lsp"]),
        RLSP_CASE=str(case_file),
    )
    code, text = run_group(
        [_node(), str(NODE_DIR / "client.js")], cwd=NODE_DIR, env=env, timeout=RUN_TIMEOUT
    )
    assert code == 0, f"node client exited {code}:\n{text}"
    assert "PASS" in text, text
    assert len(loopback.requests) == 3
