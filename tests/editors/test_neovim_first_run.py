"""Neovim that explains itself (real headless Neovim 0.11, the module as shipped).

- The server's executable is missing (what the README's config meets before the install):
  the user is told once, with the fix, and `:checkhealth responses_lsp` says the same.
- `:checkhealth responses_lsp` with a working server reports the executable, its version,
  the endpoint, that a key is set (never the key) and the last error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from responses_lsp import __version__
from tests.fakes.processes import run_group
from tests.fakes.samples import SOURCE
from tests.loopback import LoopbackServer, Reply

pytestmark = pytest.mark.editors

REPO = Path(__file__).resolve().parents[2]
NVIM = Path(sys.executable).parent / "nvim"
SECRET = "sk-first-run-secret-0123456789abcdef"
TIMEOUT = 60

PRELUDE = """
local out = assert(vim.env.RLSP_OUT)
local lines = {}
local function log(s) table.insert(lines, s) end
local function finish(code)
  vim.fn.writefile(lines, out)
  for _, c in ipairs(vim.lsp.get_clients()) do c:stop() end
  vim.wait(3000, function() return #vim.lsp.get_clients() == 0 end, 20)
  vim.cmd(code == 0 and 'qall!' or ('cquit ' .. code))
end
local ok, err = xpcall(function()
vim.cmd('filetype on')
vim.opt.rtp:append(vim.env.RLSP_REPO .. '/editors/nvim')
local notes = {}
vim.notify = function(msg, level) table.insert(notes, { msg = msg, level = level }) end
local function health()
  vim.cmd('checkhealth responses_lsp')
  local text = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  vim.cmd('bwipeout!')
  return text
end
"""
POSTLUDE = """
end, debug.traceback)
if not ok then log('ERROR ' .. tostring(err)) finish(2) else finish(0) end
"""

MISSING = """
require('responses_lsp').setup()
vim.lsp.config('responses_lsp', { cmd = { 'responses-lsp-not-installed' } })
vim.lsp.enable('responses_lsp')
vim.cmd('edit ' .. vim.env.RLSP_CASE .. '/a.py')
vim.cmd('edit ' .. vim.env.RLSP_CASE .. '/b.py')
vim.wait(300)
log('clients=' .. #vim.lsp.get_clients())
for _, n in ipairs(notes) do log('NOTE ' .. n.level .. ' ' .. n.msg) end
log('HEALTH')
vim.list_extend(lines, health())
"""

HEALTHY = """
require('responses_lsp').setup()
vim.lsp.config('responses_lsp', { cmd = { vim.env.RLSP_PYTHON, '-m', 'responses_lsp' } })
vim.lsp.enable('responses_lsp')
vim.cmd('edit ' .. vim.env.RLSP_CASE .. '/app.py')
local attached = function() return #vim.lsp.get_clients({ bufnr = 0 }) > 0 end
assert(vim.wait(20000, attached, 20), 'no client')
local done = false
vim.api.nvim_create_autocmd('User', { pattern = 'ResponsesJobDone', callback = function(ev)
  done = true
  log('outcome=' .. tostring(ev.data.result and ev.data.result.outcome))
end })
require('responses_lsp').action('refactor-to-async', { 4, 7 })
assert(vim.wait(20000, function() return done end, 20), 'the job did not end')
log('HEALTH')
vim.list_extend(lines, health())
"""


@pytest.fixture(scope="module")
def nvim() -> Path:
    if not NVIM.exists():
        pytest.skip(f"no nvim next to {sys.executable}: pip install -e '.[editors]'")
    return NVIM


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


def run_nvim(nvim: Path, body: str, root: Path, api: LoopbackServer) -> tuple[int, str, str]:
    script = root / "scenario.lua"
    script.write_text(PRELUDE + body + POSTLUDE, encoding="utf-8")
    home = root / ".home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "NVIM", "XDG_"))}
    env.update(
        OPENAI_BASE_URL=api.base_url,
        OPENAI_API_KEY=SECRET,
        PYTHONPATH=str(REPO / "server"),
        RESPONSES_LSP_LOG="warning",
        RESPONSES_LSP_STATE_DIR=str(home / "state-rlsp"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        RLSP_REPO=str(REPO),
        RLSP_PYTHON=sys.executable,
        RLSP_CASE=str(root),
        RLSP_OUT=str(root / "out.txt"),
    )
    command = [str(nvim), "--headless", "-u", "NONE", "-i", "NONE", "-c", f"luafile {script}"]
    code, output = run_group(command, cwd=root, env=env, timeout=TIMEOUT)
    out = root / "out.txt"
    return code, out.read_text(encoding="utf-8") if out.exists() else "", output


def test_a_missing_executable_is_told_once_with_the_fix(
    nvim: Path, tmp_path: Path, loopback: LoopbackServer
) -> None:
    (tmp_path / "a.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "b.py").write_text("y = 2\n", encoding="utf-8")

    code, out, output = run_nvim(nvim, MISSING, tmp_path, loopback)

    assert code == 0, output + out
    notes = [line for line in out.splitlines() if line.startswith("NOTE ")]
    assert len(notes) == 1, out  # two Python buffers, told once
    assert "NOTE 3 responses-lsp: `responses-lsp-not-installed` is not executable" in notes[0]
    assert "uv tool install ~/responses-lsp" in notes[0]
    assert "clients=0" in out
    health = out.split("HEALTH", 1)[1]
    assert "`responses-lsp-not-installed` is not executable" in health
    assert "ERROR" in health and "uv tool install ~/responses-lsp" in health
    assert "last error" in health and "not executable" in health.split("last error", 1)[1]


def test_checkhealth_reports_version_endpoint_key_presence_and_last_error(
    nvim: Path, tmp_path: Path, loopback: LoopbackServer
) -> None:
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "app.py").write_text(SOURCE, encoding="utf-8")
    loopback.default = Reply.error(403, message="this key has no access to the model")

    code, out, output = run_nvim(nvim, HEALTHY, tmp_path, loopback)

    assert code == 0, output + out
    assert "outcome=error" in out
    health = out.split("HEALTH", 1)[1]
    assert f"executable: {sys.executable}" in health
    assert f"version: responses-lsp {__version__}" in health
    assert f"endpoint: {loopback.base_url}/v1/responses (from $OPENAI_BASE_URL)" in health
    assert f"API key: set in $OPENAI_API_KEY ({len(SECRET)} characters)" in health
    assert "last error (" in health and "no access" in health.split("last error", 1)[1], health
    assert SECRET not in out + output
    assert SECRET[-8:] not in health
