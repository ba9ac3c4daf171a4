"""The server end to end: a real stdio server, a real loopback Responses endpoint, and an
editor that behaves like VS Code or like Neovim 0.11 (each test runs for both).

Each scenario reads: the document, what the endpoint streams, what the user does, and
what the document must be afterwards.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from lsprotocol import types as t

from tests.e2e.conftest import RUN, Session, open_session
from tests.fakes.samples import ASYNC_FETCH, CURSOR, FETCH, REFACTORED, SOURCE
from tests.loopback import LoopbackServer, Reply


def expect_text(session: Session, uri: str, text: str) -> None:
    assert session.editor.text(uri) == text


async def settle(session: Session, uri: str, text: str) -> None:
    """The editor's text (after pending didChange flushes) is `text`."""
    await session.wait_for(lambda: session.editor.text(uri) == text, limit=5)


# ----------------------------------------------------------------- capabilities


async def test_initialize_advertises_what_is_handled(session: Session) -> None:
    caps = session.init_result.capabilities
    assert list(caps.code_action_provider.code_action_kinds) == [
        t.CodeActionKind.RefactorRewrite,
        t.CodeActionKind.QuickFix,
    ]
    assert not caps.code_action_provider.resolve_provider
    assert set(caps.execute_command_provider.commands) >= {RUN, "responses-lsp.cancel"}
    sync = caps.text_document_sync
    assert getattr(sync, "change", sync) == t.TextDocumentSyncKind.Incremental
    expected = "utf-8" if session.editor.profile == "neovim" else "utf-16"
    assert session.editor.encoding == expected


# ----------------------------------------------------------------- happy paths

BUILTIN_CASES = [
    ("refactor-to-async", {}, ASYNC_FETCH),
    ("add-type-hints", {}, FETCH.replace("fetch(url)", "fetch(url: str) -> str")),
    (
        "add-docstrings",
        {},
        FETCH.replace('"""Fetch a URL."""', '"""Fetch `url`; return its body."""'),
    ),
    (
        "edit-with-instruction",
        {"instruction": "rename to get_text"},
        FETCH.replace("fetch", "get_text"),
    ),
]


@pytest.mark.parametrize(
    ("action", "extra", "output"), BUILTIN_CASES, ids=[c[0] for c in BUILTIN_CASES]
)
async def test_every_builtin_action_streams_its_rewrite(
    session: Session, action: str, extra: dict[str, str], output: str
) -> None:
    session.api.script(Reply.text(output, chunks="random", seed=7))
    uri = session.open("app.py", SOURCE)
    result = await session.run(uri, action, session.span(uri, CURSOR), **extra)
    assert result["outcome"] == "applied", result
    expect_text(session, uri, SOURCE.replace(FETCH, output))
    [request] = session.api.requests
    prompt = session.prompt()
    assert "def fetch(url):" in prompt and "app.py" in prompt
    assert request.body["stream"] is True and request.body["store"] is False
    if extra:
        assert extra["instruction"] in prompt


async def test_fix_diagnostics_is_a_quickfix_only_with_diagnostics(session: Session) -> None:
    uri = session.open("app.py", SOURCE)
    rng = session.span(uri, CURSOR)
    ids = [a.command.arguments[0]["action"] for a in await session.actions(uri, rng)]
    assert "fix-diagnostics" not in ids
    diagnostic = t.Diagnostic(
        range=rng,
        message='"requests" is not awaited',
        severity=t.DiagnosticSeverity.Error,
        source="lint",
    )
    actions = await session.actions(uri, rng, [diagnostic])
    fix = next(a for a in actions if a.command.arguments[0]["action"] == "fix-diagnostics")
    assert fix.kind == t.CodeActionKind.QuickFix
    session.api.script(Reply.text(ASYNC_FETCH))
    result = await session.run(uri, "fix-diagnostics", rng, diagnostics=[diagnostic])
    assert result["outcome"] == "applied"
    assert '"requests" is not awaited' in session.prompt()


async def test_fenced_output_is_unwrapped(session: Session) -> None:
    session.api.script(Reply.text(ASYNC_FETCH, fence="python", chunks=[2, 1, 3, 1, 5]))
    uri = session.open("app.py", SOURCE)
    result = await session.run(uri, "refactor-to-async", session.span(uri, CURSOR))
    assert result["outcome"] == "applied"
    expect_text(session, uri, REFACTORED)


async def test_prose_around_code_is_dropped(session: Session) -> None:
    session.api.script(
        Reply.text(
            ASYNC_FETCH,
            fence="python",
            prose_before="Here is the async version of the function:\n\n",
            prose_after="\nThis uses httpx instead of requests.\n",
        )
    )
    uri = session.open("app.py", SOURCE)
    await session.run(uri, "refactor-to-async", session.span(uri, CURSOR))
    expect_text(session, uri, REFACTORED)


