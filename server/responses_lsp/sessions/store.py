"""Sessions on disk: one JSON file per session under the state directory, shared by processes.

A session is the list of input items of past turns — each action's user message and the
model's output items as they arrived (assistant messages, reasoning items with their
`encrypted_content`, tool calls and outputs, compaction items) — plus the last `usage`
(`schema.Session`). Files are written atomically (a unique temporary file in the same folder,
fsync, rename; the temporary file is removed when anything fails) and bounded in size: the
oldest turns are dropped, in one linear pass, when the file would exceed `max_bytes`.

Loading never trusts the file: it is read up to `max_bytes`, parsed and validated against one
schema (`schema.parse_session`); anything malformed — wrong types, absurd nesting, oversize —
is moved aside once (`<name>.corrupt-<time>`) with one message and the session starts fresh.
A problem with the state directory itself (cannot be created, not writable, disk full, a
folder where the file should be) is reported once per server and logged after that.

DESIGN — several processes, one session. Two editor windows, or an editor and the CLI, run
separate servers on one workspace, so one session file has several writers. Each process keeps
a copy in memory but never writes that copy back whole (last writer wins, turns lost). Every
change is an *operation* — append a turn, remember the last edit, replace the compacted
history, reset — applied in a read-merge-write cycle (`update`):

1. take an exclusive `fcntl.flock` on the session's lock file `<name>.lock` (never deleted, so
   every process locks the same inode), waiting at most `LOCK_WAIT` seconds;
2. read the file as it is now, with the turns other processes appended;
3. apply the operation to that copy, and write it atomically; release the lock;
4. the in-memory session becomes that copy.

The lock is held only for one read and one write (milliseconds), so the wait is short; a
process that cannot get it in time (a stuck peer) applies its change unlocked and logs it,
rather than losing the turn. Readers do not lock — a rename is atomic — and refresh their copy
when the file's identity (inode, size, mtime) changed (`refresh`, on every `get`).
Appends commute, so interleaved actions keep every turn. Compaction replaces a prefix of the
history; it applies only if the file still starts with the history that was compacted (same
session id and `epoch`, which every non-append rewrite bumps), and keeps the turns appended
meanwhile after the compacted items; otherwise another process rewrote the history first and
the result is dropped. A reset writes an empty session with a new id, so other processes see
it rather than bring the old turns back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from platformdirs import user_state_dir

from responses_lsp.sessions.schema import InvalidSession, Session, parse_session

__all__ = ["MAX_FILE_BYTES", "Session", "SessionStore", "default_state_dir", "file_name"]

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 4 * 1024 * 1024
"""A session file larger than this drops its oldest turns (compaction normally prevents it)."""
LOCK_WAIT = 2.0
"""Seconds to wait for another process's read-merge-write of the same session."""

STALE_TEMPORARY = 600.0
"""Seconds after which a leftover temporary file cannot belong to a save still under way."""

_Identity = tuple[int, int, int]  # inode, size, mtime (ns): changes with every rename


def default_state_dir() -> Path:
    """$RESPONSES_LSP_STATE_DIR, else the platform's user state directory."""
    override = os.environ.get("RESPONSES_LSP_STATE_DIR")
    if override:
        return Path(override)
    return Path(user_state_dir("responses-lsp", appauthor=False)) / "sessions"


def file_name(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24] + ".json"


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _adopt(session: Session, source: Session) -> None:
    """Make `session` (the object jobs hold) a copy of `source`."""
    for spec in dataclasses.fields(Session):
        setattr(session, spec.name, getattr(source, spec.name))


