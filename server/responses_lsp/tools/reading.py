"""Reading a workspace file without ever blocking: regular files only, bounded in bytes.

A workspace may hold FIFOs, sockets and device nodes (or links to them). Opening a FIFO for
reading blocks until a writer comes; reading a character device may never end. So a file is
`stat`ed first and refused unless it is a regular file, then opened with `O_NONBLOCK` (an open
of a FIFO swapped in meanwhile returns at once) and checked again with `fstat` on the open
descriptor before a byte is read. Reads go in chunks charged to the tool call's `Budget`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from responses_lsp.tools.budget import Budget, current_budget
from responses_lsp.tools.errors import ToolError

_CHUNK = 1024 * 1024
_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)


class NotRegularFile(ToolError):
    """A FIFO, socket, device or folder where a file's text was asked for."""


class FileTooLarge(ToolError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size:,} bytes (limit {limit:,})")
        self.size = size
        self.limit = limit


def kind_of(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)", …), None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_regular(
    path: Path, limit: int, budget: Budget | None = None, *, truncate: bool = False
) -> bytes:
    """The bytes of regular file `path`, at most `limit` of them.

    `NotRegularFile` for anything else; `FileTooLarge` when the file is over `limit` (or, with
    `truncate`, its first `limit` bytes); `OSError` as raised; `BudgetExceeded` from the budget.
    """
    budget = budget or current_budget()
    kind = kind_of(os.stat(path).st_mode)
    if kind is not None:
        raise NotRegularFile(kind)
    fd = os.open(path, _FLAGS)
    try:
        info = os.fstat(fd)
        kind = kind_of(info.st_mode)
        if kind is not None:
            raise NotRegularFile(kind)
        if info.st_size > limit and not truncate:
            raise FileTooLarge(info.st_size, limit)
        chunks: list[bytes] = []
        left = limit
        while left > 0:
            chunk = os.read(fd, min(_CHUNK, left))
            if not chunk:
                break
            budget.read(len(chunk))
            chunks.append(chunk)
            left -= len(chunk)
        if left == 0 and not truncate and os.read(fd, 1):  # it grew past the limit meanwhile
            raise FileTooLarge(limit + 1, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)