# ----------------------------------------------------------------- failures and retries


async def test_rate_limited_then_ok_shows_the_wait_in_progress(session: Session) -> None:
    session.api.script(Reply.error(429, retry_after=0.3), Reply.text(ASYNC_FETCH))
    uri = session.open("app.py", SOURCE)
    result = await session.run(uri, "refactor-to-async", session.span(uri, CURSOR))
    assert result["outcome"] == "applied"
    expect_text(session, uri, REFACTORED)
    reports = [r for values in session.client.progress_reports.values() for r in values]
    assert any(
        "rate limited; retrying in 0.3 s" in (getattr(r, "message", "") or "") for r in reports
    )


async def test_server_errors_after_a_broken_stream_restore_the_original(session: Session) -> None:
    # paced, so the broken stream's first deltas reach the buffer before the cut (unpaced, all 12
    # events and the cut can come in one read: nothing is sent, nothing to restore, no "restored")
    session.api.script(
        Reply.drop(after_events=12, text=ASYNC_FETCH, chunks=3, pace_tps=100),
        Reply.error(500, retry_after=0.05),
        Reply.error(500, retry_after=0.05),
    )
    uri = session.open("app.py", SOURCE)
    result = await session.run(uri, "refactor-to-async", session.span(uri, CURSOR))
    assert result["outcome"] == "error"
    assert result["edits"] > 0, result  # the premise: the broken stream did change the buffer
    await settle(session, uri, SOURCE)
    assert any("upstream error" in m and "restored" in m for m in session.messages()), (
        session.messages(),
        result,
    )
    assert len(session.api.requests) == 3


async def test_stream_dropped_midway_is_retried_from_scratch(session: Session) -> None:
    session.api.script(
        Reply.drop(after_events=10, text=ASYNC_FETCH.replace("client", "c"), chunks=2),
        Reply.text(ASYNC_FETCH, chunks="random"),
    )
    uri = session.open("app.py", SOURCE)
    result = await session.run(uri, "refactor-to-async", session.span(uri, CURSOR))
    assert result["outcome"] == "applied"
    expect_text(session, uri, REFACTORED)


async def test_stall_hits_the_idle_timeout(
    profile: str, loopback: LoopbackServer, tmp_path: Path
) -> None:
    async with open_session(
        profile, loopback, tmp_path, settings={"streamIdleTimeout": 0.5, "maxRetries": 0}
    ) as session:
        session.api.script(Reply.stall(after_events=8, seconds=5, text=ASYNC_FETCH, chunks=2))
        uri = session.open("app.py", SOURCE)
        result = await session.run(uri, "refactor-to-async", session.span(uri, CURSOR))
        assert result["outcome"] == "error"
        assert "no event for 0.5 s" in result["message"]
        await settle(session, uri, SOURCE)


# ----------------------------------------------------------------- the user


@pytest.mark.parametrize("how", ["progress", "command"])
async def test_cancel_mid_stream_restores_the_original_and_closes_the_stream(
    session: Session, how: str
) -> None:
    session.api.script(Reply.text(ASYNC_FETCH, chunks=2, pace_tps=40))
    uri = session.open("app.py", SOURCE)
    job = session.start(uri, "refactor-to-async", session.span(uri, CURSOR))
    await session.wait_for(lambda: len(session.editor.applied) >= 2)
    cancelled_at = time.monotonic()
    if how == "progress":
        [token] = list(session.client.progress_reports)
        session.client.window_work_done_progress_cancel(t.WorkDoneProgressCancelParams(token=token))
    else:
        assert (await session.execute("responses-lsp.cancel"))["cancelled"] == 1
    result = await job
    assert result["outcome"] == "cancelled"
    await settle(session, uri, SOURCE)
    [request] = session.api.requests
    await session.wait_for(lambda: request.disconnected_at is not None, limit=2)
    assert request.disconnected_at - cancelled_at < 0.1


async def test_typing_above_the_region_keeps_both(session: Session) -> None:
    session.api.script(Reply.text(ASYNC_FETCH, chunks=3, pace_tps=60))
    uri = session.open("app.py", SOURCE)
    job = session.start(uri, "refactor-to-async", session.span(uri, CURSOR))
    await session.wait_for(lambda: len(session.editor.applied) >= 3)
    session.editor.type_at(uri, len("import requests"), "\nimport httpx  # typed ✓")
    result = await job
    assert result["outcome"] == "applied"
    expected = REFACTORED.replace("import requests", "import requests\nimport httpx  # typed ✓")
    await settle(session, uri, expected)


