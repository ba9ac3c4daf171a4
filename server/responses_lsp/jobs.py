"""Jobs: one code action run end to end, from the command to the last confirmed edit.

A job validates its request and claims a region in the edit engine while the command is
being answered; the command then answers at once with the job id (DESIGN I9: no request
waits on a stream). The job lives on as its own task: it opens a cancellable work-done
progress, asks the model, feeds the sanitized stream to the engine, and ends with one
clear outcome, which goes to the client as the `responsesLsp/jobDone` notification (for
clients that asked for it) and stays queryable through `responses-lsp.jobResult`. Every
way out — success, the user's cancel (progress, command, didClose, shutdown), an API
error, an empty or non-code answer, the user typing inside the region — goes through the
engine, so the buffer ends whole (DESIGN I2). The host
protocol is all a job knows of the server, so this module can be driven by tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from responses_lsp.errors import (
    ApiError,
    EditConflict,
    MissingApiKey,
    ResponsesLspError,
    error_kind,
)
from responses_lsp.job_types import Job, JobHost, JobRequest, JobResult

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.2
"""Seconds between two progress reports while tokens stream in."""
DONE_TIMEOUT = 30.0
"""Seconds to wait for the engine to confirm the last edits before giving up on it."""
KEEP_RESULTS = 64
"""Finished jobs whose result `responses-lsp.jobResult` still knows."""

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
"""A code point in the surrogate range: JSON let a lone UTF-16 surrogate through."""

Runner = Callable[[], Awaitable[JobResult]]
"""The rest of a job once its request is valid and its region claimed."""


class JobManager:
    """Starts, tracks and cancels jobs."""

    _ids = itertools.count(1)

    def __init__(self, host: JobHost) -> None:
        self.host = host
        self.jobs: dict[int, Job] = {}
        self.results: OrderedDict[int, dict[str, Any]] = OrderedDict()

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
                target: asyncio.Future[Any] = job.task
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

    # ------------------------------------------------------------------ running

    def start(self, request: JobRequest) -> dict[str, Any]:
        """Validate `request`, start its job, and say so at once (DESIGN I9).

        The answer is `{"jobId", "outcome": "started", "token"}`, and the end of the job is
        announced later by `responsesLsp/jobDone`; or, when the request is refused before
        anything runs, the answer is the final result itself (no notification follows).
        Both are kept for `responses-lsp.jobResult`."""
        job = self._register(request)
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

    def spawn(
        self, request: JobRequest, work: Callable[[Job], Awaitable[JobResult]]
    ) -> dict[str, Any]:
        """Run `work` as a job that is not an edit (e.g. a session compaction), answered at once.

        It gets a job id and token, and its end is told like any job's: `responsesLsp/jobDone`,
        `responses-lsp.jobResult`; it is cancelled like one (command, progress, shutdown)."""
        job = self._register(request)
        job.runner = asyncio.ensure_future(self._live(job, lambda: work(job), time.monotonic()))
        return {"jobId": job.id, "outcome": "started", "token": job.token}

    def _register(self, request: JobRequest) -> Job:
        """A new job with its id and progress token, known to cancel/jobs from now on."""
        job_id = next(self._ids)
        job = Job(id=job_id, request=request, token=f"responses-lsp/job/{job_id}")
        self.jobs[job.id] = job
        return job

    async def _live(self, job: Job, runner: Runner, started: float) -> None:
        try:
            result = await runner()
        except asyncio.CancelledError:
            # Cancelled before its stream started (or the server is going away).
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

    def _prepare(self, job: Job, started: float) -> JobResult | Runner:
        """Checks that need no I/O, and the region claimed; a refusal is a JobResult."""
        from responses_lsp.actions.catalog import all_actions, find_action
        from responses_lsp.actions.privacy import is_secret_path
        from responses_lsp.actions.selection import action_range

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
        problem = _range_problem(doc, request.start, request.end)
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
        lone = _lone_surrogate_line(doc, span)
        if lone is not None:
            return self._fail(
                job,
                started,
                f"responses-lsp: line {lone + 1} holds a lone UTF-16 surrogate (a broken "
                "character that is not valid Unicode); fix or delete it, then run the action "
                "again. Nothing was changed.",
            )
        if action.multi_file:
            from responses_lsp.multi_file import run_multi_file

            return lambda: run_multi_file(host, job, action, span, started)
        from responses_lsp.editing.streamer import Overlap

        try:
            job.region = host.driver.start_region(
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
        job.region.on_done = lambda _region: job.done.set()
        return lambda: self._drive(job, action, started)

    async def _drive(self, job: Job, action: Any, started: float) -> JobResult:
        host = self.host
        has_progress = await host.progress_begin(job.token, action.title, "asking the model…")
        stats = _StreamStats()
        job.task = asyncio.create_task(self._stream(job, action, stats, has_progress))
        if job.cancel_reason:  # cancelled while the progress was being created
            job.task.cancel()
        outcome_message = ""
        error: ResponsesLspError | None = None
        try:
            await asyncio.shield(job.task)
        except asyncio.CancelledError:
            if not job.task.done():
                # Not the stream but the job itself was cancelled: the event loop is ending
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
        if job.task.cancelled() or job.cancel_reason or error is not None:
            job.region.restore()
        host.driver.pump(job.request.uri)
        confirmed = await self._wait_done(job)
        result = self._result(job, stats, started, error, confirmed)
        if result.outcome == "applied":
            self._remember(job, action)
        outcome_message = result.message
        if has_progress:
            host.progress_end(job.token, outcome_message or result.outcome)
        if result.outcome in ("error", "conflict") and result.message:
            host.show("error" if result.outcome == "error" else "warning", result.message)
        elif result.outcome == "restored" and result.message and not job.cancel_reason:
            host.show("warning", result.message)
        log.info(
            "job %d %s: %s tokens, %d edits, %d bytes, %.2f s",
            job.id,
            result.outcome,
            stats.tokens,
            result.edits,
            result.edit_bytes,
            result.seconds,
        )
        return result

    def _remember(self, job: Job, action: Any) -> None:
        """The session's last edit in this document, for the follow-up actions."""
        session = self.host.session_for(job.request.uri)
        if session is None:
            return
        region = job.region
        original = job.original if action.follow_up and job.original else region.original
        self.host.sessions.remember(
            session,
            {
                "action": action.id,
                "uri": job.request.uri,
                "start_line": region.start[0],
                "end_line": region.end[0] + (1 if region.end[1] else 0),
                "original": original[:8000],
            },
        )

    async def _stream(self, job: Job, action: Any, stats: _StreamStats, has_progress: bool) -> None:
        from responses_lsp.editing.sanitizer import looks_like_code
        from responses_lsp.errors import ContextLengthExceeded

        host, region, uri = self.host, job.region, job.request.uri
        request, options, record = self._build(job, action)
        new_items = list(request.input)
        session = host.session_for(uri)
        settings = host.settings().settings
        client = host.api()
        force_compact = False
        while True:
            if session is not None:

                def compacting() -> None:
                    if has_progress:
                        host.progress_report(job.token, "Compacting session…")

                history = await host.sessions.prepare(
                    session,
                    new_items,
                    client=client,
                    base_url=settings.base_url,
                    model=settings.model,
                    instructions=request.instructions,
                    threshold=settings.effective_compact_threshold,
                    on_compact=compacting,
                    force=force_compact,
                )
                request = request.model_copy(update={"input": history})
                host.sessions.streaming(session, +1)
            try:
                output, sanitizer = await self._consume(job, request, options, stats, has_progress)
                break
            except ContextLengthExceeded:
                if session is None or force_compact:
                    raise
                force_compact = True  # compact the session, then try once more
                region.set_target("")
                host.driver.pump(uri)
                if has_progress:
                    host.progress_report(
                        job.token, "context too long: compacting session and retrying"
                    )
            finally:
                if session is not None:
                    host.sessions.streaming(session, -1)
        final = sanitizer.finish()
        if session is not None:
            host.sessions.record(
                session,
                [record],
                output,
                stats.usage.model_dump(mode="json") if stats.usage is not None else None,
            )
        if not final.strip() or not looks_like_code(final, options.language):
            stats.empty = True
            region.restore()
            return
        region.finalize(final)
        host.driver.pump(uri)

    async def _consume(
        self, job: Job, request: Any, options: Any, stats: _StreamStats, has_progress: bool
    ) -> tuple[list[dict[str, Any]], Any]:
        """Stream one request into the region; returns the output items and the sanitizer."""
        from responses_lsp.api.client import RetryScheduled
        from responses_lsp.api.events import OutputItemDone, OutputTextDelta, ResponseCompleted
        from responses_lsp.editing.sanitizer import StreamSanitizer

        host, region, uri = self.host, job.region, job.request.uri
        output: list[dict[str, Any]] = []
        sanitizer = StreamSanitizer(options)
        last_report = 0.0
        async with contextlib.aclosing(host.api().stream(request)) as events:
            async for event in events:
                if isinstance(event, OutputTextDelta):
                    stats.tokens += 1
                    delta = sanitizer.feed(event.delta)
                    if delta:  # the straight token path: appended, never re-joined
                        region.append(delta)
                        host.driver.pump(uri)
                    if region.conflict:
                        raise EditConflict()
                    if region.failure:  # the editor refuses our edits: stop asking the model
                        raise ResponsesLspError(region.failure)
                    now = time.monotonic()
                    if has_progress and now - last_report >= PROGRESS_INTERVAL:
                        last_report = now
                        host.progress_report(
                            job.token,
                            f"streaming… {stats.tokens} token{'' if stats.tokens == 1 else 's'}",
                        )
                elif isinstance(event, OutputItemDone):
                    output.append(event.item.as_input())
                elif isinstance(event, RetryScheduled):
                    stats.retries += 1
                    stats.tokens = 0  # progress counts this attempt's tokens only
                    output.clear()
                    sanitizer = StreamSanitizer(options)  # start again from scratch
                    region.set_target("")
                    host.driver.pump(uri)
                    if has_progress:
                        host.progress_report(job.token, event.status_text)
                elif isinstance(event, ResponseCompleted):
                    stats.usage = event.response.usage
        return output, sanitizer

    def _build(self, job: Job, action: Any) -> tuple[Any, Any, dict[str, Any]]:
        """The request, the sanitizer options, and the user item the session will keep."""
        from responses_lsp.actions.prompts import (
            PromptInput,
            build_history_message,
            build_instructions,
            build_user_message,
            context_around,
        )
        from responses_lsp.api.requests import ResponseRequest, reasoning_fields, user_message
        from responses_lsp.editing.sanitizer import SanitizerOptions

        host, region = self.host, job.region
        settings = host.settings().settings
        doc = host.driver.get(job.request.uri)
        original = region.original
        before, after = context_around(doc, region.start, region.end, settings.context_chars)
        prompt = PromptInput(
            action=action,
            file_path=host.relative_path(job.request.uri),
            language_id=doc.language_id,
            selection=original,
            before=without_lone_surrogates(before),
            after=without_lone_surrogates(after),
            diagnostics=tuple(without_lone_surrogates(d) for d in job.request.diagnostics),
            instruction=without_lone_surrogates(job.request.instruction),
            first_line=region.start[0] + 1,
        )
        request = ResponseRequest(
            model=settings.model,
            instructions=build_instructions(doc.language_id),
            input=[user_message(build_user_message(prompt))],
            stream=True,
            store=False,
            prompt_cache_key=_cache_key(host, job.request.uri),
            **reasoning_fields(settings.reasoning_effort),
        )
        first = next((line for line in original.splitlines() if line.strip()), "")
        indent = first[: len(first) - len(first.lstrip())]
        options = SanitizerOptions(
            base_indent=indent,
            line_ending=doc.line_break(),
            trailing_newline=original.endswith(("\n", "\r")),
            use_tabs="\t" in indent or any(line.startswith("\t") for line in original.splitlines()),
            language=doc.language_id,
        )
        return request, options, user_message(build_history_message(prompt))

    async def _wait_done(self, job: Job) -> bool:
        try:
            await asyncio.wait_for(job.done.wait(), DONE_TIMEOUT)
            return True
        except TimeoutError:
            log.warning("job %d: the client did not confirm the last edits in time", job.id)
            return False

    def _result(
        self,
        job: Job,
        stats: _StreamStats,
        started: float,
        error: ResponsesLspError | None,
        confirmed: bool,
    ) -> JobResult:
        region = job.region
        outcome = region.outcome.value if region.outcome is not None else "unconfirmed"
        message = ""
        kind: str | None = None
        if region.conflict:
            outcome, message = "conflict", EditConflict().user_message()
        elif region.failure:  # the editor refused our edits (the engine says what it left)
            outcome, message, kind = "error", region.failure, "client"
        elif error is not None and not isinstance(error, EditConflict):
            outcome = "error"
            message = error.user_message()
            kind = error_kind(error)
            if isinstance(error, ApiError) and region.edits_sent:
                message += " The original code was restored."
        elif job.cancel_reason:
            outcome = "cancelled" if outcome != "partial-kept" else "partial"
            message = f"{job.cancel_reason}; " + (
                "partial output kept" if outcome == "partial" else "original restored"
            )
        elif stats.empty:
            outcome, message = (
                "restored",
                "responses-lsp: the model's answer contained no code; nothing was changed.",
            )
        elif outcome == "applied":
            message = f"done: {stats.tokens} token{'' if stats.tokens == 1 else 's'}"
        if not confirmed and outcome == "applied":
            message += " (unconfirmed by the editor)"
        return JobResult(
            job_id=job.id,
            outcome=outcome,
            message=message,
            tokens=stats.tokens,
            edits=region.edits_sent,
            edit_bytes=region.bytes_sent,
            seconds=time.monotonic() - started,
            error_kind=kind,
        )

    def _fail(self, job: Job, started: float, message: str, kind: str = "usage") -> JobResult:
        self.host.show("error", message)
        return JobResult(
            job_id=job.id,
            outcome="error",
            message=message,
            seconds=time.monotonic() - started,
            error_kind=kind,
        )


