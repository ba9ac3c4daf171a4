""" "Revert AI edit", for every client (issue 15, item 2).

After a job has been applied, a code action on its region offers "Revert AI edit" while the
region holds exactly what the job wrote; it restores the original in one edit. Typing
elsewhere moves the region (the revert follows it); typing inside it takes the revert away.
Run in the VS Code and the Neovim profiles (utf-16 and utf-8 positions, Neovim's debounced,
minimal-diff didChange and its silently skipped stale edits).
"""

from __future__ import annotations

from lsprotocol import types as t

from responses_lsp.contract import REVERT, REVERT_TITLE
from tests.e2e.conftest import Session
from tests.fakes.samples import ASYNC_FETCH, CURSOR, FETCH, REFACTORED, SOURCE
from tests.loopback import Reply


async def revert_action(session: Session, uri: str, offset: int) -> t.CodeAction | None:
    actions = await session.actions(uri, session.span(uri, offset))
    return next((a for a in actions if a.title == REVERT_TITLE), None)


async def run_refactor(session: Session, uri: str) -> None:
    session.api.script(Reply.text(ASYNC_FETCH, chunks=6))
    assert await revert_action(session, uri, CURSOR) is None  # nothing to revert yet
    result = await session.run(uri, "refactor-to-async", session.span(uri, CURSOR))
    assert result["outcome"] == "applied", result
    await session.editor.settle()
    assert session.text(uri) == REFACTORED


async def execute(session: Session, action: t.CodeAction) -> dict[str, object]:
    assert action.command is not None and action.command.command == REVERT
    answer = await session.execute(action.command.command, *(action.command.arguments or []))
    return dict(answer._asdict()) if hasattr(answer, "_asdict") else dict(answer)


async def test_revert_is_offered_on_the_finished_edit_and_restores_the_original_exactly(
    session: Session,
) -> None:
    uri = session.open("app.py", SOURCE)
    await run_refactor(session, uri)
    inside = REFACTORED.index("await client.get")
    action = await revert_action(session, uri, inside)
    assert action is not None, await session.titles(uri, session.span(uri, inside))
    assert action.kind == t.CodeActionKind.RefactorRewrite
    # not offered outside the edit (main is below it)
    assert await revert_action(session, uri, REFACTORED.index("print(")) is None

    applied = len(session.editor.applied)
    answer = await execute(session, action)
    assert answer["reverted"] is True
    await session.wait_for(lambda: session.text(uri) == SOURCE)
    assert len(session.editor.applied) == applied + 1  # one edit
    assert (
        session.editor.applied[-1].label
        == f"responses-lsp: revert AI edit of job {answer['jobId']}"
    )
    await session.editor.settle()
    assert session.text(uri) == SOURCE
    assert await revert_action(session, uri, CURSOR) is None  # reverted: gone


async def test_typing_elsewhere_keeps_the_revert_and_it_follows_the_moved_region(
    session: Session,
) -> None:
    uri = session.open("app.py", SOURCE)
    await run_refactor(session, uri)
    top = "# a note typed above, with ü and 😀\n\n"
    session.editor.type_at(uri, 0, top)
    session.editor.type_at(uri, len(session.text(uri)), "main()\n")  # and below
    await session.editor.settle()
    action = await revert_action(session, uri, len(top) + REFACTORED.index("await client.get"))
    assert action is not None
    await execute(session, action)
    want = top + SOURCE + "main()\n"
    await session.wait_for(lambda: session.text(uri) == want)
    await session.editor.settle()
    assert session.text(uri) == want


async def test_typing_inside_the_edit_takes_the_revert_away(session: Session) -> None:
    uri = session.open("app.py", SOURCE)
    await run_refactor(session, uri)
    inside = REFACTORED.index("await client.get")
    action = await revert_action(session, uri, inside)
    assert action is not None
    session.editor.type_at(uri, REFACTORED.index("return response.text"), "# mine\n    ")
    await session.editor.settle()
    edited = session.text(uri)
    assert await revert_action(session, uri, inside) is None
    # the stale menu entry, chosen anyway: refused, nothing changes
    applied = len(session.editor.applied)
    answer = await execute(session, action)
    assert answer["reverted"] is False
    assert "nothing to revert" in str(answer["message"])
    await session.editor.settle()
    assert session.text(uri) == edited
    assert len(session.editor.applied) == applied
    assert FETCH not in edited
