"""The shapes a job is made of: its request, its result, and what it needs from the server.

`JobRequest` is what `responses-lsp.run` asks for (structured from the command's arguments by
`jobs.arguments`); `Job` is one run of it, with the region it claimed; `JobResult` is how a job
ends (the `responsesLsp/jobDone` notification and `responses-lsp.jobResult` carry it);
`JobHost` is the whole of the server a job may use (so jobs can be driven by tests), and
`Progress` its work-done progress. `JobBody` is what differs between kinds of job (one file
streamed, several files through tools, a session compaction): the manager runs every body
through the same lifecycle.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the heavy modules: imported by the jobs package itself, after startup
    from lsprotocol import types as t

    from responses_lsp.api.client import ResponsesClient
    from responses_lsp.editing.driver import EditDriver
    from responses_lsp.editing.live_region import RegionJob
    from responses_lsp.errors import ResponsesLspError
    from responses_lsp.jobs.arguments import Diagnostic
    from responses_lsp.sessions.manager import SessionManager
    from responses_lsp.sessions.schema import Session
    from responses_lsp.settings import ResolvedSettings
    from responses_lsp.usage import UsageTotals


class JobHost(Protocol):
    """What a job needs from the server."""

    @property
    def driver(self) -> EditDriver: ...
    @property
    def sessions(self) -> SessionManager: ...
    def settings(self) -> ResolvedSettings: ...
    def api(self) -> ResponsesClient: ...
    def show(self, kind: str, message: str) -> None: ...
    async def progress_begin(self, token: str, title: str, message: str) -> bool: ...
    def progress_report(self, token: str, message: str) -> None: ...
    def progress_end(self, token: str, message: str) -> None: ...
    def relative_path(self, uri: str) -> str: ...
    def session_for(self, uri: str) -> Session | None: ...
    def folder_paths(self) -> list[Path]: ...
    def edit_capabilities(self) -> dict[str, bool]: ...
    async def apply_workspace_edit(self, edit: t.WorkspaceEdit, label: str) -> bool: ...
    def job_done(self, result: dict[str, Any]) -> None: ...


@dataclass
class JobRequest:
    action_id: str
    uri: str
    start: tuple[int, int]  # client units
    end: tuple[int, int]
    instruction: str = ""
    diagnostics: tuple[Diagnostic | str, ...] = ()  # as the code action sent them


@dataclass
class JobResult:
    job_id: int
    outcome: str  # applied | restored | cancelled | conflict | error | partial | closed | …
    message: str = ""
    tokens: int = 0
    edits: int = 0
    edit_bytes: int = 0
    seconds: float = 0.0
    error_kind: str | None = None  # usage | config | busy | state | api | internal
    details: dict[str, Any] = field(default_factory=dict)  # fields of other kinds of job
    usage: UsageTotals | None = None  # summed over the job's responses; None: no request made

    def as_json(self) -> dict[str, Any]:
        return {
            "usage": self.usage.as_json() if self.usage is not None else None,
            **self.details,
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
    task: asyncio.Task[None] | None = None  # the body's work (stream, tool loop) once it runs
    runner: asyncio.Future[None] | None = None  # the whole job after its command answered
    cancel_reason: str | None = None
    region: RegionJob | None = None  # the lines a single-file job streams into
    original: str = ""  # for follow-ups: the code before the first edit of the chain
    done: asyncio.Event = field(default_factory=asyncio.Event)  # the engine is done
    finished: asyncio.Event = field(default_factory=asyncio.Event)  # the job has returned


class Progress:
    """A job's work-done progress: begun once, reported while it runs, ended with the outcome.

    Every call is a no-op when the client has no work-done progress (or refused the token)."""

    def __init__(self, host: JobHost, token: str) -> None:
        self.host = host
        self.token = token
        self.shown = False

    async def begin(self, title: str, message: str = "asking the model…") -> None:
        self.shown = await self.host.progress_begin(self.token, title, message)

    def report(self, message: str) -> None:
        if self.shown:
            self.host.progress_report(self.token, message)

    def end(self, message: str) -> None:
        if self.shown:
            self.host.progress_end(self.token, message)
            self.shown = False


class JobBody(Protocol):
    """One kind of job's own work; `JobManager` gives every kind the same lifecycle.

    `run` does the work (it is the job's cancellable task); `settle` turns how it ended
    (`error`: a `ResponsesLspError` it raised, `cancelled`: the task was cancelled) into the
    result once the editor has confirmed what it will (the manager then ends the progress,
    tells the user, and announces the result)."""

    title: str

    async def run(self, progress: Progress) -> None: ...
    async def settle(
        self, error: ResponsesLspError | None, cancelled: bool, seconds: float
    ) -> JobResult: ...
