"""The session record and the one schema a session file must satisfy to be loaded.

`Session` is what the server works with: the input items of past turns, the last `usage`,
counters, and where the last AI edit is (`last_action`, for refine / retry). `parse_session`
turns the bytes of a session file into a `Session` or raises `InvalidSession` saying why:
not JSON, nested deeper than `MAX_DEPTH` (checked without recursion, so a file nested 100,000
levels deep is an invalid file, not a `RecursionError`), or not matching `SessionFile` (pydantic:
`last_action` must be an object with its fields, `last_usage` an object of token counts, items
a list of objects, counters non-negative integers, `spent` the session's usage totals).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

FORMAT = 1
MAX_DEPTH = 64
"""Deepest nesting of objects and lists a session file may have (items nest a few levels)."""


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
    epoch: int = 0  # bumped by every rewrite that is not an append (compaction, trimming)
    spent: dict[str, Any] | None = None  # usage.UsageTotals of every turn (None: none yet)

    @property
    def cache_key(self) -> str:
        """Stable per session: keeps the gateway's upstream routing (and its cache) warm."""
        return f"responses-lsp-{self.id}"

    def to_json(self) -> dict[str, Any]:
        """The file's JSON object (shallow: items are shared, not copied)."""
        return {"format": FORMAT, **{f.name: getattr(self, f.name) for f in fields(self)}}

    @classmethod
    def from_json(cls, data: Any) -> Session:
        """The session in parsed JSON `data`; `InvalidSession` when it does not fit the schema."""
        _check_depth(data)
        try:
            record = SessionFile.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the file"
            raise InvalidSession(f"{where}: {first['msg']}") from None
        return cls(
            key=record.key,
            id=record.id,
            items=record.items,
            last_usage=record.last_usage.model_dump(exclude_unset=True)
            if record.last_usage is not None
            else None,
            items_at_usage=min(record.items_at_usage, len(record.items)),
            turns=record.turns,
            compactions=record.compactions,
            last_action=record.last_action.model_dump() if record.last_action is not None else None,
            updated_at=record.updated_at,
            epoch=record.epoch,
            spent=record.spent.model_dump() if record.spent is not None else None,
        )


class InvalidSession(ValueError):
    """A session file that cannot be used; the message says why."""


class _Usage(BaseModel):
    model_config = ConfigDict(extra="allow")

    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    total_tokens: int | None = Field(default=None, ge=0)
    input_tokens_details: dict[str, Any] | None = None
    output_tokens_details: dict[str, Any] | None = None


class _Spent(BaseModel):
    """`usage.UsageTotals` as a session keeps it (files written before it existed: None)."""

    model_config = ConfigDict(extra="ignore")

    input_tokens: int = Field(default=0, ge=0)
    cached_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    reasoning_tokens: int = Field(default=0, ge=0)
    reported: int = Field(default=0, ge=0)
    unreported: int = Field(default=0, ge=0)
    cost: float | None = Field(default=None, ge=0)
    model: str | None = None


class _LastAction(BaseModel):
    model_config = ConfigDict(extra="allow")

    action: str
    uri: str
    start_line: int = Field(ge=0)
    end_line: int = Field(ge=0)
    original: str = ""


class SessionFile(BaseModel):
    """The on-disk form of a `Session` (format 1)."""

    model_config = ConfigDict(extra="ignore")

    format: Literal[1]
    key: str
    id: str = Field(min_length=1, max_length=200)
    items: list[dict[str, Any]]
    last_usage: _Usage | None = None
    items_at_usage: int = Field(default=0, ge=0)
    turns: int = Field(default=0, ge=0)
    compactions: int = Field(default=0, ge=0)
    last_action: _LastAction | None = None
    updated_at: float = 0.0
    epoch: int = Field(default=0, ge=0)
    spent: _Spent | None = None
    """Added after format 1 shipped: older files load with None (nothing recorded yet) and
    gain it with their next turn; older servers ignore it (extra="ignore")."""


def clean_usage(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    """`usage` as the schema accepts it, or None: what is written must load again."""
    if usage is None:
        return None
    try:
        return _Usage.model_validate(usage).model_dump(exclude_unset=True)
    except ValidationError:
        return None


def clean_last_action(last_action: dict[str, Any] | None) -> dict[str, Any] | None:
    """`last_action` as the schema accepts it, or None."""
    if last_action is None:
        return None
    try:
        return _LastAction.model_validate(last_action).model_dump()
    except ValidationError:
        return None


def parse_session(raw: bytes) -> Session:
    """The session in the bytes of a session file, or `InvalidSession`."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise InvalidSession(f"nested deeper than {MAX_DEPTH} levels") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidSession(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidSession("not a session file (the JSON is not an object)")
    if data.get("format") != FORMAT:
        raise InvalidSession("not a session file of this format")
    return Session.from_json(data)


def _check_depth(data: Any) -> None:
    """`InvalidSession` when `data` nests deeper than `MAX_DEPTH` (no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            raise InvalidSession(f"nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)
