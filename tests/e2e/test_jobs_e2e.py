"""Jobs never hold a request open, and the lifecycle and the inputs are handled cleanly.

- `responses-lsp.run` answers at once with the job id; the end comes as `responsesLsp/jobDone`
  (and from `responses-lsp.jobResult`), and every request answered during a stream is quick;
- a client without `workspace.applyEdit` gets the actions disabled, never an applyEdit;
- `exit` ends the process promptly (code 0 after shutdown, 1 without), even mid-job;
- ranges outside the document are refused, never clamped onto other text;
- lone surrogates, NUL and other odd characters: a correct rewrite or a clear refusal.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RUN, Session, open_session
from tests.fakes.samples import ASYNC_FETCH, CURSOR, FETCH, REFACTORED, SOURCE
from tests.loopback import LoopbackServer, Reply

QUICK = 0.5
"""Seconds within which the server answers any request, even while a job streams."""
SHUTDOWN_QUICK = 1.0
"""`shutdown` first cancels the running job and waits until the editor has its original text
back (DESIGN I2): with Neovim's 150 ms didChange debounce that takes ~0.45 s of echoes."""
SLOW_STREAM = {"chunks": 2, "pace_tps": 25}  # ASYNC_FETCH in ~3.5 s


async def timed(what: str, request: Any, times: dict[str, float]) -> Any:
    started = time.monotonic()
    result = await asyncio.wait_for(request, 10)
    times[what] = max(times.get(what, 0.0), time.monotonic() - started)
    return result


def run_args(
    session: Session, uri: str, action: str, start: Any, end: Any = None
) -> dict[str, Any]:
    end = start if end is None else end
    return {
        "action": action,
        "uri": uri,
        "range": {
            "start": {"line": start[0], "character": start[1]},
            "end": {"line": end[0], "character": end[1]},
        },
    }


# ----------------------------------------------------------------- async jobs


async def test_run_answers_at_once_and_every_request_stays_quick_while_it_streams(
    session: Session,
) -> None:
    session.api.script(Reply.text(ASYNC_FETCH, **SLOW_STREAM))
    uri = session.open("app.py", SOURCE)
    rng = session.span(uri, CURSOR)
    times: dict[str, float] = {}
    actions = await session.actions(uri, rng)  # (the first one also imports the catalog)
    args = next(a for a in actions if a.command.arguments[0]["action"] == "refactor-to-async")
    answer = await timed(
        "executeCommand run", session.execute(RUN, args.command.arguments[0]), times
    )
    assert (
        answer["outcome"] == "started" and answer["token"] == f"responses-lsp/job/{answer['jobId']}"
    )
    job_id = answer["jobId"]
    await session.wait_for(lambda: len(session.editor.applied) >= 2)
    streaming_checks = 0
    while job_id not in session.editor.jobs_done:
        await timed("codeAction (streaming)", session.actions(uri, rng), times)
        running = await timed("jobs", session.execute("responses-lsp.jobs"), times)
        status = await timed(
            "jobResult", session.execute("responses-lsp.jobResult", {"jobId": job_id}), times
        )
        if job_id not in session.editor.jobs_done:
            assert [j["jobId"] for j in running] == [job_id]
            assert status["state"] in ("running", "done")
        streaming_checks += 1
        await asyncio.sleep(0.05)
    assert streaming_checks >= 5, "the stream ended before the requests could be checked"
    result = await session.editor.job_result(answer)
    assert result["outcome"] == "applied" and result["jobId"] == job_id
    assert result["uri"] == uri and result["action"] == "refactor-to-async"
    assert result["seconds"] > 2.0  # the stream really lasted while the requests were answered
    await session.wait_for(lambda: session.editor.text(uri) == REFACTORED, limit=5)
    status = await session.execute("responses-lsp.jobResult", {"jobId": job_id})
    assert status["state"] == "done" and status["result"] == result
    assert (await session.execute("responses-lsp.jobResult", {"jobId": 999999}))[
        "state"
    ] == "unknown"
    # a second job, and shutdown requested while it streams: answered promptly as well
    session.api.script(Reply.text(ASYNC_FETCH, **SLOW_STREAM))
    other = session.open("other.py", SOURCE)
    answer = await timed(
        "executeCommand run (2)",
        session.execute(RUN, run_args(session, other, "refactor-to-async", (5, 4))),
        times,
    )
    assert answer["outcome"] == "started"
    await session.wait_for(lambda: session.api.requests and len(session.api.requests) == 2)
    await session.wait_for(lambda: session.editor.text(other) != SOURCE)
    await timed("shutdown (streaming)", session.client.shutdown_async(None), times)
    try:
        # the cancelled job was announced, with its original restored before the answer
        cancelled = await session.editor.job_result(answer, limit=2)
        assert cancelled["outcome"] == "cancelled"
        assert session.editor.text(other) == SOURCE
    finally:
        session.client.exit(None)
        assert await asyncio.wait_for(session.client._server.wait(), 5) == 0
    print("longest answer per request while a job streamed (s):", times)
    slow = {
        what: round(seconds, 3)
        for what, seconds in times.items()
        if seconds >= (SHUTDOWN_QUICK if what.startswith("shutdown") else QUICK)
    }
    assert not slow, f"requests answered too slowly during a stream: {slow} (all: {times})"


