"""A session compaction as a job (`responses-lsp.session.compact`), answered at once.

The HTTP call can last the whole request timeout (and more with fallbacks), so it runs as a
job like any other: work-done progress on the answer's token, `responsesLsp/jobDone` and
`responses-lsp.jobResult` for its end (outcome `compacted`, or `error` with a message), and
it is cancelled like one.
"""

from __future__ import annotations

from responses_lsp.actions.prompts import build_instructions
from responses_lsp.errors import ResponsesLspError, error_kind
from responses_lsp.jobs.types import Job, JobHost, JobResult, Progress
from responses_lsp.sessions.compaction import CompactionResult
from responses_lsp.sessions.schema import Session


class CompactionJob:
    """The body of a compaction job."""

    title = "responses-lsp: compacting the session"

    def __init__(self, host: JobHost, job: Job, session: Session) -> None:
        self.host = host
        self.job = job
        self.session = session
        self.result: CompactionResult | None = None

    async def run(self, progress: Progress) -> None:  # noqa: ARG002 (the progress says nothing more)
        host = self.host
        settings = host.settings().settings
        self.result = await host.sessions.compact(
            self.session,
            client=host.api(),
            base_url=settings.base_url,
            model=settings.model,
            instructions=build_instructions(),
            threshold=settings.effective_compact_threshold,
        )

    async def settle(
        self, error: ResponsesLspError | None, cancelled: bool, seconds: float
    ) -> JobResult:
        job, result = self.job, self.result
        if cancelled or error is not None or result is None:
            if error is not None:
                outcome, message, kind = "error", error.user_message(), error_kind(error)
            else:
                reason = job.cancel_reason or "cancelled"
                outcome, message, kind = "cancelled", f"{reason}; the session was not changed", None
            return JobResult(
                job_id=job.id,
                outcome=outcome,
                message=message,
                seconds=seconds,
                error_kind=kind,
                details={"compacted": False},
            )
        return JobResult(
            job_id=job.id,
            outcome="compacted",
            message=f"compacted: {result.tokens_before} → {result.tokens_after} tokens",
            seconds=seconds,
            details={
                "compacted": True,
                "strategy": result.strategy,
                "tokensBefore": result.tokens_before,
                "tokensAfter": result.tokens_after,
            },
        )
