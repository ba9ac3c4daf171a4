"""The shapes a job is made of: its request, its result, and what it needs from the server.

`JobRequest` parses the `responses-lsp.run` argument object; `JobResult` is how a job ends
(the `responsesLsp/jobDone` notification and `responses-lsp.jobResult` carry it); `JobHost`
is the whole of the server a job may use (so jobs can be driven by tests).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class JobHost(Protocol):
    """What a job needs from the server."""

    driver: Any
    sessions: Any

    def settings(self) -> Any: ...
    def api(self) -> Any: ...
    def show(self, kind: str, message: str) -> None: ...
    async def progress_begin(self, token: str, title: str, message: str) -> bool: ...
    def progress_report(self, token: str, message: str) -> None: ...
    def progress_end(self, token: str, message: str) -> None: ...
    def relative_path(self, uri: str) -> str: ...
    def session_for(self, uri: str) -> Any: ...
    def folder_paths(self) -> list[Path]: ...
    def edit_capabilities(self) -> dict[str, bool]: ...
    async def apply_workspace_edit(self, edit: Any, label: str) -> bool: ...
    def job_done(self, result: dict[str, Any]) -> None: ...


@dataclass
class JobRequest:
    action_id: str
    uri: str
    start: tuple[int, int]  # client units
    end: tuple[int, int]
    instruction: str = ""
    diagnostics: tuple[str, ...] = ()

    @classmethod
    def from_arguments(cls, args: Any) -> JobRequest:
        """Parse `responses-lsp.run` arguments: one object (or its fields as a list)."""
        data = args[0] if isinstance(args, list | tuple) and args else args
        if not isinstance(data, dict):
            raise ValueError("expected one argument object {action, uri, range, instruction?}")
        rng = data.get("range") or {}
        start = rng.get("start") or {"line": 0, "character": 0}
        end = rng.get("end") or start
        diagnostics = tuple(_diagnostic_text(d) for d in data.get("diagnostics") or ())
        return cls(
            action_id=str(data["action"]),
            uri=str(data["uri"]),
            start=(int(start["line"]), int(start["character"])),
            end=(int(end["line"]), int(end["character"])),
            instruction=str(data.get("instruction") or ""),
            diagnostics=diagnostics,
        )


def _diagnostic_text(diagnostic: Any) -> str:
    """A diagnostic from the command arguments as the prompt lists it."""
    if isinstance(diagnostic, str):
        return diagnostic
    if not isinstance(diagnostic, dict):
        return str(diagnostic)
    from responses_lsp.actions.prompts import format_diagnostic

    line = (diagnostic.get("range") or {}).get("start", {}).get("line", 0) + 1
    severity = {1: "error", 2: "warning", 3: "info", 4: "hint"}.get(
        int(diagnostic.get("severity") or 0), "problem"
    )
    return format_diagnostic(
        line,
        severity,
        str(diagnostic.get("message", "")),
        diagnostic.get("source"),
        diagnostic.get("code"),
    )


@dataclass
class JobResult:
    job_id: int
    outcome: str  # applied | restored | cancelled | conflict | error | partial | closed
    message: str = ""
    tokens: int = 0
    edits: int = 0
    edit_bytes: int = 0
    seconds: float = 0.0
    error_kind: str | None = None  # usage | config | busy | state | api | internal

    def as_json(self) -> dict[str, Any]:
        return {
            "jobId": self.job_id,
            "outcome": self.outcome,
            "errorKind": self.error_kind,
            "message": self.message,
            "tokens": self.tokens,
            "edits": self.edits,
            "editBytes": self.edit_bytes,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class Job:
    id: int
    request: JobRequest
    token: str
    task: asyncio.Task[Any] | None = None  # the stream (or tool loop) once it runs
    runner: asyncio.Future[Any] | None = None  # the whole job after its command answered
    cancel_reason: str | None = None
    region: Any = None
    original: str = ""  # for follow-ups: the code before the first edit of the chain
    done: asyncio.Event = field(default_factory=asyncio.Event)  # the engine is done
    finished: asyncio.Event = field(default_factory=asyncio.Event)  # the job has returned
