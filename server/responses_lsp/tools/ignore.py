"""Globs and `.gitignore` rules for walking the workspace, and the walk itself.

`translate_glob` turns a glob into a regex over `/`-separated paths: `*` and `?` stay inside one
path segment, `**` spans segments (`**/x`, `a/**/x`, `a/**`), `[...]` is a character class
(`[!...]` negated) and `\\` escapes. `Glob` matches workspace paths: a glob without `/` matches
the file name at any depth (`*.py`), one with `/` the whole path (`src/**/*.py`;
absolute for files shown by absolute path).

`.gitignore` support is the usual subset: files at the walked root and in every folder below,
blank lines and `#` comments skipped, `!` negation (the last matching rule wins), a trailing `/`
for folders only, a `/` at the start or in the middle anchoring the pattern to the `.gitignore`'s
folder (otherwise it matches a name at any depth). A file in an ignored folder cannot be
re-included, as in git. Not read: `.git/info/exclude` and the user's global excludes file.
`walk_files` also always skips `SKIP_DIRS` and symlinked folders (no cycles, no escapes).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "__pycache__"})
"""Folders never listed nor searched, whatever `.gitignore` says."""


def _char_class(body: str) -> str:
    if body.startswith("!"):
        body = "^" + body[1:]
    elif body.startswith("^"):
        body = "\\" + body
    return "[" + body.replace("\\", "\\\\").replace("[", "\\[") + "]"


def translate_glob(glob: str) -> str:
    """The regex (for `re.fullmatch`) equivalent to a `/`-separated glob."""
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        char = glob[i]
        if glob.startswith("**", i) and (i == 0 or glob[i - 1] == "/"):
            if glob.startswith("/", i + 2):
                out.append("(?:.*/)?")
                i += 3
                continue
            if i + 2 == n:
                out.append(".*")
                break
        if char == "*":
            out.append("[^/]*")
            while i + 1 < n and glob[i + 1] == "*":
                i += 1
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := glob.find("]", i + 2)) != -1:
            out.append(_char_class(glob[i + 1 : end]))
            i = end
        elif char == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def has_magic(glob: str) -> bool:
    """True when `glob` holds a wildcard, so it is not just a path."""
    return any(char in glob for char in "*?[")


class Glob:
    """A glob over workspace-relative paths (see the module docstring)."""

    def __init__(self, glob: str) -> None:
        text = glob.strip()
        while text.startswith("./"):
            text = text[2:]
        self.text = text
        self._by_name = "/" not in text
        self._regex = re.compile(translate_glob(text))

    def matches(self, path: str) -> bool:
        target = path.rsplit("/", 1)[-1] if self._by_name else path
        return self._regex.fullmatch(target) is not None


@dataclass(frozen=True)
class IgnoreRule:
    """One `.gitignore` line, from the file in folder `base` (relative to the root, "" at it)."""

    base: str
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool
    anchored: bool

    def matches(self, path: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        if self.base:
            if not path.startswith(self.base + "/"):
                return False
            path = path[len(self.base) + 1 :]
        target = path if self.anchored else path.rsplit("/", 1)[-1]
        return self.regex.fullmatch(target) is not None


def parse_gitignore(text: str, base: str = "") -> list[IgnoreRule]:
    """The rules of one `.gitignore` file found in folder `base`."""
    rules: list[IgnoreRule] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        regex = re.compile(translate_glob(line.lstrip("/")))
        rules.append(IgnoreRule(base, regex, negate, dir_only, anchored))
    return rules


def is_ignored(rules: Sequence[IgnoreRule], path: str, is_dir: bool) -> bool:
    """Whether `path` (relative to the root) is ignored: the last matching rule decides."""
    ignored = False
    for rule in rules:
        if rule.matches(path, is_dir):
            ignored = not rule.negate
    return ignored


def walk_files(root: Path, keep_link: Callable[[Path], bool]) -> Iterator[tuple[str, Path]]:
    """Files under `root` not ignored, as (path relative to root, absolute path), sorted per folder.

    Symlinked files are yielded only when `keep_link(path)` says so (e.g. the target is inside
    the workspace); symlinked folders are never entered.
    """
    yield from _walk(root, "", [], keep_link)


def _walk(
    folder: Path, rel: str, rules: list[IgnoreRule], keep_link: Callable[[Path], bool]
) -> Iterator[tuple[str, Path]]:
    gitignore = folder / ".gitignore"
    if gitignore.is_file() and not gitignore.is_symlink():
        try:
            rules = rules + parse_gitignore(gitignore.read_text("utf-8", errors="replace"), rel)
        except OSError:
            pass
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        entry_rel = f"{rel}/{entry.name}" if rel else entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIP_DIRS and not is_ignored(rules, entry_rel, True):
                    yield from _walk(Path(entry.path), entry_rel, rules, keep_link)
                continue
            if not entry.is_file() or is_ignored(rules, entry_rel, False):
                continue
            if entry.is_symlink() and not keep_link(Path(entry.path)):
                continue
        except OSError:
            continue
        yield entry_rel, Path(entry.path)
