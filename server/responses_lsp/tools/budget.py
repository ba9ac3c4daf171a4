"""Bounds of one tool call, and running a call off the event loop (DESIGN I9).

A tool call reads a workspace the server does not control: huge trees, huge files, FIFOs,
hostile `.gitignore` rules and regexes the model wrote. Every call therefore runs in a worker
thread of its own with a `Budget`: a wall-clock deadline, a number of directory entries it may
visit and a number of bytes it may read. The workspace code charges the budget as it goes
(`current_budget().entry()`, `.read(n)`); a charge past a bound raises `BudgetExceeded`, a
`ToolError`, so the model gets a clear message and the job goes on.

The event loop only awaits the thread (`run_off_loop`): it stays free for cancel, didChange and
codeAction. Cancelling the awaiting task returns at once; the budget is marked cancelled and the
thread stops at its next charge (it never blocks in between: files are opened non-blocking and
only regular files are read, regexes are linear-time). A thread that still has not finished a
grace period after its deadline (a hung network file system) is abandoned with a tool error;
it is a daemon thread, so it never holds up the server's exit.

`on_loop` makes a callback that must run on the loop (reading an open document, a progress
report) callable from the worker thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from responses_lsp.tools.errors import ToolError

T = TypeVar("T")
P = ParamSpec("P")

SECONDS = 10.0
"""Wall-clock budget of one tool call."""
ENTRIES = 200_000
"""Directory entries (files and folders) one call may visit."""
BYTES = 64 * 1024 * 1024
"""Bytes one call may read from disk."""
GRACE = 2.0
"""Seconds past the deadline before a call that does not stop is abandoned."""


class BudgetExceeded(ToolError):
    """A tool call reached one of its bounds; the message says which, for the model."""


@dataclass
class Budget:
    """What one tool call may still spend; `cancel()` stops it at its next charge."""

    seconds: float = SECONDS
    entries: int = ENTRIES
    bytes: int = BYTES
    started: float = field(default_factory=time.monotonic)
    visited: int = 0
    read_bytes: int = 0
    _cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def deadline(self) -> float:
        return self.started + self.seconds

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self) -> None:
        """Raise `BudgetExceeded` when the call was cancelled or is past its deadline."""
        if self._cancelled.is_set():
            raise BudgetExceeded("the tool call was cancelled")
        if time.monotonic() > self.deadline:
            raise BudgetExceeded(
                f"the tool call hit its time limit ({self.seconds:g} s); "
                "narrow it (a path_glob, a folder, a simpler pattern)"
            )

    def entry(self, count: int = 1) -> None:
        """Charge `count` visited directory entries (and check the deadline)."""
        self.visited += count
        if self.visited > self.entries:
            raise BudgetExceeded(
                f"the tool call visited its limit of {self.entries:,} files and folders; "
                "narrow it to a folder or a path_glob"
            )
        if self.visited % 64 < count:  # the clock every 64 entries: a scandir costs less
            self.check()

    def read(self, count: int) -> None:
        """Charge `count` bytes read (and check the deadline)."""
        self.read_bytes += count
        if self.read_bytes > self.bytes:
            raise BudgetExceeded(
                f"the tool call read its limit of {self.bytes:,} bytes; "
                "narrow it to a folder or a path_glob"
            )
        self.check()

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


_local = threading.local()


def current_budget() -> Budget:
    """The budget of the tool call running in this thread; elsewhere a fresh default one.

    Take it once at the start of an operation and pass it down, so every charge counts.
    """
    budget: Budget | None = getattr(_local, "budget", None)
    return budget if budget is not None else Budget()


def run_bounded(budget: Budget, fn: Callable[[], T]) -> T:
    """Run `fn` in this thread with `budget` as its current budget."""
    previous = getattr(_local, "budget", None)
    _local.budget = budget
    try:
        return fn()
    finally:
        _local.budget = previous


async def run_off_loop(fn: Callable[[], T], budget: Budget | None = None) -> T:
    """`fn()` in a daemon worker thread under `budget`; the loop stays free meanwhile.

    Cancelling the caller cancels the budget and returns at once. `BudgetExceeded` when the
    thread does not finish within the deadline plus `GRACE` (the thread is abandoned).
    """
    budget = budget or Budget()
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def work() -> None:
        try:
            value = run_bounded(budget, fn)
        except BaseException as exc:  # handed to the awaiting task, whatever it is
            error = exc
            _post(loop, settle, lambda: future.set_exception(error))
        else:
            _post(loop, settle, lambda: future.set_result(value))

    threading.Thread(target=work, name="responses-lsp-tool", daemon=True).start()
    try:
        return await asyncio.wait_for(future, budget.seconds + GRACE)
    except TimeoutError:
        budget.cancel()
        raise BudgetExceeded(
            f"the tool call did not finish within {budget.seconds + GRACE:g} s "
            "(a slow or hung file system?); try another path"
        ) from None
    except asyncio.CancelledError:
        budget.cancel()
        raise


def _post(
    loop: asyncio.AbstractEventLoop,
    settle: Callable[[Callable[[], None]], None],
    outcome: Callable[[], None],
) -> None:
    try:
        loop.call_soon_threadsafe(settle, outcome)
    except RuntimeError:  # the loop is closed: nobody waits for this call any more
        pass


def on_loop(fn: Callable[P, T], *, timeout: float = SECONDS + GRACE) -> Callable[P, T]:
    """`fn`, callable from a worker thread: the call runs on the current event loop.

    Called on the loop's own thread it runs directly. From another thread it waits (at most
    `timeout` seconds, or the calling tool's remaining budget) for the loop to run it; a
    `ToolError` if the loop does not answer in time.
    """
    loop = asyncio.get_running_loop()
    owner = threading.get_ident()

    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        if threading.get_ident() == owner:
            return fn(*args, **kwargs)
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                done.set_exception(exc)

        try:
            loop.call_soon_threadsafe(run)
        except RuntimeError:
            raise ToolError("the server is shutting down") from None
        wait = min(timeout, max(0.1, current_budget().remaining()))
        try:
            return done.result(timeout=wait)
        except concurrent.futures.TimeoutError:
            raise BudgetExceeded("the editor's copy of a file could not be read in time") from None

    return call