async def test_typing_inside_the_region_stops_and_keeps_the_users_text(session: Session) -> None:
    session.api.script(Reply.text(ASYNC_FETCH, chunks=2, pace_tps=40))
    uri = session.open("app.py", SOURCE)
    job = session.start(uri, "refactor-to-async", session.span(uri, CURSOR))
    await session.wait_for(lambda: len(session.editor.applied) >= 3)
    inside = session.editor.text(uri).index("response = requests")
    session.editor.type_at(uri, inside, "# mine\n    ")
    result = await job
    assert result["outcome"] == "conflict"
    await session.editor.settle()
    text = session.editor.text(uri)
    assert "# mine\n    response = requests.get(url)" in text
    assert any("you edited the text being rewritten" in m for m in session.messages())
    assert "import requests" in text and "def main():" in text


async def test_closing_the_document_cancels_the_job(session: Session) -> None:
    session.api.script(Reply.text(ASYNC_FETCH, chunks=2, pace_tps=40))
    uri = session.open("app.py", SOURCE)
    job = session.start(uri, "refactor-to-async", session.span(uri, CURSOR))
    await session.wait_for(lambda: len(session.editor.applied) >= 2)
    edits_before = len(session.editor.applied)
    session.editor.close(uri)
    result = await job
    assert result["outcome"] in ("closed", "cancelled")
    # nothing is sent to a closed file (one edit may already have been on its way)
    assert len(session.editor.applied) <= edits_before + 1


async def test_a_client_that_rejects_one_edit_still_gets_the_whole_rewrite(
    session: Session,
) -> None:
    session.editor.reject_next = 1
    session.api.script(Reply.text(ASYNC_FETCH, chunks=4, pace_tps=100))
    uri = session.open("app.py", SOURCE)
    result = await session.run(uri, "refactor-to-async", session.span(uri, CURSOR))
    assert result["outcome"] == "applied"
    assert session.editor.rejected == 1
    await settle(session, uri, REFACTORED)


async def test_two_jobs_in_one_file_run_independently(session: Session) -> None:
    main_src = SOURCE[SOURCE.index("def main") :]
    new_main = main_src.replace("def main", "async def main").replace(
        "print(fetch", "print(await fetch"
    )

    def reply(request: object) -> Reply:
        body = request.body  # type: ignore[attr-defined]
        prompt = body["input"][-1]["content"][0]["text"]
        selection = prompt.split("<selection>")[1].split("</selection>")[0]
        text = new_main if "def main():" in selection else ASYNC_FETCH
        return Reply.text(text, chunks=3, pace_tps=80)

    session.api.responder = reply
    uri = session.open("app.py", SOURCE)
    first = session.start(uri, "refactor-to-async", session.span(uri, CURSOR))
    second = session.start(uri, "refactor-to-async", session.span(uri, SOURCE.index("print(fetch")))
    results = await asyncio.gather(first, second)
    assert [r["outcome"] for r in results] == ["applied", "applied"]
    await settle(session, uri, REFACTORED.replace(main_src, new_main))


async def test_an_overlapping_job_is_refused(session: Session) -> None:
    session.api.script(Reply.text(ASYNC_FETCH, chunks=2, pace_tps=40), Reply.text(ASYNC_FETCH))
    uri = session.open("app.py", SOURCE)
    first = session.start(uri, "refactor-to-async", session.span(uri, CURSOR))
    await session.wait_for(lambda: len(session.editor.applied) >= 1)
    second = await session.run(uri, "refactor-to-async", session.span(uri, CURSOR + 4))
    assert second["outcome"] == "error" and "already running" in second["message"]
    assert (await first)["outcome"] == "applied"


async def test_without_a_key_actions_are_disabled_and_explain_why(
    profile: str, loopback: LoopbackServer, tmp_path: Path
) -> None:
    async with open_session(profile, loopback, tmp_path, api_key=None) as session:
        uri = session.open("app.py", SOURCE)
        actions = await session.actions(uri, session.span(uri, CURSOR))
        assert actions
        caps = session.editor.capabilities.text_document.code_action
        if caps.disabled_support:
            assert all(a.disabled and "OPENAI_API_KEY" in a.disabled.reason for a in actions)
        result = await session.run_command(actions[0].command.arguments[0])
        assert result["outcome"] == "error"
        assert any("API key is missing" in m for m in session.messages())
        assert session.api.requests == []
        expect_text(session, uri, SOURCE)


async def test_the_last_function_of_the_file_is_rewritten_in_place(session: Session) -> None:
    """Neovim echoes a deletion that reaches the end of the buffer as two changes."""
    source = "import asyncio\n\n\ndef c():\n    return 3\n"
    output = "async def c():\n    await asyncio.sleep(0)\n    return 3\n"
    session.api.script(Reply.text(output, chunks=5))
    uri = session.open("last.py", source)
    result = await session.run(
        uri, "refactor-to-async", session.span(uri, source.index("return 3"))
    )
    assert result["outcome"] == "applied", result
    await settle(session, uri, "import asyncio\n\n\n" + output)
    # and the labels name the job that the command returned
    labels = {p.label for p in session.editor.applied}
    assert labels and all(f"job {result['jobId']}:" in label for label in labels)
