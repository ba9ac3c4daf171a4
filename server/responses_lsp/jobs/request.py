"""What a job sends: prompt input → request → the session's history (compacted when due).

`build_turn` is the one place a job's prompt is put together (the selection, the code around
it, the diagnostics and the instruction, lone surrogates made readable) and turned into a
`ResponseRequest` — a plain rewrite, or with the workspace tools for a multi-file action.
`session_input` is the one place a request's input is completed by the session: the history
first, compacted beforehand when the estimate crosses the threshold (the progress says so).
The layout is the prompt cache's: instructions that are the same bytes for every action,
then the history, then this turn's record as the history will keep it (`turn_items`), then
the new selection and context, with a `prompt_cache_key` stable per session.
`record_turn` adds the finished turn to the session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from responses_lsp.actions.catalog import ActionSpec
from responses_lsp.actions.prompts import (
    PromptInput,
    build_agent_instructions,
    build_history_message,
    build_instructions,
    build_user_message,
    context_around,
    format_diagnostic,
)
from responses_lsp.api.events import Usage
from responses_lsp.api.requests import ResponseRequest, reasoning_fields, user_message
from responses_lsp.editing.document import Document, Pos
from responses_lsp.jobs.arguments import Diagnostic
from responses_lsp.jobs.checks import without_lone_surrogates
from responses_lsp.jobs.types import Job, JobHost, Progress
from responses_lsp.sessions.schema import Session
from responses_lsp.tools.definitions import TOOLS
from responses_lsp.usage import UsageTotals


@dataclass
class Turn:
    """One exchange with the model, before the session's history is added."""

    request: ResponseRequest
    """The request with this turn's new items only as its input."""
    new_items: list[dict[str, Any]]
    remembered: dict[str, Any]
    """The user item the session keeps for this turn: the first of `new_items`, a short
    record of the request (the full message after it is not kept)."""
    session: Session | None


def build_turn(
    host: JobHost,
    job: Job,
    action: ActionSpec,
    doc: Document,
    span: tuple[Pos, Pos],
    selection: str,
    *,
    tools: bool = False,
) -> Turn:
    """The request of `action` on `selection` (at `span` of `doc`); with `tools`, the
    multi-file agent's."""
    settings = host.settings().settings
    request = job.request
    start, end = span
    before, after = context_around(doc, start, end, settings.context_chars)
    prompt = PromptInput(
        action=action,
        file_path=host.relative_path(request.uri),
        language_id=doc.language_id,
        selection=selection,
        before=without_lone_surrogates(before),
        after=without_lone_surrogates(after),
        diagnostics=tuple(without_lone_surrogates(diagnostic_text(d)) for d in request.diagnostics),
        instruction=without_lone_surrogates(request.instruction),
        first_line=start[0] + 1,
    )
    session = host.session_for(request.uri)
    new_items, remembered = turn_items(prompt)
    if session is None:  # no history, no next request to share a prefix with
        new_items = new_items[-1:]
    if tools:
        instructions = build_agent_instructions()
        agent: dict[str, Any] = {
            "tools": TOOLS,
            "tool_choice": "auto",
            "parallel_tool_calls": False,
        }
    else:
        instructions = build_instructions()
        agent = {}
    body = ResponseRequest(
        model=settings.model,
        instructions=instructions,
        input=new_items,
        stream=True,
        store=False,
        prompt_cache_key=session.cache_key if session is not None else None,
        **agent,
        **reasoning_fields(settings.reasoning_effort),
    )
    return Turn(request=body, new_items=new_items, remembered=remembered, session=session)


def turn_items(prompt: PromptInput) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the new input items of a turn, the item the session keeps for it).

    The turn is sent as two user messages: its short record (what the session keeps, and
    what compaction keeps) and then the full message (task, file, the code around the
    selection, the selection). The next request of the session carries the record at the same
    place, byte for byte, so it shares with this one the prefix up to and including the record
    (stable instructions, the history, the record: what the provider's prompt cache can
    serve); the code around the selection, which is sent fresh every time, is not kept.
    """
    record = user_message(build_history_message(prompt))
    return [record, user_message(build_user_message(prompt))], record


def diagnostic_text(diagnostic: Diagnostic | str) -> str:
    """A diagnostic from the command arguments as the prompt lists it."""
    if isinstance(diagnostic, str):
        return diagnostic
    return format_diagnostic(
        diagnostic.line,
        diagnostic.severity_name,
        diagnostic.message,
        diagnostic.source,
        diagnostic.code,
    )


async def session_input(
    host: JobHost,
    turn: Turn,
    progress: Progress,
    more: list[dict[str, Any]] | None = None,
    *,
    force_compact: bool = False,
) -> list[dict[str, Any]]:
    """The input of the next request: the session's history (compacted first when due, or
    when `force_compact`), this turn's new items, and `more` (the tool loop's items so far)."""
    items = [*turn.new_items, *(more or [])]
    if turn.session is None:
        return items
    settings = host.settings().settings
    return await host.sessions.prepare(
        turn.session,
        items,
        client=host.api(),
        base_url=settings.base_url,
        model=settings.model,
        instructions=turn.request.instructions,
        threshold=settings.effective_compact_threshold,
        on_compact=lambda: progress.report("Compacting session…"),
        force=force_compact,
    )


def spent(host: JobHost, usages: Sequence[Usage | None]) -> UsageTotals:
    """The usage of some responses summed, priced with the model's `prices` entry."""
    settings = host.settings().settings
    totals = UsageTotals()
    for usage in usages:
        totals.add(usage, settings.price(), settings.model)
    return totals


def record_turn(
    host: JobHost, turn: Turn, output: list[dict[str, Any]], usages: Sequence[Usage | None]
) -> None:
    """The finished turn joins the session (what was asked, what the model answered, and
    what its responses cost: `usages`, the last one the size of the history now)."""
    if turn.session is None:
        return
    usage = usages[-1] if usages else None
    measured = usage.model_dump(mode="json") if usage is not None else None
    host.sessions.record(
        turn.session, [turn.remembered], output, measured, spent=spent(host, usages)
    )


def build_repair_turn(
    turn: Turn, output: list[dict[str, Any]], problems: list[str], code: str, first_line: int
) -> Turn:
    """The one repair turn after an answer that does not parse: the same request, asked in
    the same conversation, with the errors (their lines in the file) and the code produced.

    With a session, the first turn is in its history already (`record_turn`); without one,
    the first exchange is sent again before the repair message."""
    listed = "\n".join(f"- {problem}" for problem in problems)
    text = (
        "Your code does not parse: the file has syntax errors it did not have before your "
        f"edit, which starts at line {first_line} of the file:\n{listed}\n\n"
        f"The code you produced:\n```\n{code}\n```\n\n"
        "Answer again with the corrected code for the same selection, and nothing else."
    )
    repair = user_message(text)
    new_items = [repair] if turn.session is not None else [*turn.new_items, *output, repair]
    request = turn.request.model_copy(update={"input": new_items})
    return Turn(request=request, new_items=new_items, remembered=repair, session=turn.session)
