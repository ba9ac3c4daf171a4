"""Globs and `.gitignore` rules, matched by pathspec, and the bounded walk of the workspace.

Matching is pathspec's `GitIgnoreSpec`: git's own wildmatch rules — `*` and `?` inside one path
segment, `**` across segments, `[...]` classes, `!` negation (the last matching rule decides),
a trailing `/` for folders, a leading or middle `/` anchoring the pattern to the `.gitignore`'s
folder, re-include rules where git allows them. It runs on pathspec's re2 backend, so a pattern
becomes one RE2 regex that matches in time linear in the path: no glob, neither the model's nor
a hostile `.gitignore`'s (25 times `**/`, `*a*a*a…b`), can make a match slow. A pattern that does
not compile is refused (a glob, with a `ToolError`) or skipped (a `.gitignore` line).

`Glob` matches workspace paths: a glob without `/` matches the file name at any depth (`*.py`),
one with `/` the whole path (`src/**/*.py`; absolute for files shown by absolute path).

`walk_files` is iterative (no recursion, whatever the depth) and charges every directory entry
it sees to the tool call's `Budget`, so a huge tree ends the call with a clear error instead of
holding it. `.gitignore` files are read at the walked root and in every folder below (regular
files only, at most `MAX_GITIGNORE_BYTES`); a file in an ignored folder cannot be re-included,
as in git, because the folder is never entered. Not read: `.git/info/exclude` and the user's
global excludes file. `SKIP_DIRS` and symlinked folders are never entered (no cycles, no escapes).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

from responses_lsp.tools.budget import Budget, current_budget
from responses_lsp.tools.errors import ToolError
from responses_lsp.tools.reading import FileTooLarge, NotRegularFile, read_regular

log = logging.getLogger(__name__)

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "__pycache__"})
"""Folders never listed nor searched, whatever `.gitignore` says."""
MAX_PATTERN_CHARS = 1000
"""Longest glob the model may pass."""
MAX_GITIGNORE_BYTES = 256 * 1024
"""A longer `.gitignore` is read up to this many bytes."""
BACKEND = "re2"
"""pathspec's linear-time backend (google-re2); never the backtracking `re` one."""


def has_magic(glob: str) -> bool:
    """True when `glob` holds a wildcard, so it is not just a path."""
    return any(char in glob for char in "*?[")


def _spec(lines: Sequence[str]) -> GitIgnoreSpec:
    return GitIgnoreSpec.from_lines(lines, backend=BACKEND)


class Glob:
    """A glob over workspace-relative paths (see the module docstring)."""

    def __init__(self, glob: str) -> None:
        text = glob.strip()
        while text.startswith("./"):
            text = text[2:]
        if len(text) > MAX_PATTERN_CHARS:
            raise ToolError(f"the glob is too long ({len(text):,} characters, limit 1,000)")
        self.text = text
        try:
            self._spec = _spec([text])
        except Exception as exc:  # re.error, re2's error, pathspec's ValueError
            raise ToolError(f"invalid glob {text!r}: {exc}") from None

    def matches(self, path: str) -> bool:
        return self._spec.check_file(path).include is True


@dataclass(frozen=True)
class IgnoreFile:
    """The rules of one `.gitignore`, found in folder `base` (relative to the root, "" at it)."""

    base: str
    spec: GitIgnoreSpec

    def decide(self, path: str, is_dir: bool) -> bool | None:
        """True (ignored), False (re-included by a `!` rule) or None (no rule matches)."""
        if self.base:
            if not path.startswith(self.base + "/"):
                return None
            path = path[len(self.base) + 1 :]
        return self.spec.check_file(path + "/" if is_dir else path).include


def parse_gitignore(text: str, base: str = "") -> IgnoreFile:
    """The rules of one `.gitignore` in folder `base`; lines that do not compile are skipped."""
    lines = text.splitlines()
    try:
        return IgnoreFile(base, _spec(lines))
    except Exception:
        kept = []
        for line in lines:
            try:
                _spec([line])
            except Exception:
                log.info("skipped a .gitignore line that does not compile: %r", line[:80])
                continue
            kept.append(line)
        try:
            return IgnoreFile(base, _spec(kept))
        except Exception:  # together too large for RE2: ignore the file rather than hang
            log.info(".gitignore in %r skipped: its rules do not compile together", base or ".")
            return IgnoreFile(base, _spec([]))


def is_ignored(rules: Sequence[IgnoreFile], path: str, is_dir: bool) -> bool:
    """Whether `path` (relative to the root) is ignored: the deepest deciding file wins."""
    ignored = False
    for rule in rules:
        decision = rule.decide(path, is_dir)
        if decision is not None:
            ignored = decision
    return ignored


def walk_files(
    root: Path, keep_link: Callable[[Path], bool], budget: Budget | None = None
) -> Iterator[tuple[str, Path]]:
    """Files under `root` not ignored, as (path relative to root, absolute path), sorted per folder.

    Symlinked files are yielded only when `keep_link(path)` says so (e.g. the target is inside
    the workspace); symlinked folders are never entered. `BudgetExceeded` when the walk reaches
    the budget's entry count or deadline.
    """
    budget = budget or current_budget()
    stack: list[tuple[str, list[IgnoreFile], Iterator[os.DirEntry[str]]]] = []

    def enter(folder: str, rel: str, rules: list[IgnoreFile]) -> None:
        rules = rules + _gitignore(Path(folder), rel, budget)
        entries = []
        try:
            with os.scandir(folder) as scan:
                for entry in scan:
                    budget.entry()
                    entries.append(entry)
        except OSError:
            return
        entries.sort(key=lambda entry: entry.name)
        stack.append((rel, rules, iter(entries)))

    enter(str(root), "", [])
    while stack:
        rel, rules, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        entry_rel = f"{rel}/{entry.name}" if rel else entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIP_DIRS and not is_ignored(rules, entry_rel, True):
                    enter(entry.path, entry_rel, rules)
                continue
            if not entry.is_file() or is_ignored(rules, entry_rel, False):
                continue  # FIFOs, sockets, devices and dangling links are never files here
            if entry.is_symlink() and not keep_link(Path(entry.path)):
                continue
        except OSError:
            continue
        yield entry_rel, Path(entry.path)


def _gitignore(folder: Path, rel: str, budget: Budget) -> list[IgnoreFile]:
    path = folder / ".gitignore"
    try:
        if path.is_symlink() or not path.is_file():
            return []
        data = read_regular(path, MAX_GITIGNORE_BYTES, budget, truncate=True)
    except (OSError, NotRegularFile, FileTooLarge):
        return []
    return [parse_gitignore(data.decode("utf-8", errors="replace"), rel)]