class SessionStore:
    """Loads sessions lazily, keeps them in memory, and merges each change into the file."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = MAX_FILE_BYTES,
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.on_problem = on_problem
        self._sessions: dict[str, Session] = {}
        self._seen: dict[str, _Identity | None] = {}  # the file version each copy reflects
        self._reported: set[str] = set()
        self._persisted: set[str] = set()  # keys whose file this process has read or written

    def path(self, key: str) -> Path:
        return self.directory / file_name(key)

    # ------------------------------------------------------------------ reading

    def get(self, key: str) -> Session:
        session = self._sessions.get(key)
        if session is None:
            session = self._load(key) or Session(key=key)
            self._sessions[key] = session
        else:
            self.refresh(session)
        return session

    def refresh(self, session: Session) -> None:
        """Pick up what another process wrote to `session`'s file since this copy was made."""
        identity = self._identity(session.key)
        if identity is None or identity == self._seen.get(session.key):
            return
        loaded = self._load(session.key)
        if loaded is not None:
            _adopt(session, loaded)

    def _identity(self, key: str) -> _Identity | None:
        try:
            info = os.stat(self.path(key))
        except OSError:
            return None
        return (info.st_ino, info.st_size, info.st_mtime_ns)

    def _load(self, key: str) -> Session | None:
        """The session in `key`'s file, or None (missing, unreadable, or moved aside)."""
        path = self.path(key)
        if key not in self._seen:
            self._sweep(path)
        try:
            # non-blocking: a FIFO where the file should be must not freeze the server
            with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
                info = os.fstat(handle.fileno())
                identity = (info.st_ino, info.st_size, info.st_mtime_ns)
                if not stat.S_ISREG(info.st_mode):
                    raise IsADirectoryError(errno.EISDIR, "not a regular file")
                if info.st_size > self.max_bytes:
                    raise InvalidSession(
                        f"{info.st_size:,} bytes, over the bound of {self.max_bytes:,}"
                    )
                raw = handle.read(self.max_bytes + 1)
        except FileNotFoundError:
            self._seen[key] = None
            return None
        except InvalidSession as exc:
            self._move_aside(key, str(exc))
            return None
        except OSError as exc:
            self._problem(
                f"state:{self.directory}",
                f"could not read session file {path}: {exc.strerror or exc}; starting a new "
                "session, kept in memory only (this is reported once)",
            )
            return None
        try:
            session = parse_session(raw)
            if session.key != key:
                raise InvalidSession("the file belongs to another session")
        except InvalidSession as exc:
            self._move_aside(key, str(exc))
            return None
        self._seen[key] = identity
        self._persisted.add(key)
        return session

    def _sweep(self, path: Path) -> None:
        """Remove the temporary files of saves killed midway (`kill -9`), once they are old."""
        cutoff = time.time() - STALE_TEMPORARY
        try:
            leftovers = list(self.directory.glob(f".{path.name}.*.tmp"))
        except OSError:
            return
        for leftover in leftovers:
            with contextlib.suppress(OSError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()

    def _move_aside(self, key: str, why: str) -> None:
        path = self.path(key)
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        try:
            path.replace(aside)
        except OSError as exc:
            log.warning("could not move %s aside: %s", path, exc)
        self._seen[key] = None
        self._problem(
            f"corrupt:{path}",
            f"session file {path.name} was unreadable ({why}); moved aside to {aside.name}, "
            "starting a new session",
        )

    # ------------------------------------------------------------------ changing

    def update(self, session: Session, change: Callable[[Session], None]) -> None:
        """Apply `change` to the current on-disk version of `session` and save it (module doc).

        `session` (the caller's object) ends as the merged version.
        """
        with self._locked(session.key):
            base = self._merge_base(session)
            change(base)
            self._write(base)
        _adopt(session, base)

    def _merge_base(self, session: Session) -> Session:
        key = session.key
        identity = self._identity(key)
        if identity is not None and identity == self._seen.get(key):
            return dataclasses.replace(session, items=list(session.items))  # no one wrote since
        on_disk = self._load(key) if identity is not None else None
        if on_disk is not None:
            return on_disk
        if key not in self._persisted:  # never on disk (e.g. the state dir is not writable)
            return dataclasses.replace(session, items=list(session.items))
        return Session(key=key)  # the file was removed (by hand, or moved aside): start over

    def save(self, session: Session) -> None:
        """Write `session` as it is, replacing the file (one writer; `update` merges)."""
        with self._locked(session.key):
            self._write(session)

    def reset(self, key: str) -> Session:
        """Forget the history: an empty session with a new id, visible to other processes."""
        session = self._sessions.get(key) or Session(key=key)
        fresh = Session(key=key)
        with self._locked(key):
            self._write(fresh)
        _adopt(session, fresh)
        self._sessions[key] = session
        return session

    def _write(self, session: Session) -> None:
        session.updated_at = time.time()
        data = self._encode(session).encode("utf-8")
        path = self.path(session.key)
        temporary: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(
                dir=self.directory, prefix=f".{path.name}.", suffix=".tmp"
            )
            with open(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            Path(temporary).replace(path)  # atomic: readers see the old file or the new one
            temporary = None
            self._seen[session.key] = self._identity(session.key)
            self._persisted.add(session.key)
        except OSError as exc:
            self._problem(
                f"state:{self.directory}",
                f"could not save the session to {path}: {exc.strerror or exc}; "
                "the conversation is kept in memory only (this is reported once)",
            )
        finally:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)

    def _encode(self, session: Session) -> str:
        """The file's JSON, after dropping the oldest turns (one linear pass) to fit."""
        data = _dumps(session.to_json())
        if len(data.encode("utf-8")) <= self.max_bytes:
            return data
        sizes = [len(_dumps(item).encode("utf-8")) + 1 for item in session.items]  # + a comma
        fixed = len(data.encode("utf-8")) - sum(sizes)
        starts = [
            i
            for i, item in enumerate(session.items)
            if item.get("type") == "message" and item.get("role") == "user"
        ]
        size, cut = fixed + sum(sizes), 0
        for start in starts[1:]:  # never the last turn
            size -= sum(sizes[cut:start])  # each item is counted once: linear
            cut = start
            if size <= self.max_bytes:
                break
        if cut:
            del session.items[:cut]
            session.items_at_usage = max(0, session.items_at_usage - cut)
            session.epoch += 1
            log.warning(
                "session %s exceeded its size bound; dropped its oldest %d items", session.id, cut
            )
        return _dumps(session.to_json())

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        """An exclusive lock on `key`'s lock file, waited for at most `LOCK_WAIT` seconds."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path(key).with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:  # no state dir: nothing to lock, and `_write` reports the problem
            yield
            return
        try:
            deadline = time.monotonic() + LOCK_WAIT
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        log.warning(
                            "session %s: lock busy for %.1f s; writing anyway", key, LOCK_WAIT
                        )
                        break
                    time.sleep(0.002)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _problem(self, kind: str, message: str) -> None:
        if kind in self._reported:
            log.info("%s", message)
            return
        self._reported.add(kind)
        log.warning("%s", message)
        if self.on_problem is not None:
            self.on_problem(f"responses-lsp: {message}")