async def test_the_job_done_notification_is_only_for_clients_that_ask(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(Reply.text(ASYNC_FETCH))
    async with open_session("vscode", loopback, tmp_path, client_features={}) as session:
        uri = session.open("app.py", SOURCE)
        answer = await session.execute(RUN, run_args(session, uri, "refactor-to-async", (5, 4)))
        assert answer["outcome"] == "started"
        status: dict[str, Any] = {}

        async def done() -> bool:
            status.update(await session.execute("responses-lsp.jobResult", answer))
            return status["state"] == "done"

        deadline = time.monotonic() + 10
        while not await done():
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.05)
        assert status["result"]["outcome"] == "applied"
        assert session.editor.jobs_done == {}  # polled, never pushed
        assert session.editor.text(uri) == REFACTORED


async def test_a_refused_run_answers_with_its_result(session: Session) -> None:
    uri = session.open("app.py", SOURCE)
    answer = await session.execute(RUN, run_args(session, uri, "no-such-action", (5, 4)))
    assert answer["outcome"] == "error" and "unknown action" in answer["message"]
    await asyncio.sleep(0.2)
    assert session.editor.jobs_done == {}  # the answer was the result: nothing to announce
    status = await session.execute("responses-lsp.jobResult", {"jobId": answer["jobId"]})
    assert status["state"] == "done" and status["result"]["outcome"] == "error"


# ----------------------------------------------------------------- no applyEdit


