"""Sessions: the conversation kept with the model per workspace folder (or document), on disk.

A session is the list of input items of past turns — each action's user message and the
model's output items as they arrived (assistant messages, reasoning items with their
`encrypted_content`, tool calls and outputs, compaction items) — plus the last `usage`.
One JSON file per session under the state directory, written atomically (temporary file,
fsync, rename), bounded in size. A file that cannot be read is moved aside and the session
starts empty: a broken state file never stops the server.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT = 1
MAX_FILE_BYTES = 4 * 1024 * 1024
"""A session file larger than this drops its oldest turns (compaction normally prevents it)."""


def default_state_dir() -> Path:
    """$RESPONSES_LSP_STATE_DIR, else the platform's user state directory."""
    override = os.environ.get("RESPONSES_LSP_STATE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_state_dir

    return Path(user_state_dir("responses-lsp", appauthor=False)) / "sessions"


@dataclass
class Session:
    key: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    items: list[dict[str, Any]] = field(default_factory=list)
    last_usage: dict[str, Any] | None = None
    items_at_usage: int = 0  # len(items) when last_usage was measured
    turns: int = 0
    compactions: int = 0
    last_action: dict[str, Any] | None = None
    updated_at: float = field(default_factory=time.time)

    @property
    def cache_key(self) -> str:
        """Stable per session: keeps the gateway's upstream routing (and its cache) warm."""
        return f"responses-lsp-{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a session file of this format")
        items = data.get("items")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValueError("items must be a list of objects")
        return cls(
            key=str(data["key"]),
            id=str(data["id"]),
            items=items,
            last_usage=data.get("last_usage"),
            items_at_usage=int(data.get("items_at_usage", 0)),
            turns=int(data.get("turns", 0)),
            compactions=int(data.get("compactions", 0)),
            last_action=data.get("last_action"),
            updated_at=float(data.get("updated_at", 0.0)),
        )


def file_name(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24] + ".json"


class SessionStore:
    """Loads sessions lazily, keeps them in memory, and writes each change atomically."""

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

    def path(self, key: str) -> Path:
        return self.directory / file_name(key)

    def get(self, key: str) -> Session:
        session = self._sessions.get(key)
        if session is None:
            session = self._load(key) or Session(key=key)
            self._sessions[key] = session
        return session

    def _load(self, key: str) -> Session | None:
        path = self.path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._problem(f"could not read session file {path}: {exc}; starting a new session")
            return None
        try:
            session = Session.from_json(json.loads(raw))
            if session.key != key:
                raise ValueError("the file belongs to another session")
            return session
        except (ValueError, KeyError, TypeError) as exc:
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            with contextlib.suppress(OSError):
                path.replace(aside)
            self._problem(
                f"session file {path.name} was unreadable ({exc}); moved aside to {aside.name}, "
                "starting a new session"
            )
            return None

    def save(self, session: Session) -> None:
        session.updated_at = time.time()
        data = json.dumps(session.to_json(), ensure_ascii=False, separators=(",", ":"))
        while len(data.encode("utf-8")) > self.max_bytes and _drop_oldest_turn(session):
            data = json.dumps(session.to_json(), ensure_ascii=False, separators=(",", ":"))
        path = self.path(session.key)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(temporary, "w", encoding="utf-8") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(path)  # atomic: readers see the old file or the new one
        except OSError as exc:
            self._problem(f"could not save the session to {path}: {exc}")

    def reset(self, key: str) -> Session:
        self._sessions.pop(key, None)
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()
        session = Session(key=key)
        self._sessions[key] = session
        return session

    def _problem(self, message: str) -> None:
        log.warning("%s", message)
        if self.on_problem is not None:
            self.on_problem(f"responses-lsp: {message}")


def _drop_oldest_turn(session: Session) -> bool:
    """Remove the oldest turn (a user message and everything up to the next one)."""
    starts = [
        i
        for i, item in enumerate(session.items)
        if item.get("type") == "message" and item.get("role") == "user"
    ]
    if len(starts) < 2:
        return False
    del session.items[: starts[1]]
    session.items_at_usage = max(0, session.items_at_usage - starts[1])
    log.warning("session %s exceeded its size bound; dropped its oldest turn", session.id)
    return True
