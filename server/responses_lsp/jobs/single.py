"""A single-file job: the model's answer streamed into the claimed region, sanitized.

`run` builds the turn (`jobs.request`), asks the model, and feeds each text delta through the
`StreamSanitizer` into the region (`_consume`); the edit engine turns the region's target into
`workspace/applyEdit`s. A retry notice starts the region again from nothing; a context that is
too long compacts the session and asks once more. At the end the full answer is `finalize`d
(or, when it holds no code, the original restored). `settle` restores the region on any other
way out, waits for the editor to confirm, and says what happened (DESIGN I2: the buffer ends
whole).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from responses_lsp.actions.catalog import ActionSpec
from responses_lsp.api.events import (
    OutputItemDone,
    OutputTextDelta,
    ResponseCompleted,
    RetryScheduled,
    Usage,
)
from responses_lsp.api.requests import ResponseRequest
from responses_lsp.editing.document import Document
from responses_lsp.editing.live_region import Outcome, RegionJob
from responses_lsp.editing.sanitizer import SanitizerOptions, StreamSanitizer, looks_like_code
from responses_lsp.errors import (
    ApiError,
    ContextLengthExceeded,
    EditConflict,
    ResponsesLspError,
    error_kind,
)
from responses_lsp.jobs.feed import StreamFeed
from responses_lsp.jobs.landed import LandedEdits
from responses_lsp.jobs.request import (
    Turn,
    build_repair_turn,
    build_turn,
    record_turn,
    session_input,
    spent,
)
from responses_lsp.jobs.syntax_check import SyntaxCheck
from responses_lsp.jobs.types import Job, JobHost, JobResult, Progress

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.2
"""Seconds between two progress reports while tokens stream in."""
DONE_TIMEOUT = 30.0
"""Seconds to wait for the engine to confirm the last edits before giving up on it."""


@dataclass
class _StreamStats:
    tokens: int = 0
    retries: int = 0
    usage: Usage | None = None
    empty: bool = False


class SingleFileJob:
    """The body of a job that rewrites one region of one document (see the module docstring)."""

    def __init__(
        self, host: JobHost, job: Job, action: ActionSpec, doc: Document, region: RegionJob
    ) -> None:
        self.host = host
        self.job = job
        self.action = action
        self.doc = doc
        self.region = region
        self.title = action.title
        self.stats = _StreamStats()
        self.usages: list[Usage | None] = []  # of every response the job got (repairs too)
        self.options = sanitizer_options(doc, region.original)
        self.check = SyntaxCheck(doc, region)

    async def run(self, progress: Progress) -> None:
        host, region = self.host, self.region
        span = (region.start, region.end)
        turn = build_turn(host, self.job, self.action, self.doc, span, region.original)
        output, sanitizer = await self._ask(turn, progress)
        final = sanitizer.finish()
        record_turn(host, turn, output, [self.stats.usage])
        if not self._is_code(final):
            self.stats.empty = True
            region.restore()
            return
        mode = host.settings().settings.syntax_check
        if mode != "off":
            checked = await self._check(turn, output, final, progress, keep=mode == "keep")
            if checked is None:
                region.restore()  # still worse than the original after one repair turn
                host.driver.pump(self.job.request.uri)
                return
            final = checked
        region.finalize(final)
        host.driver.pump(self.job.request.uri)

    async def _ask(
        self, turn: Turn, progress: Progress
    ) -> tuple[list[dict[str, Any]], StreamSanitizer]:
        """Stream `turn` into the region (its session's history first); a context that is too
        long compacts the session and asks once more."""
        host, region, uri = self.host, self.region, self.job.request.uri
        force_compact = False
        while True:
            request = turn.request
            if turn.session is not None:
                history = await session_input(host, turn, progress, force_compact=force_compact)
                request = request.model_copy(update={"input": history})
                host.sessions.streaming(turn.session, +1)
            try:
                return await self._consume(request, progress)
            except ContextLengthExceeded:
                if turn.session is None or force_compact:
                    raise
                force_compact = True  # compact the session, then try once more
                region.set_target("")
                host.driver.pump(uri)
                progress.report("context too long: compacting session and retrying")
            finally:
                if turn.session is not None:
                    host.sessions.streaming(turn.session, -1)

    def _is_code(self, final: str) -> bool:
        return bool(final.strip()) and looks_like_code(final, self.options.language)

    async def _check(
        self,
        turn: Turn,
        output: list[dict[str, Any]],
        final: str,
        progress: Progress,
        *,
        keep: bool,
    ) -> str | None:
        """The document parsed with `final` in place, compared with the original; one repair
        turn when the answer brought in syntax errors. Returns the code to keep, or None:
        restore the original (see `jobs.syntax` and the `syntaxCheck` setting)."""
        check = self.check
        if not check.start():
            return final
        problems = check.introduced(final)
        if not problems:
            check.verdict = "checked"
            return final
        first = problems[0]
        progress.report(f"syntax error at line {first.line + 1}: asking for one repair…")
        log.info("job %d: the answer does not parse (%s): repair turn", self.job.id, first)
        repair = build_repair_turn(
            turn,
            output,
            [p.describe() for p in problems],
            final,
            self.region.start[0] + 1,
        )
        self.region.set_target("")  # the repair streams in place of the broken code
        self.host.driver.pump(self.job.request.uri)
        output, sanitizer = await self._ask(repair, progress)
        repaired = sanitizer.finish()
        record_turn(self.host, repair, output, [self.stats.usage])
        check.repair_asked = True
        if self._is_code(repaired):
            still = check.introduced(repaired)
            if not still:
                check.verdict, check.problems = "repaired", problems
                return repaired
            problems, final = still, repaired
        check.problems = problems
        if keep:
            check.verdict = "kept"
            return final
        check.verdict = "restored"
        return None

    async def _consume(
        self, request: ResponseRequest, progress: Progress
    ) -> tuple[list[dict[str, Any]], StreamSanitizer]:
        """Stream one request into the region; returns the output items and the sanitizer.

        The text is handed on a socket read at a time (`StreamFeed`, `api.pacing`)."""
        host, region, uri, stats = self.host, self.region, self.job.request.uri, self.stats
        output: list[dict[str, Any]] = []
        feed = StreamFeed(self.options, region, host.driver, uri)
        last_report = 0.0
        async with contextlib.aclosing(host.api().stream(request, pace=feed)) as events:
            async for event in events:
                if isinstance(event, OutputTextDelta):
                    stats.tokens += 1
                    feed.add(event.delta)
                    if region.conflict:
                        raise EditConflict()
                    if region.failure:  # the editor refuses our edits: stop asking the model
                        raise ResponsesLspError(region.failure)
                    if feed.error is not None:
                        raise feed.error
                    now = time.monotonic()
                    if now - last_report >= PROGRESS_INTERVAL:
                        last_report = now
                        progress.report(
                            f"streaming… {stats.tokens} token{'' if stats.tokens == 1 else 's'}"
                        )
                elif isinstance(event, OutputItemDone):
                    output.append(event.item.as_input())
                elif isinstance(event, RetryScheduled):
                    stats.retries += 1
                    stats.tokens = 0  # progress counts this attempt's tokens only
                    output.clear()
                    feed.restart()  # start again from scratch
                    region.set_target("")
                    host.driver.pump(uri)
                    progress.report(event.status_text)
                elif isinstance(event, ResponseCompleted):
                    stats.usage = event.response.usage
                    self.usages.append(stats.usage)
        feed.flush()
        if feed.error is not None:
            raise feed.error
        return output, feed.sanitizer

    async def settle(
        self, error: ResponsesLspError | None, cancelled: bool, seconds: float
    ) -> JobResult:
        job, region = self.job, self.region
        if cancelled or job.cancel_reason or error is not None:
            region.restore()
        self.host.driver.pump(job.request.uri)
        confirmed = await self._wait_done()
        result = self._result(error, confirmed, seconds)
        if result.outcome == "applied":
            self._remember()
        return result

    async def _wait_done(self) -> bool:
        try:
            await asyncio.wait_for(self.job.done.wait(), DONE_TIMEOUT)
            return True
        except TimeoutError:
            log.warning("job %d: the client did not confirm the last edits in time", self.job.id)
            return False

    def _result(
        self, error: ResponsesLspError | None, confirmed: bool, seconds: float
    ) -> JobResult:
        job, region, stats = self.job, self.region, self.stats
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
        elif self.check.verdict == "restored":
            outcome, message = "restored", self.check.restored_message()
        elif stats.empty:
            outcome, message = (
                "restored",
                "responses-lsp: the model's answer contained no code; nothing was changed.",
            )
        elif outcome == "applied":
            message = f"done: {stats.tokens} token{'' if stats.tokens == 1 else 's'}"
            message += self.check.suffix()
        if not confirmed and outcome == "applied":
            message += " (unconfirmed by the editor)"
        return JobResult(
            job_id=job.id,
            outcome=outcome,
            message=message,
            tokens=stats.tokens,
            edits=region.edits_sent,
            edit_bytes=region.bytes_sent,
            seconds=seconds,
            error_kind=kind,
            usage=spent(self.host, self.usages),
            details=self.check.details(),
        )

    def land(self, landed: LandedEdits) -> None:
        """The applied edit joins those "Revert AI edit" can undo (what the job wrote, where)."""
        region = self.region
        if region.outcome is not Outcome.APPLIED or region.mid < region.end:
            return
        if self.doc.slice(region.start, region.mid) != region.target:
            return  # not exactly what the job wrote: nothing to offer
        landed.add(
            job_id=self.job.id,
            action=self.action.id,
            doc=self.doc,
            encoding=self.host.driver.encoding,
            start=region.start,
            end=region.mid,
            original=region.original,
        )

    def _remember(self) -> None:
        """The session's last edit in this document, for the follow-up actions."""
        job, region, action = self.job, self.region, self.action
        session = self.host.session_for(job.request.uri)
        if session is None:
            return
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


def sanitizer_options(doc: Document, original: str) -> SanitizerOptions:
    """How the answer must look to replace `original` in `doc`: indent, line breaks, tabs."""
    first = next((line for line in original.splitlines() if line.strip()), "")
    indent = first[: len(first) - len(first.lstrip())]
    return SanitizerOptions(
        base_indent=indent,
        line_ending=doc.line_break(),
        trailing_newline=original.endswith(("\n", "\r")),
        use_tabs="\t" in indent or any(line.startswith("\t") for line in original.splitlines()),
        language=doc.language_id,
    )
