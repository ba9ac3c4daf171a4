"""Hostile workspaces: special files, regex and glob bombs, huge trees, odd .gitignore rules.

Every tool call must end quickly with an answer for the model — a result, or an "error: ..."
that says what bound was hit — and never block the thread it runs in. Each scenario runs the
call in a watchdog thread (`within`) so a regression fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from responses_lsp.tools import budget as budget_module
from responses_lsp.tools.budget import Budget, BudgetExceeded, run_bounded, run_off_loop
from responses_lsp.tools.changes import ChangeSet
from responses_lsp.tools.definitions import run_tool
from responses_lsp.tools.errors import ToolError
from responses_lsp.tools.workspace import WorkspaceFiles

T = TypeVar("T")
BOMB_LINE = "a" * 40 + "!"  # (a+)+$ backtracks 2**40 times on it in Python's re


def within(seconds: float, fn: Callable[[], T]) -> T:
    """`fn()` run in a watchdog thread: the test fails if it takes longer than `seconds`."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s (blocked?)"
    box["elapsed"] = time.monotonic() - started
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def main():\n    return 1\n", encoding="utf-8")
    os.mkfifo(root / "src" / "pipe.py")
    yield root
    # a reader stuck in open() on today's code is released by a writer
    try:
        fd = os.open(root / "src" / "pipe.py", os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
    except OSError:
        pass


def test_read_file_refuses_a_fifo_at_once(ws: Path) -> None:
    files = WorkspaceFiles([ws])
    output = within(3, lambda: run_tool(files, "read_file", '{"path": "src/pipe.py"}'))
    assert output.startswith("error: refused: src/pipe.py is a FIFO (named pipe)"), output
    assert "only regular files" in output


def test_apply_patch_refuses_a_fifo_at_once(ws: Path) -> None:
    changes = ChangeSet(WorkspaceFiles([ws]))
    patch = "*** Begin Patch\n*** Update File: src/pipe.py\n@@\n-x\n+y\n*** End Patch\n"
    with pytest.raises(ToolError, match="FIFO"):
        within(3, lambda: changes.apply(patch))
    adding = "*** Begin Patch\n*** Add File: src/pipe.py\n+y\n*** End Patch\n"
    with pytest.raises(ToolError, match="FIFO"):
        within(3, lambda: changes.apply(adding))
    assert changes.changed == []


def test_search_and_list_files_skip_special_files(ws: Path) -> None:
    files = WorkspaceFiles([ws])
    assert within(3, lambda: files.search("main")) == "src/app.py:1: def main():"
    assert within(3, lambda: files.list_files()) == "src/app.py"
    os.symlink(ws / "src" / "pipe.py", ws / "link.py")  # a link to it is no file either
    assert within(3, lambda: files.list_files("*.py")) == "src/app.py"


def test_a_regex_bomb_is_matched_in_linear_time(ws: Path) -> None:
    (ws / "big.txt").write_text((BOMB_LINE + "\n") * 20_000, encoding="utf-8")
    files = WorkspaceFiles([ws])
    output = within(5, lambda: files.search("(a+)+$", regex=True))
    assert output == "no matches for '(a+)+$'"
    assert within(5, lambda: files.search("(a+)+!$", regex=True)).startswith("big.txt:1: aaaa")


def test_a_regex_re2_cannot_run_is_a_clear_error(ws: Path) -> None:
    output = run_tool(WorkspaceFiles([ws]), "search", '{"pattern": "(a)\\\\1", "regex": true}')
    assert output.startswith("error: invalid regex") and "RE2 syntax" in output, output
    huge = run_tool(WorkspaceFiles([ws]), "search", '{"pattern": "a{1000}{1000}", "regex": true}')
    assert huge.startswith("error: invalid regex"), huge


@pytest.mark.parametrize(
    "glob", ["**/" * 25 + "x.py", "*a" * 40 + "b", "[a-z]" * 150 + "*", "**/" * 300]
)
def test_a_glob_bomb_is_matched_at_bounded_cost(ws: Path, glob: str) -> None:
    for n in range(20):
        deep = ws.joinpath("a", *["aaaa"] * 12, f"d{n}")
        deep.mkdir(parents=True, exist_ok=True)
        (deep / ("a" * 100 + ".py")).write_text("x = 1\n")
    files = WorkspaceFiles([ws])
    output = within(5, lambda: run_tool(files, "list_files", f'{{"glob": "{glob}"}}'))
    assert output.startswith(("no files match", "a/")), output
    searched = within(5, lambda: files.search("x", path_glob=glob))
    assert searched.startswith(("no matches", "a/")), searched


def test_a_hostile_gitignore_cannot_slow_the_walk(ws: Path) -> None:
    (ws / ".gitignore").write_text(
        "\n".join(["**/" * 40 + "z", "*a" * 60 + "b", "[z-a]", "!"]) + "\n"
    )
    (ws / ("a" * 200 + ".txt")).write_text("x\n")
    files = WorkspaceFiles([ws])
    listed = within(5, lambda: files.list_files()).splitlines()
    assert listed == [".gitignore", "a" * 200 + ".txt", "src/app.py"]


def test_gitignore_semantics_negation_double_star_and_re_include(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    for name in [
        "logs/a.log",
        "logs/keep/b.log",
        "build/out.py",
        "build/keep.txt",
        "src/generated/x/y.py",
        "src/main.py",
        "dist",
        "pkg/dist/z.py",
        "docs/a.md",
        "docs/README.md",
    ]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x\n")
    (root / ".gitignore").write_text(
        "logs/*\n!logs/keep/\n"  # re-include a folder under an ignored pattern
        "build/\n!build/keep.txt\n"  # cannot re-include inside an ignored folder (git)
        "**/generated/**\n"
        "/dist\n"  # anchored: the root's dist only
    )
    (root / "docs" / ".gitignore").write_text("*.md\n!README.md\n")  # a deeper file decides
    listed = WorkspaceFiles([root]).list_files().splitlines()
    assert listed == [
        ".gitignore",
        "docs/.gitignore",
        "docs/README.md",
        "logs/keep/b.log",
        "pkg/dist/z.py",
        "src/main.py",
    ]


def test_a_deep_tree_is_walked_without_recursion(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    deep = root
    try:
        for _ in range(1100):  # deeper than Python's recursion limit
            deep = deep / "d"
            deep.mkdir()
        (deep / "bottom.py").write_text("needle\n")
        files = WorkspaceFiles([root])
        output = within(10, lambda: files.search("needle"))
        assert output.startswith("d/d/d/") and output.endswith("bottom.py:1: needle")
    finally:  # shutil.rmtree (pytest's clean-up) recurses: take the tree down bottom-up
        (deep / "bottom.py").unlink(missing_ok=True)
        while deep != root:
            if deep.exists():
                deep.rmdir()
            deep = deep.parent


def test_a_huge_tree_ends_the_call_with_a_clear_error(ws: Path) -> None:
    for n in range(120):
        (ws / f"d{n // 10:02}" / f"f{n:03}.py").parent.mkdir(exist_ok=True)
        (ws / f"d{n // 10:02}" / f"f{n:03}.py").write_text("needle\n")
    files = WorkspaceFiles([ws])
    small = Budget(entries=60)
    output = run_bounded(small, lambda: run_tool(files, "list_files", ""))
    assert output.startswith("error: list_files stopped: the tool call visited its limit of 60")
    assert "d00/f000.py" in output  # what was found so far comes back too
    found = run_bounded(Budget(entries=60), lambda: run_tool(files, "search", '{"pattern": "ne"}'))
    assert found.startswith("error: search stopped:") and "d00/f000.py:1: needle" in found
    spent = run_bounded(Budget(bytes=100), lambda: run_tool(files, "search", '{"pattern": "ne"}'))
    assert "read its limit of 100 bytes" in spent


def test_the_wall_clock_budget_ends_a_long_search(ws: Path) -> None:
    for n in range(30):
        (ws / f"f{n:02}.txt").write_text(("abcdefghij" * 9 + "\n") * 10_000)
    files = WorkspaceFiles([ws])
    slow = Budget(seconds=0.2)
    started = time.monotonic()
    output = run_bounded(slow, lambda: run_tool(files, "search", '{"pattern": "zzz"}'))
    assert output.startswith("error: search stopped: the tool call hit its time limit (0.2 s)")
    assert time.monotonic() - started < 2


async def test_cancelling_the_caller_returns_at_once_and_stops_the_thread() -> None:
    stopped = threading.Event()
    budget = Budget(seconds=30)

    def busy() -> str:
        try:
            while True:
                budget_module.current_budget().entry()
                time.sleep(0.001)
        finally:
            stopped.set()

    task = asyncio.ensure_future(run_off_loop(busy, budget))
    await asyncio.sleep(0.2)
    assert not task.done()
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 0.1
    assert await asyncio.to_thread(stopped.wait, 2)


async def test_a_call_that_ignores_its_budget_is_abandoned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(budget_module, "GRACE", 0.2)
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(BudgetExceeded, match="did not finish within"):
        await run_off_loop(lambda: release.wait(30), Budget(seconds=0.1))
    assert time.monotonic() - started < 2
    release.set()


async def test_the_loop_stays_free_while_a_call_runs() -> None:
    gate = threading.Event()
    call = asyncio.ensure_future(run_off_loop(lambda: gate.wait(5)))
    ticks = 0
    for _ in range(20):  # the loop keeps turning while the call blocks its thread
        await asyncio.sleep(0.005)
        ticks += 1
    assert ticks == 20 and not call.done()
    gate.set()
    assert await call is True
