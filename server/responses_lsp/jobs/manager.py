"""Jobs: one code action run end to end, from the command to the last confirmed edit.

A job validates its request and claims a region in the edit engine while the command is
being answered; the command then answers at once with the job id (DESIGN I9: no request
waits on a stream). The job lives on as its own task, and every kind of job — one file
streamed (`single.py`), several files through tools (`multi_file.py`), a session compaction
(`compaction.py`) — goes through the same lifecycle (`_drive`): open a cancellable work-done
progress, run the body's work as the job's task, let the body `settle` how it ended, then
one outcome path (`_end`): the progress ends with the outcome's message, the user is told
when it matters, and the result goes to the client as the `responsesLsp/jobDone`
notification (for clients that asked for it) and stays queryable through
`responses-lsp.jobResult`. Every way out — success, the user's cancel (progress, command,
didClose, shutdown), an API error, an empty or non-code answer, the user typing inside the
region — goes through the engine, so the buffer ends whole (DESIGN I2). The host protocol
is all a job knows of the server, so this module can be driven by tests.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from responses_lsp.actions.catalog import all_actions, find_action
from responses_lsp.actions.privacy import is_secret_path
from responses_lsp.actions.selection import action_range
from responses_lsp.contract import progress_token
from responses_lsp.editing.live_region import Overlap
from responses_lsp.errors import MissingApiKey, ResponsesLspError
from responses_lsp.jobs.arguments import RunArguments
from responses_lsp.jobs.checks import lone_surrogate_line, range_problem
from responses_lsp.jobs.compaction import CompactionJob
from responses_lsp.jobs.landed import LandedEdits
from responses_lsp.jobs.multi_file import MultiFileJob
from responses_lsp.jobs.single import SingleFileJob
from responses_lsp.jobs.types import Job, JobBody, JobHost, JobRequest, JobResult, Progress
from responses_lsp.sessions.schema import Session

log = logging.getLogger(__name__)

KEEP_RESULTS = 64
"""Finished jobs whose result `responses-lsp.jobResult` still knows."""
SHOWN = {
    "error": "error",
    "rejected": "error",
    "conflict": "warning",
    "restored": "warning",
    "unchanged": "info",
}
"""The outcomes the user is told of (window/showMessage), and how loudly."""


class JobManager:
    """Starts, tracks and cancels jobs."""

    _ids = itertools.count(1)

    def __init__(self, host: JobHost, landed: LandedEdits | None = None) -> None:
        self.host = host
        self.jobs: dict[int, Job] = {}
        self.results: OrderedDict[int, dict[str, Any]] = OrderedDict()
        # finished edits "Revert AI edit" can still undo (the runtime's, which outlive this)
        self.landed = LandedEdits() if landed is None else landed

    # ------------------------------------------------------------------ control

    def cancel(
        self,
        *,
        job_id: int | None = None,
        uri: str | None = None,
        token: str | None = None,
        reason: str = "cancelled",
    ) -> int:
        """Cancel matching jobs (all when nothing is given); returns how many."""
        count = 0
        for job in list(self.jobs.values()):
            if job_id is not None and job.id != job_id:
                continue
            if uri is not None and job.request.uri != uri:
                continue
            if token is not None and job.token != token:
                continue
            if job.task is not None:
                target: asyncio.Future[None] = job.task
            elif job.runner is not None:
                target = job.runner  # still opening its progress: nothing streamed yet
            else:
                continue
            if target.done():
                continue
            job.cancel_reason = reason
            target.cancel()
            count += 1
        return count

    async def drain(self, limit: float) -> None:
        """Wait (at most `limit` seconds) for every job to finish, e.g. after cancelling."""
        waiting = [job.finished.wait() for job in self.jobs.values()]
        if waiting:
            await asyncio.wait([asyncio.ensure_future(w) for w in waiting], timeout=limit)

    def status(self, job_id: int) -> dict[str, Any]:
        """What `responses-lsp.jobResult` answers: running, done (with the result) or unknown."""
        if job_id in self.results:
            return {"jobId": job_id, "state": "done", "result": self.results[job_id]}
        if job_id in self.jobs:
            return {"jobId": job_id, "state": "running", "result": None}
        return {"jobId": job_id, "state": "unknown", "result": None}

    def running(self) -> list[dict[str, Any]]:
        return [
            {
                "jobId": job.id,
                "action": job.request.action_id,
                "uri": job.request.uri,
                "token": job.token,
            }
            for job in self.jobs.values()
        ]

    # ------------------------------------------------------------------ starting

    def start(self, arguments: RunArguments) -> dict[str, Any]:
        """Validate the request of `responses-lsp.run`, start its job, say so at once (DESIGN I9).

        The answer is `{"jobId", "outcome": "started", "token"}`, and the end of the job is
        announced later by `responsesLsp/jobDone`; or, when the request is refused before
        anything runs, the answer is the final result itself (no notification follows).
        Both are kept for `responses-lsp.jobResult`."""
        job = self._register(job_request(arguments))
        started = time.monotonic()
        try:
            prepared = self._prepare(job, started)
        except Exception as exc:  # a bug: report it, never take the server down
            log.exception("job %d failed to start", job.id)
            prepared = self._fail(
                job, started, f"responses-lsp: internal error ({type(exc).__name__})", "internal"
            )
        if isinstance(prepared, JobResult):
            return self._finish(job, prepared, announce=False)  # the answer is the result
        job.runner = asyncio.ensure_future(self._live(job, prepared, started))
        return {"jobId": job.id, "outcome": "started", "token": job.token}

    def spawn(self, request: JobRequest, body: Callable[[Job], JobBody]) -> dict[str, Any]:
        """Run a job that is not an edit (e.g. a session compaction), answered at once.

        It gets a job id and token, and its end is told like any job's: `responsesLsp/jobDone`,
        `responses-lsp.jobResult`; it is cancelled like one (command, progress, shutdown)."""
        job = self._register(request)
        job.runner = asyncio.ensure_future(self._live(job, body(job), time.monotonic()))
        return {"jobId": job.id, "outcome": "started", "token": job.token}

    def compact(self, uri: str, session: Session, *, command: str) -> dict[str, Any]:
        """Compact `session` (of `uri`) as a job, answered at once; `command` (the one that
        asked) is the job's action."""
        request = JobRequest(action_id=command, uri=uri, start=(0, 0), end=(0, 0))
        return self.spawn(request, lambda job: CompactionJob(self.host, job, session))

    def _register(self, request: JobRequest) -> Job:
        """A new job with its id and progress token, known to cancel/jobs from now on."""
        job_id = next(self._ids)
        job = Job(id=job_id, request=request, token=progress_token(job_id))
        self.jobs[job.id] = job
        return job

    def _prepare(self, job: Job, started: float) -> JobResult | JobBody:
        """Checks that need no I/O, and the region claimed; a refusal is a JobResult."""
        host, request = self.host, job.request
        resolved = host.settings()
        settings = resolved.settings
        action = find_action(all_actions(settings.actions), request.action_id)
        if action is None:
            return self._fail(job, started, f"responses-lsp: unknown action {request.action_id!r}.")
        doc = host.driver.get(request.uri)
        if doc is None:
            return self._fail(job, started, "responses-lsp: the document is not open.", "state")
        if is_secret_path(request.uri, settings.deny_patterns):
            return self._fail(
                job, started, "responses-lsp: refusing to send a secrets file to the model."
            )
        if not resolved.has_key:
            message = MissingApiKey(settings.api_key_env).user_message()
            return self._fail(job, started, message, "config")
        if action.needs_instruction and not request.instruction.strip():
            return self._fail(job, started, "responses-lsp: this action needs an instruction.")
        problem = range_problem(doc, request.start, request.end)
        if problem:
            return self._fail(job, started, f"responses-lsp: {problem}; nothing was changed.")
        start = doc.from_client(host.driver.encoding, *request.start)
        end = doc.from_client(host.driver.encoding, *request.end)
        if action.follow_up:
            session = host.session_for(request.uri)
            last = session.last_action if session is not None else None
            if not last or last.get("uri") != request.uri:
                return self._fail(
                    job, started, "responses-lsp: there is no earlier AI edit in this document."
                )
            if start == end:  # no selection: the lines of the last edit
                start, end = (int(last["start_line"]), 0), (int(last["end_line"]), 0)
            job.original = str(last.get("original") or "")
            if action.id == "retry-last" and job.original:
                request.instruction += (
                    "\n\nThe original code, before your previous answer:\n" + job.original
                )
        span = action_range(doc, start, end, scope=action.scope)
        if span is None:
            return self._fail(job, started, "responses-lsp: nothing to rewrite here.")
        lone = lone_surrogate_line(doc, span)
        if lone is not None:
            return self._fail(
                job,
                started,
                f"responses-lsp: line {lone + 1} holds a lone UTF-16 surrogate (a broken "
                "character that is not valid Unicode); fix or delete it, then run the action "
                "again. Nothing was changed.",
            )
        if action.multi_file:
            return MultiFileJob(host, job, action, doc, span)
        try:
            region = host.driver.start_region(
                request.uri,
                span[0],
                span[1],
                keep_partial=settings.keep_partial_on_cancel,
                job_id=job.id,
            )
        except Overlap:
            return self._fail(
                job,
                started,
                "responses-lsp: another AI edit is already running on these lines.",
                "busy",
            )
        job.region = region
        region.on_done = lambda _region: job.done.set()
        return SingleFileJob(host, job, action, doc, region)

    # ------------------------------------------------------------------ the lifecycle

    async def _live(self, job: Job, body: JobBody, started: float) -> None:
        try:
            result = await self._drive(job, body, started)
        except asyncio.CancelledError:
            # Cancelled before its work started (or the server is going away).
            message = f"{job.cancel_reason or 'cancelled'}; nothing was changed"
            if job.region is not None:
                job.region.restore()
                self.host.driver.pump(job.request.uri)
            result = JobResult(
                job_id=job.id,
                outcome="cancelled",
                message=message,
                seconds=time.monotonic() - started,
            )
        except Exception as exc:  # a bug: report it, never take the buffer or server down
            log.exception("job %d failed", job.id)
            message = f"responses-lsp: internal error ({type(exc).__name__}: {exc})"
            self.host.show("error", message)
            result = JobResult(
                job_id=job.id,
                outcome="error",
                message=message,
                seconds=time.monotonic() - started,
                error_kind="internal",
            )
        self._finish(job, result)

    async def _drive(self, job: Job, body: JobBody, started: float) -> JobResult:
        """Every job's lifecycle: progress, the body's work as the job's task, its outcome."""
        progress = Progress(self.host, job.token)
        await progress.begin(body.title)
        job.task = asyncio.create_task(body.run(progress))
        if job.cancel_reason:  # cancelled while the progress was being created
            job.task.cancel()
        error: ResponsesLspError | None = None
        try:
            await asyncio.shield(job.task)
        except asyncio.CancelledError:
            if not job.task.done():
                # Not the work but the job itself was cancelled: the event loop is ending
                # (the client closed the connection). Nothing can be confirmed any more.
                job.cancel_reason = job.cancel_reason or "cancelled: the server is stopping"
                job.task.cancel()
                raise
        except ResponsesLspError as exc:
            error = exc
        except Exception as exc:  # a bug: never let it take the buffer or the server down
            log.exception("job %d failed", job.id)
            error = ResponsesLspError(
                f"responses-lsp: internal error ({type(exc).__name__}: {exc})"
            )
        result = await body.settle(error, job.task.cancelled(), time.monotonic() - started)
        if isinstance(body, SingleFileJob) and result.outcome == "applied":
            body.land(self.landed)
        self._end(job, result, progress)
        return result

    def _end(self, job: Job, result: JobResult, progress: Progress) -> None:
        """The one outcome path: the progress ends with the outcome, the user is told."""
        progress.end(end_message(result))
        kind = SHOWN.get(result.outcome)
        if kind is None and result.details.get("check") == "kept":
            kind = "warning"  # applied, but the code does not parse: the user must know
        quiet = result.outcome == "restored" and job.cancel_reason  # the user asked for it
        if kind is not None and result.message and not quiet:
            self.host.show(kind, result.message)
        log.info(
            "job %d %s: %s tokens, %d edits, %d bytes, %.2f s; %s",
            job.id,
            result.outcome,
            result.tokens,
            result.edits,
            result.edit_bytes,
            result.seconds,
            result.usage.text() if result.usage is not None else "no request made",
        )

    def _finish(self, job: Job, result: JobResult, *, announce: bool = True) -> dict[str, Any]:
        """The job is over: forget it, keep its result, tell the client (`announce`)."""
        self.jobs.pop(job.id, None)
        job.finished.set()
        payload = result.as_json()
        payload["uri"] = job.request.uri
        payload["action"] = job.request.action_id
        self.results[job.id] = payload
        while len(self.results) > KEEP_RESULTS:
            self.results.popitem(last=False)
        if announce:
            self.host.job_done(payload)
        return payload

    def _fail(self, job: Job, started: float, message: str, kind: str = "usage") -> JobResult:
        self.host.show("error", message)
        return JobResult(
            job_id=job.id,
            outcome="error",
            message=message,
            seconds=time.monotonic() - started,
            error_kind=kind,
        )


def end_message(result: JobResult) -> str:
    """The progress end message: the outcome's message, then what the job's responses cost
    ("usage not reported" when the endpoint said nothing; nothing when no request was made)."""
    message = result.message or result.outcome
    if result.usage is None or not result.usage.any:
        return message
    return f"{message} · {result.usage.text()}"


def job_request(arguments: RunArguments) -> JobRequest:
    """The job `responses-lsp.run` asks for (positions still in the client's units)."""
    start = arguments.range.start
    end = arguments.range.end or start
    return JobRequest(
        action_id=arguments.action,
        uri=arguments.uri,
        start=(start.line, start.character),
        end=(end.line, end.character),
        instruction=arguments.instruction or "",
        diagnostics=tuple(arguments.diagnostics),
    )