async def test_a_client_without_apply_edit_gets_disabled_actions_and_no_edit(
    profile: str, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(Reply.text(ASYNC_FETCH))
    async with open_session(profile, loopback, tmp_path, apply_edit=False) as session:
        assert not session.editor.capabilities.workspace.apply_edit
        uri = session.open("app.py", SOURCE)
        actions = await session.actions(uri, session.span(uri, CURSOR))
        assert actions
        if session.editor.capabilities.text_document.code_action.disabled_support:
            for action in actions:
                assert action.disabled is not None
                assert "workspace.applyEdit" in action.disabled.reason
        result = await session.run_command(actions[0].command.arguments[0])
        assert result["outcome"] == "error" and "applyEdit" in result["message"]
        assert any("applyEdit" in m for m in session.messages())
        await asyncio.sleep(0.3)
        assert session.editor.applied == []
        assert loopback.requests == []
        assert session.editor.text(uri) == SOURCE


# ----------------------------------------------------------------- exit


@pytest.mark.parametrize("how", ["exit-only", "shutdown-exit", "stdin-closed"])
async def test_exit_mid_job_ends_the_process_promptly_with_the_spec_code(
    loopback: LoopbackServer, tmp_path: Path, how: str
) -> None:
    loopback.script(Reply.text(ASYNC_FETCH * 20, chunks=2, pace_tps=25))  # ~1 min of stream
    async with open_session("neovim", loopback, tmp_path) as session:
        uri = session.open("app.py", SOURCE)
        answer = await session.execute(RUN, run_args(session, uri, "refactor-to-async", (5, 4)))
        assert answer["outcome"] == "started"
        await session.wait_for(lambda: len(session.editor.applied) >= 3)
        process = session.client._server
        assert process is not None
        if how == "shutdown-exit":
            await asyncio.wait_for(session.client.shutdown_async(None), 5)
        exited_at = time.monotonic()
        if how == "stdin-closed":  # the editor died: no exit, its end of the pipe is gone
            assert process.stdin is not None
            process.stdin.close()
        else:
            session.client.exit(None)
        code = await asyncio.wait_for(process.wait(), 10)
        took = time.monotonic() - exited_at
        if how != "stdin-closed":  # no exit at all: the spec says nothing of the code
            assert code == (0 if how == "shutdown-exit" else 1)
        assert took < 2.0, f"the process took {took:.2f} s to exit"


# ----------------------------------------------------------------- ranges


OUT_OF_RANGE = {
    "negative line": ((-3, 0), (-1, 0)),
    "negative character": ((5, -4), (5, 2)),
    "start line past the end": ((40, 0), (41, 0)),
    "end line past the end": ((5, 0), (99, 0)),
    "end before start": ((6, 0), (4, 0)),
}


@pytest.mark.parametrize("case", list(OUT_OF_RANGE))
async def test_a_range_outside_the_document_is_refused(session: Session, case: str) -> None:
    session.api.script(Reply.text("def clobbered():\n    pass\n"))
    uri = session.open("app.py", SOURCE)
    start, end = OUT_OF_RANGE[case]
    result = await session.run_command(run_args(session, uri, "refactor-to-async", start, end))
    assert result["outcome"] == "error", result
    assert "outside the document" in result["message"] or "ends before" in result["message"]
    assert result["errorKind"] == "usage"
    assert session.api.requests == []
    assert session.editor.applied == []
    assert session.editor.text(uri) == SOURCE


async def test_a_range_that_ends_on_the_empty_last_line_is_accepted(session: Session) -> None:
    """The position after the last line break (`(line count, 0)` here) is in the document."""
    source = "def c():\n    return 3\n"
    output = "async def c():\n    return 3\n"
    session.api.script(Reply.text(output))
    uri = session.open("c.py", source)
    result = await session.run_command(run_args(session, uri, "refactor-to-async", (0, 0), (2, 0)))
    assert result["outcome"] == "applied", result
    await session.wait_for(lambda: session.editor.text(uri) == output, limit=5)


# ----------------------------------------------------------------- odd characters

LONE = "\ud800"


async def test_a_lone_surrogate_outside_the_selection_does_not_break_the_rewrite(
    session: Session,
) -> None:
    source = SOURCE.replace('"https://example.com/ü"', f'"https://example.com/{LONE}"')
    session.api.script(Reply.text(ASYNC_FETCH, chunks=3))
    uri = session.open("app.py", source)
    result = await session.run_command(run_args(session, uri, "refactor-to-async", (5, 4)))
    assert "internal error" not in result["message"]
    assert not any("internal error" in m for m in session.messages())
    assert result["outcome"] == "applied", result
    await session.wait_for(
        lambda: session.editor.text(uri) == source.replace(FETCH, ASYNC_FETCH), limit=5
    )
    # what the model saw is valid Unicode (the stray surrogate became U+FFFD in the context)
    assert LONE not in session.prompt()


async def test_a_lone_surrogate_inside_the_selection_is_refused_clearly(session: Session) -> None:
    source = SOURCE.replace('"""Fetch a URL."""', f'"""Fetch a URL {LONE}."""')
    session.api.script(Reply.text(ASYNC_FETCH))
    uri = session.open("app.py", source)
    result = await session.run_command(run_args(session, uri, "refactor-to-async", (5, 4)))
    assert result["outcome"] == "error", result
    assert "surrogate" in result["message"] and "line 5" in result["message"]
    assert "internal error" not in result["message"]
    assert session.api.requests == []
    assert session.editor.text(uri) == source


async def test_nul_and_control_characters_are_rewritten_exactly(session: Session) -> None:
    odd = "\x00\x1b[0m\x1c\x85\u2028\ufeff"
    source = SOURCE.replace("Fetch a URL.", f"Fetch a URL{odd}.")
    output = ASYNC_FETCH.replace("Fetch a URL.", f"Fetch a URL{odd}!")
    session.api.script(Reply.text(output, chunks=3))
    uri = session.open("app.py", source)
    result = await session.run_command(run_args(session, uri, "refactor-to-async", (5, 4)))
    assert result["outcome"] == "applied", result
    fetch = source[source.index("def fetch") : source.index("\n\n\ndef main") + 1]
    await session.wait_for(
        lambda: session.editor.text(uri) == source.replace(fetch, output), limit=5
    )
    assert odd in session.prompt()