@dataclass
class _StreamStats:
    tokens: int = 0
    retries: int = 0
    usage: Any = None
    empty: bool = False


def _range_problem(doc: Any, start: tuple[int, int], end: tuple[int, int]) -> str:
    """Why a requested range is not in the document ("" when it is).

    Refused rather than clamped: a clamped range lands on text the user never selected.
    A character past the end of its line is the end of that line (LSP 3.17 says so)."""
    last = doc.line_count - 1
    for name, (line, character) in (("start", start), ("end", end)):
        if line < 0 or character < 0:
            return f"the range's {name} ({line}:{character}) is outside the document"
        if line > last:
            return (
                f"the range's {name} (line {line + 1}) is outside the document ({last + 1} lines)"
            )
    if end < start:
        return "the range ends before it starts"
    return ""


def _lone_surrogate_line(doc: Any, span: tuple[tuple[int, int], tuple[int, int]]) -> int | None:
    """The first line of `span` holding a lone surrogate (text no model can read), or None."""
    (first, _), (last, _) = span
    for index in range(first, min(last, doc.line_count - 1) + 1):
        if LONE_SURROGATE.search(doc.line(index)):
            return index
    return None


def without_lone_surrogates(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (for context sent to the model)."""
    return LONE_SURROGATE.sub("\ufffd", text)


def _cache_key(host: JobHost, uri: str) -> str | None:
    session = host.session_for(uri)
    return getattr(session, "cache_key", None) if session is not None else None
