"""A fresh machine, as the README tells a newcomer: the install block run verbatim in a
throwaway HOME, then `responses-lsp --help`, `responses-lsp demo`, and Neovim configured
with the README's Neovim block verbatim, listing the actions.

Nothing from the developer's environment is used but `uv` and `nvim` (both from PyPI, in
the project's .venv) and the system's Python: PATH is the system's plus ~/.local/bin.
The `git clone` line is replaced by a copy of this working tree (no network but PyPI).
Slow (uv downloads the server's dependencies): its own tier, `make test-install`, which
`make test` runs; skipped in a plain `pytest` run unless RESPONSES_LSP_TEST_INSTALL=1.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from responses_lsp.loopback import LoopbackServer
from tests.fakes.processes import run_group

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
VENV_BIN = Path(sys.executable).parent
TITLES = [
    "Refactor to async (AI)",
    "Add type hints (AI)",
    "Add docstrings (AI)",
    "Edit with instruction… (AI)",
    "Refactor to async, with its callers (AI)",
    "Edit across files with instruction… (AI)",
]

NETWORK_SETTINGS = {
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_NATIVE_TLS",
}

pytestmark = pytest.mark.skipif(
    os.environ.get("RESPONSES_LSP_TEST_INSTALL") != "1",
    reason="the install tier: `make test-install` (RESPONSES_LSP_TEST_INSTALL=1)",
)

DRIVE = """
local out = {}
local ok, err = pcall(function()
  vim.cmd('edit ' .. vim.env.RLSP_CASE .. '/app.py')
  local attached = function() return #vim.lsp.get_clients({ bufnr = 0 }) > 0 end
  assert(vim.wait(30000, attached, 50), 'no responses-lsp client attached to app.py')
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(0) },
    range = { start = { line = 0, character = 0 }, ['end'] = { line = 2, character = 0 } },
    context = { diagnostics = {} },
  }
  local replies = vim.lsp.buf_request_sync(0, 'textDocument/codeAction', params, 20000) or {}
  for _, reply in pairs(replies) do
    for _, action in ipairs(reply.result or {}) do
      table.insert(out, 'TITLE ' .. action.title)
    end
  end
end)
if not ok then table.insert(out, 'ERROR ' .. tostring(err)) end
vim.fn.writefile(out, vim.env.RLSP_OUT)
for _, c in ipairs(vim.lsp.get_clients()) do c:stop() end
vim.wait(3000, function() return #vim.lsp.get_clients() == 0 end, 20)
vim.cmd(ok and 'qall!' or 'cquit 2')
"""


def section(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"^## {re.escape(name)}\n(.*?)(?=^## )", text, re.DOTALL | re.MULTILINE)
    assert found, f"README.md has no '## {name}' section"
    return found.group(1)


def first_block(text: str, language: str) -> str:
    found = re.search(rf"```{language}\n(.*?)```", text, re.DOTALL)
    assert found, f"no {language} block"
    return found.group(1)


def copy_clone(dest: Path) -> None:
    """What `git clone` gives: the tracked files (as they are in this working tree)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def test_the_readme_install_then_demo_then_neovim(tmp_path: Path) -> None:
    home = tmp_path / "home"
    tools = tmp_path / "tools"  # only uv and nvim from the developer's machine
    home.mkdir()
    tools.mkdir()
    for tool in ("uv", "nvim"):
        assert (VENV_BIN / tool).exists(), f"{tool} missing: pip install -e '.[dev]'"
        (tools / tool).symlink_to(VENV_BIN / tool)
    env = {
        "HOME": str(home),
        "PATH": f"{home / '.local/bin'}:{tools}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "UV_PYTHON_DOWNLOADS": "never",  # the system's Python; PyPI is the only network
        "TERM": "dumb",
    }
    for name, value in os.environ.items():  # the machine's network settings, as a user has them
        if name.upper() in NETWORK_SETTINGS:
            env[name] = value

    # 1. the install block, verbatim (the clone line: a copy of this tree)
    install = [line for line in first_block(section("Install"), "sh").splitlines() if line]
    assert install[0].startswith("git clone ") and install[0].endswith(" ~/responses-lsp")
    copy_clone(home / "responses-lsp")
    for line in install[1:]:
        done = subprocess.run(
            ["bash", "-c", line], cwd=home, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    assert (home / ".local/bin/responses-lsp").exists()

    # 2. the command works from PATH
    helped = subprocess.run(
        ["bash", "-c", "responses-lsp --help"], env=env, capture_output=True, text=True, timeout=60
    )
    assert helped.returncode == 0, helped.stderr
    assert "demo" in helped.stdout and "apply" in helped.stdout

    demo = subprocess.run(
        ["bash", "-c", "responses-lsp demo --speed 4000"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "applied in" in demo.stdout
    assert "+async def report(" in demo.stdout

    # 3. Neovim with the README's block as init.lua, verbatim
    init = home / ".config/nvim/init.lua"
    init.parent.mkdir(parents=True)
    init.write_text(first_block(section("Neovim"), "lua"), encoding="utf-8")
    case = tmp_path / "project"
    case.mkdir()
    (case / "pyproject.toml").write_text("", encoding="utf-8")
    (case / "app.py").write_text("def f(x):\n    return x\n", encoding="utf-8")
    (tmp_path / "drive.lua").write_text(DRIVE, encoding="utf-8")
    with LoopbackServer() as api:
        nvim_env = dict(
            env,
            OPENAI_BASE_URL=api.base_url,
            OPENAI_API_KEY="sk-fresh-machine-test",
            RLSP_CASE=str(case),
            RLSP_OUT=str(tmp_path / "out.txt"),
        )
        code, output = run_group(
            ["nvim", "--headless", "-i", "NONE", "-c", f"luafile {tmp_path / 'drive.lua'}"],
            cwd=case,
            env=dict(nvim_env, PATH=env["PATH"]),
            timeout=90,
        )
    out = (tmp_path / "out.txt").read_text(encoding="utf-8") if code != -1 else ""
    assert code == 0, output + out
    titles = [line[len("TITLE ") :] for line in out.splitlines() if line.startswith("TITLE ")]
    assert titles == TITLES, out
