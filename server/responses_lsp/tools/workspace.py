"""The workspace as the model sees it: checked paths, and the read-only tools over them.

`WorkspaceFiles.resolve` is the one gate from a path the model wrote to a real file. It refuses,
with a `ToolError` the model can act on: an empty path; an absolute path outside every workspace
folder; a relative path whose `..` leaves its folder; a path that leaves the workspace through a
symlink (any component, checked after `Path.resolve`); secret-looking files (`is_secret_path` on
the workspace-relative path, plus the configured deny globs), checked on both the path as written
and the symlink target; and version-control internals (`.git/`, `.hg/`, `.svn/`).

Paths are workspace-relative with `/` separators. They are relative to the first workspace
folder; another folder is named by its folder name as first component (`lib/x.py` for the folder
`.../lib`) when that name is unique among the folders and the first folder has no entry of that
name. Otherwise (or for a nested folder) its files are shown and accepted by absolute path.
`relative` gives the display form, which `resolve` accepts back.

Texts come from `read_open` first (the editor's unsaved copy of an open document wins), else from
disk as UTF-8, through `reading.read_regular`: regular files only (a FIFO, socket or device is
refused, never opened for a blocking read). `read_file`, `search` and `list_files` return the
tool output strings; search and listing respect `.gitignore` (see `ignore`) and skip secret
files, binary files (a NUL byte in the first 8 KB) and, for search, files over
`max_file_bytes_search`. Every call is bounded by the `Budget` of the tool call (time, entries
visited, bytes read); a call that reaches a bound is a `ToolError` that keeps what was found.
Regex search uses RE2 (google-re2), whose matching is linear in the text: no pattern can
backtrack for minutes as `(a+)+$` does in Python's `re`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import re2

from responses_lsp.actions.privacy import is_secret_path
from responses_lsp.tools.budget import Budget, BudgetExceeded, current_budget
from responses_lsp.tools.errors import ToolError
from responses_lsp.tools.ignore import Glob, has_magic, walk_files
from responses_lsp.tools.reading import FileTooLarge, NotRegularFile, read_regular

_VCS_DIRS = frozenset({".git", ".hg", ".svn"})
_BINARY_PROBE = 8192
_MAX_LINE_CHARS = 2000  # read_file cuts longer lines (minified files)
_MAX_HIT_CHARS = 300  # search shows this much of a matching line
_LINE_BREAK = re.compile(r"\r?\n")
_MAX_REGEX_CHARS = 2000
_CHECK_EVERY = 2048  # lines searched between two budget checks
_RE2 = re2.Options()
_RE2.log_errors = False  # a bad pattern is the model's error, not a line on stderr


def _not_open(_path: Path) -> str | None:
    return None


def split_lines(text: str) -> list[str]:
    """The lines of `text` without their line breaks; a final line break adds no empty line."""
    lines = _LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines


def _clip(line: str, limit: int, note: str) -> str:
    return line if len(line) <= limit else line[:limit] + note


class WorkspaceFiles:
    """The files of the workspace folders `roots`, as the tools may see them."""

    def __init__(
        self,
        roots: Sequence[Path],
        *,
        deny: Sequence[str] = (),
        read_open: Callable[[Path], str | None] = _not_open,
        max_read_bytes: int = 256_000,
        max_results: int = 200,
        max_file_bytes_search: int = 1_000_000,
    ) -> None:
        if not roots:
            raise ValueError("WorkspaceFiles needs at least one workspace folder")
        self._given = [Path(os.path.abspath(root)) for root in roots]
        self._roots = [root.resolve() for root in self._given]
        self._deny = tuple(deny)
        self._read_open = read_open
        self.max_read_bytes = max_read_bytes
        self.max_results = max_results
        self.max_file_bytes_search = max_file_bytes_search

    # -- paths ---------------------------------------------------------------------------------

    def resolve(self, path: str, *, must_exist: bool = True) -> Path:
        """The real path of workspace path `path`, or a `ToolError` saying why it is refused."""
        text = path.strip()
        if not text:
            raise ToolError("path is empty; give a path relative to the workspace, e.g. src/app.py")
        if "\x00" in text:
            raise ToolError(f"invalid path (NUL byte): {text!r}")
        lexical = self._lexical(text)
        self._check_policy(self.relative(lexical), text)
        try:
            real = lexical.resolve()
        except (OSError, RuntimeError) as exc:  # symlink loops
            raise ToolError(f"cannot resolve {text}: {exc}") from None
        if not self._inside(real):
            raise ToolError(f"path escapes the workspace through a symlink: {text}")
        if real != lexical:
            self._check_policy(self.relative(real), text)
        if must_exist and not real.exists():
            raise ToolError(f"file not found: {text}; use list_files to see what exists")
        return real

    def relative(self, path: Path) -> str:
        """The workspace-relative display path of absolute `path` (posix; see the docstring)."""
        for index, (given, real) in enumerate(zip(self._given, self._roots, strict=True)):
            for root in (real, given):
                if not path.is_relative_to(root):
                    continue
                rel = path.relative_to(root).as_posix()
                if index == 0:
                    return rel
                if self._named_root(real.name) == real:
                    return real.name if rel == "." else f"{real.name}/{rel}"
                return path.as_posix()
        return path.as_posix()

    def _named_root(self, name: str) -> Path | None:
        """The non-first folder a path may name by `name`, when that is unambiguous."""
        if len(self._roots) < 2 or os.path.lexists(self._roots[0] / name):
            return None
        named = [root for root in self._roots[1:] if root.name == name]
        return named[0] if len(named) == 1 else None

    def _lexical(self, text: str) -> Path:
        if os.path.isabs(text):
            candidate = Path(os.path.normpath(text))
            if not any(candidate.is_relative_to(r) for r in (*self._given, *self._roots)):
                raise ToolError(
                    f"path is outside the workspace: {text}; use a path relative to the workspace"
                )
            return candidate
        base = self._roots[0]
        first, _, rest = text.partition("/")
        named = self._named_root(first)
        if named is not None:
            base, text = named, rest or "."
        candidate = Path(os.path.normpath(base / text))
        if not candidate.is_relative_to(base):
            hint = "; other workspace folders are named by their folder name, e.g. lib/x.py"
            raise ToolError(
                f"path escapes the workspace: {text}" + (hint if self._given[1:] else "")
            )
        return candidate

    def _check_policy(self, display: str, asked: str) -> None:
        if any(part.lower() in _VCS_DIRS for part in display.split("/")):
            raise ToolError(f"refused: {asked} is inside version-control internals (.git)")
        if is_secret_path(display, self._deny):
            raise ToolError(
                f"refused: {asked} may hold secrets (secret-looking name or a deny pattern); "
                "it is never read or changed"
            )

    def _inside(self, real: Path) -> bool:
        return any(real.is_relative_to(root) for root in self._roots)

    def _link_inside(self, link: Path) -> bool:
        try:
            return self._inside(link.resolve())
        except (OSError, RuntimeError):
            return False

    def _allowed(self, display: str) -> bool:
        try:
            self._check_policy(display, display)
        except ToolError:
            return False
        return True

    # -- texts ---------------------------------------------------------------------------------

    def read_text(self, path: Path, *, max_bytes: int | None = None) -> str:
        """The text of resolved `path`: the open document's if any, else the file's (UTF-8).

        `ToolError` for a folder, a FIFO, socket or device, a missing, binary or non-UTF-8
        file, or one over `max_bytes` (default `max_read_bytes`).
        """
        limit = self.max_read_bytes if max_bytes is None else max_bytes
        display = self.relative(path)
        text = self._read_open(path)
        if text is not None:
            size = len(text.encode("utf-8"))
            if size > limit:
                raise self._too_large(display, size, limit)
            return text
        if path.is_dir():
            glob = "**/*" if display == "." else f"{display}/**"
            raise ToolError(f"{display} is a folder; use list_files with glob '{glob}'")
        try:
            data = read_regular(path, limit)
        except FileNotFoundError:
            raise ToolError(
                f"file not found: {display}; use list_files to see what exists"
            ) from None
        except NotRegularFile as exc:
            raise ToolError(
                f"refused: {display} is {exc}, not a regular file; only regular files are read"
            ) from None
        except FileTooLarge as exc:
            raise self._too_large(display, exc.size, limit) from None
        except OSError as exc:
            raise ToolError(f"cannot read {display}: {exc.strerror or exc}") from None
        if b"\x00" in data[:_BINARY_PROBE]:
            raise ToolError(f"binary file: {display} is not text")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError(f"{display} is not UTF-8 text") from None

    @staticmethod
    def _too_large(display: str, size: int, limit: int) -> ToolError:
        return ToolError(
            f"file too large: {display} is {size:,} bytes (limit {limit:,}); use search to "
            "find the lines you need, then read_file with start_line and end_line"
        )

    def read_file(
        self, path: str, start_line: int | None = None, end_line: int | None = None
    ) -> str:
        """Tool output: a header `path (lines a-b of n)`, then the lines numbered from 1.

        A line range may read files up to `max_file_bytes_search`; the output itself stays under
        about `max_read_bytes` and says where to go on when it is cut.
        """
        target = self.resolve(path)
        ranged = start_line is not None or end_line is not None
        limit = max(self.max_read_bytes, self.max_file_bytes_search if ranged else 0)
        lines = split_lines(self.read_text(target, max_bytes=limit))
        display, total = self.relative(target), len(lines)
        first = 1 if start_line is None else start_line
        if first < 1:
            raise ToolError(f"start_line must be 1 or more, got {first}")
        if end_line is not None and end_line < first:
            raise ToolError(f"end_line {end_line} is before start_line {first}")
        if total == 0:
            return f"{display} (empty file)"
        if first > total:
            raise ToolError(f"start_line {first} is past the end: {display} has {total} lines")
        last = total if end_line is None else min(end_line, total)
        width = max(4, len(str(last)))
        out: list[str] = []
        budget, shown = self.max_read_bytes, first - 1
        for number in range(first, last + 1):
            line = _clip(lines[number - 1], _MAX_LINE_CHARS, " … (line cut)")
            entry = f"{number:>{width}}| {line}"
            budget -= len(entry.encode("utf-8")) + 1
            if budget < 0 and out:
                break
            out.append(entry)
            shown = number
        if shown < last:
            out.append(
                f"… output capped at {self.max_read_bytes:,} bytes; "
                f"call read_file with start_line={shown + 1} to read on"
            )
        return "\n".join([f"{display} (lines {first}-{shown} of {total})", *out])

    # -- search and listing ----------------------------------------------------------------------

    def files(self, budget: Budget | None = None) -> Iterator[tuple[str, Path]]:
        """Every listable file: (display path, absolute path), not ignored, not secret."""
        budget = budget or current_budget()
        seen: set[str] = set()
        for root in self._roots:
            for _, path in walk_files(root, self._link_inside, budget):
                display = self.relative(path)
                if display in seen or not self._allowed(display):
                    continue
                if path.is_symlink() and not self._allowed(self.relative(path.resolve())):
                    continue  # a link to a secret or into .git
                seen.add(display)
                yield display, path

    def _matcher(self, pattern: str, regex: bool) -> Callable[[str], bool]:
        if not regex:
            return lambda line: pattern in line
        if len(pattern) > _MAX_REGEX_CHARS:
            raise ToolError(f"the regex is too long ({len(pattern):,} characters, limit 2,000)")
        try:
            compiled = re2.compile(pattern, _RE2)
        except re2.error as exc:
            reason = exc.args[0] if exc.args else exc
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", errors="replace")
            raise ToolError(
                f"invalid regex {pattern!r}: {reason}; search uses RE2 syntax (no backreferences "
                "or lookaround); fix it, or pass regex=false to search for the literal text"
            ) from None
        return lambda line: compiled.search(line) is not None

    def search(self, pattern: str, *, regex: bool = False, path_glob: str | None = None) -> str:
        """Tool output: `path:line: text` for each line matching `pattern`, capped."""
        if not pattern:
            raise ToolError("pattern is empty")
        matches = self._matcher(pattern, regex)
        glob = Glob(path_glob) if path_glob else None
        budget = current_budget()
        hits: list[str] = []
        total, searched, too_big = 0, 0, []
        try:
            for display, path in self.files(budget):
                if glob is not None and not glob.matches(display):
                    continue
                text = self._searchable(path, budget)
                if text is None:
                    if self._size(path) > self.max_file_bytes_search:
                        too_big.append(display)
                    continue
                searched += 1
                for number, line in enumerate(split_lines(text), 1):
                    if number % _CHECK_EVERY == 0:
                        budget.check()
                    if matches(line):
                        total += 1
                        if len(hits) < self.max_results:
                            clipped = _clip(line.rstrip(), _MAX_HIT_CHARS, " …")
                            hits.append(f"{display}:{number}: {clipped}")
        except BudgetExceeded as exc:
            found = "\n".join(hits) if hits else "(no matches yet)"
            raise ToolError(
                f"search stopped: {exc}. It had searched {searched:,} files; matches so far:\n"
                + found
            ) from None
        if not hits:
            where = f" in files matching {path_glob!r}" if path_glob else ""
            hits.append(f"no matches for {pattern!r}{where}")
        if total > len(hits):
            hits.append(f"… {total - len(hits)} more matches; narrow the pattern or the path_glob")
        if too_big:
            names = ", ".join(too_big[:5]) + (", …" if len(too_big) > 5 else "")
            hits.append(
                f"note: {len(too_big)} files over {self.max_file_bytes_search:,} bytes "
                f"were not searched: {names}"
            )
        return "\n".join(hits)

    def _size(self, path: Path) -> int:
        try:
            return path.stat().st_size
        except OSError:
            return 0

    def _searchable(self, path: Path, budget: Budget) -> str | None:
        """The text to search in, or None for binary, oversized, special or unreadable files."""
        text = self._read_open(path)
        if text is not None:
            return text if len(text) <= self.max_file_bytes_search else None
        try:
            data = read_regular(path, self.max_file_bytes_search, budget)
        except (OSError, NotRegularFile, FileTooLarge):
            return None
        if b"\x00" in data[:_BINARY_PROBE]:
            return None
        return data.decode("utf-8", errors="replace")

    def list_files(self, glob: str = "**/*") -> str:
        """Tool output: the files matching `glob`, one per line, sorted, capped.

        A glob without wildcards that names a folder lists the files below it.
        """
        text = glob.strip() or "**/*"
        if not has_magic(text):
            try:
                target = self.resolve(text)
            except ToolError:
                target = None
            if target is not None and target.is_dir():
                prefix = self.relative(target)
                text = "**/*" if prefix == "." else f"{prefix}/**"
        matcher = Glob(text)
        found: list[str] = []
        try:
            for display, _ in self.files():
                if matcher.matches(display):
                    found.append(display)
        except BudgetExceeded as exc:
            shown = "\n".join(sorted(found)[: self.max_results]) or "(none yet)"
            raise ToolError(f"list_files stopped: {exc}. Files matching so far:\n{shown}") from None
        found.sort()
        if not found:
            return f"no files match {glob!r}; list_files with no glob lists every file"
        shown_files = found[: self.max_results]
        if len(found) > len(shown_files):
            shown_files.append(f"… {len(found) - len(shown_files)} more files; narrow the glob")
        return "\n".join(shown_files)
