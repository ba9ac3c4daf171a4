"""One lifecycle for every kind of job: whatever the body does, the manager begins the progress,
runs the body as the job's task, lets it settle, and ends through one outcome path — progress
end with the result's message, the user told when it matters, `responsesLsp/jobDone` sent and
`responses-lsp.jobResult` answered. Driven through `JobHost`, without a server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from responses_lsp.errors import ApiConnectionError, JobFailed, ResponsesLspError, error_kind
from responses_lsp.jobs.manager import JobManager
from responses_lsp.jobs.types import Job, JobRequest, JobResult, Progress


class FakeHost:
    """The part of `JobHost` the lifecycle touches; records what the client would see."""

    def __init__(self, *, progress: bool = True) -> None:
        self.progress = progress
        self.shown: list[tuple[str, str]] = []
        self.progress_log: list[tuple[str, str, str]] = []
        self.done: list[dict[str, Any]] = []

    def show(self, kind: str, message: str) -> None:
        self.shown.append((kind, message))

    async def progress_begin(self, token: str, title: str, message: str) -> bool:
        self.progress_log.append(("begin", token, title))
        return self.progress

    def progress_report(self, token: str, message: str) -> None:
        self.progress_log.append(("report", token, message))

    def progress_end(self, token: str, message: str) -> None:
        self.progress_log.append(("end", token, message))

    def job_done(self, result: dict[str, Any]) -> None:
        self.done.append(result)

    def folder_paths(self) -> list[Path]:
        return []


class ScriptedBody:
    """A body whose work is `work`; `settle` records how the manager says the work ended."""

    title = "Scripted (AI)"

    def __init__(self, job: Job, work: Any, outcome: str = "applied") -> None:
        self.job = job
        self.work = work
        self.outcome = outcome
        self.settled: tuple[ResponsesLspError | None, bool] | None = None
        self.started = asyncio.Event()

    async def run(self, progress: Progress) -> None:
        self.started.set()
        progress.report("working")
        await self.work()

    async def settle(
        self, error: ResponsesLspError | None, cancelled: bool, seconds: float
    ) -> JobResult:
        self.settled = (error, cancelled)
        if cancelled:
            return JobResult(self.job.id, "cancelled", f"{self.job.cancel_reason}; nothing changed")
        if error is not None:
            return JobResult(
                self.job.id, "error", error.user_message(), error_kind=error_kind(error)
            )
        return JobResult(self.job.id, self.outcome, f"{self.outcome}: fine", seconds=seconds)


def request() -> JobRequest:
    return JobRequest(action_id="scripted", uri="file:///w/a.py", start=(0, 0), end=(0, 0))


async def run_job(
    host: FakeHost, work: Any, outcome: str = "applied"
) -> tuple[JobManager, ScriptedBody, dict[str, Any]]:
    manager = JobManager(host)  # type: ignore[arg-type]  # the lifecycle uses no more of it
    bodies: list[ScriptedBody] = []

    def body(job: Job) -> ScriptedBody:
        bodies.append(ScriptedBody(job, work, outcome))
        return bodies[0]

    answer = manager.spawn(request(), body)
    assert answer["outcome"] == "started" and answer["token"].startswith("responses-lsp/job/")
    await asyncio.wait_for(manager.drain(5.0), 6.0)
    return manager, bodies[0], answer


async def nothing() -> None:
    return None


async def test_a_finished_job_ends_its_progress_with_its_message_and_is_announced() -> None:
    host = FakeHost()
    manager, body, answer = await run_job(host, nothing)
    token = answer["token"]
    assert host.progress_log == [
        ("begin", token, "Scripted (AI)"),
        ("report", token, "working"),
        ("end", token, "applied: fine"),
    ]
    assert body.settled == (None, False)
    (done,) = host.done
    assert done["outcome"] == "applied" and done["jobId"] == answer["jobId"]
    assert done["action"] == "scripted" and done["uri"] == "file:///w/a.py"
    assert manager.status(answer["jobId"]) == {
        "jobId": answer["jobId"],
        "state": "done",
        "result": done,
    }
    assert host.shown == []  # success is said by the progress, not a message box
    assert manager.jobs == {}


@pytest.mark.parametrize(
    ("outcome", "shown"),
    [("unchanged", "info"), ("restored", "warning"), ("rejected", "error"), ("applied", None)],
)
async def test_the_user_is_told_of_the_outcomes_that_need_it(outcome: str, shown: str) -> None:
    host = FakeHost()
    await run_job(host, nothing, outcome)
    assert host.shown == ([(shown, f"{outcome}: fine")] if shown else [])


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (JobFailed("responses-lsp: the tool broke", "state"), "state"),
        (ApiConnectionError("refused"), "api"),
    ],
)
async def test_an_error_of_the_body_is_settled_shown_and_announced(
    error: ResponsesLspError, kind: str
) -> None:
    host = FakeHost()

    async def fail() -> None:
        raise error

    _, body, answer = await run_job(host, fail)
    assert body.settled == (error, False)
    (done,) = host.done
    assert done["outcome"] == "error" and done["errorKind"] == kind
    assert host.shown == [("error", error.user_message())]
    assert host.progress_log[-1] == ("end", answer["token"], error.user_message())


async def test_a_bug_in_the_body_is_an_internal_error_never_an_escape() -> None:
    host = FakeHost()

    async def bug() -> None:
        raise KeyError("oops")

    _, body, _ = await run_job(host, bug)
    assert body.settled is not None
    error, cancelled = body.settled
    assert not cancelled and isinstance(error, ResponsesLspError)
    assert error_kind(error) == "internal"
    assert "internal error (KeyError" in error.message
    (done,) = host.done
    assert done["outcome"] == "error" and done["errorKind"] == "internal"


async def test_a_cancelled_job_settles_as_cancelled_through_the_same_path() -> None:
    host = FakeHost()
    manager = JobManager(host)  # type: ignore[arg-type]
    release = asyncio.Event()
    bodies: list[ScriptedBody] = []

    def body(job: Job) -> ScriptedBody:
        bodies.append(ScriptedBody(job, release.wait))
        return bodies[0]

    answer = manager.spawn(request(), body)  # the body is built at once, its work in a task
    await asyncio.wait_for(bodies[0].started.wait(), 5.0)
    assert manager.running()[0]["jobId"] == answer["jobId"]
    assert manager.cancel(job_id=answer["jobId"], reason="cancelled by test") == 1
    await asyncio.wait_for(manager.drain(5.0), 6.0)
    assert bodies[0].settled == (None, True)
    (done,) = host.done
    assert done["outcome"] == "cancelled" and done["message"].startswith("cancelled by test")
    assert host.progress_log[-1] == ("end", answer["token"], done["message"])
    assert host.shown == []  # the user asked for it


async def test_without_work_done_progress_nothing_is_reported_and_the_job_still_ends() -> None:
    host = FakeHost(progress=False)
    _, _, answer = await run_job(host, nothing)
    assert host.progress_log == [("begin", answer["token"], "Scripted (AI)")]
    assert [d["outcome"] for d in host.done] == ["applied"]
