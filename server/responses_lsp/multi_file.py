"""A multi-file job: the tool loop, then one confirmed `WorkspaceEdit` across files.

Nothing is streamed into the buffer: the model reads the workspace and proposes patches
through tools (`tools/loop.py`); the patches accumulate in a `ChangeSet`; when the model is
done, every change goes to the editor at once as one edit with a change annotation asking
the user to confirm. If the client rejects it, nothing changes; if a file changed in the
editor meanwhile, nothing is sent and the user is told (DESIGN §4, I3).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pygls.uris import from_fs_path, to_fs_path

from responses_lsp.errors import ResponsesLspError, error_kind

if TYPE_CHECKING:
    from responses_lsp.job_types import Job, JobHost, JobResult

log = logging.getLogger(__name__)


def _uri(path: Path) -> str:
    return from_fs_path(str(path)) or path.as_uri()


async def run_multi_file(
    host: JobHost, job: Job, action: Any, span: Any, started: float
) -> JobResult:
    from responses_lsp.actions.prompts import (
        PromptInput,
        build_agent_instructions,
        build_history_message,
        build_user_message,
        context_around,
    )
    from responses_lsp.api.requests import ResponseRequest, reasoning_fields, user_message
    from responses_lsp.job_types import JobResult
    from responses_lsp.jobs import without_lone_surrogates
    from responses_lsp.tools.changes import ChangeSet, OpenDocument, workspace_edit
    from responses_lsp.tools.definitions import TOOLS
    from responses_lsp.tools.errors import ToolError
    from responses_lsp.tools.loop import StepLimitReached, ToolLoop
    from responses_lsp.tools.workspace import WorkspaceFiles

    request = job.request
    settings = host.settings().settings
    doc = host.driver.get(request.uri)
    start, end = span
    selection = doc.slice(start, end)
    before, after = context_around(doc, start, end, settings.context_chars)
    prompt = PromptInput(
        action=action,
        file_path=host.relative_path(request.uri),
        language_id=doc.language_id,
        selection=selection,
        before=without_lone_surrogates(before),
        after=without_lone_surrogates(after),
        diagnostics=tuple(without_lone_surrogates(d) for d in request.diagnostics),
        instruction=without_lone_surrogates(request.instruction),
        first_line=start[0] + 1,
    )
    new_items = [user_message(build_user_message(prompt))]

    def open_document(path: Path) -> OpenDocument | None:
        live = host.driver.get(_uri(path))
        return OpenDocument(live.uri, live.version, live.text) if live is not None else None

    def read_open(path: Path) -> str | None:
        live = host.driver.get(_uri(path))
        return live.text if live is not None else None

    roots = host.folder_paths() or [Path(to_fs_path(request.uri) or ".").parent]
    files = WorkspaceFiles(roots, deny=settings.deny_patterns, read_open=read_open)
    caps = host.edit_capabilities()
    changes = ChangeSet(
        files,
        open_document=open_document,
        can_create=caps["document_changes"] and caps["resource_operations"],
    )
    has_progress = await host.progress_begin(job.token, action.title, "asking the model…")

    def progress(message: str) -> None:
        log.info("job %d: %s", job.id, message)
        if has_progress:
            host.progress_report(job.token, message)

    client = host.api()
    instructions = build_agent_instructions(doc.language_id)
    base = ResponseRequest(
        model=settings.model,
        instructions=instructions,
        input=new_items,
        tools=TOOLS,
        tool_choice="auto",
        parallel_tool_calls=False,
        prompt_cache_key=None,
        **reasoning_fields(settings.reasoning_effort),
    )
    session = host.session_for(request.uri)
    if session is not None:
        base = base.model_copy(update={"prompt_cache_key": session.cache_key})

    async def prepare(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if session is None:
            return [*new_items, *items]

        def compacting() -> None:
            progress("Compacting session…")

        result: list[dict[str, Any]] = await host.sessions.prepare(
            session,
            [*new_items, *items],
            client=client,
            base_url=settings.base_url,
            model=settings.model,
            instructions=instructions,
            threshold=settings.effective_compact_threshold,
            on_compact=compacting,
        )
        return result

    loop = ToolLoop(
        client=client,
        files=files,
        changes=changes,
        max_steps=settings.max_tool_steps,
        progress=progress,
    )
    outcome, message, kind = "error", "", None
    result = None
    job.task = asyncio.ensure_future(loop.run(base, prepare))
    try:
        try:
            result = await asyncio.shield(job.task)
        except asyncio.CancelledError:
            job.task.cancel()  # the request itself was cancelled: stop the loop too
            raise
        if session is not None:
            usage = result.usage.model_dump(mode="json") if result.usage is not None else None
            host.sessions.record(
                session, [user_message(build_history_message(prompt))], result.items, usage
            )
        if not changes.changed:
            outcome = "unchanged"
            message = (
                "responses-lsp: the model proposed no change. " + result.final_text.strip()[:300]
            )
        else:
            names = ", ".join(files.relative(s.path) for s in changes.changed)
            edit = workspace_edit(
                changes,
                uri_of=_uri,
                encoding=host.driver.encoding,
                document_changes=caps["document_changes"],
                resource_operations=caps["resource_operations"],
                annotations=caps["change_annotations"],
                label=f"AI: {action.title.removesuffix(' (AI)')}",
                description=(result.final_text.strip() or f"changes {names}")[:500],
            )
            progress(f"proposing changes to {len(changes.changed)} file(s)")
            applied = await host.apply_workspace_edit(
                edit, f"responses-lsp job {job.id}: {action.id}"
            )
            if applied:
                outcome, message = "applied", f"done: changed {names}"
            else:
                outcome, kind = "rejected", "state"
                message = (
                    "responses-lsp: the editor did not apply the changes; nothing was changed."
                )
    except asyncio.CancelledError:
        outcome, message = "cancelled", f"{job.cancel_reason or 'cancelled'}; nothing was changed"
    except StepLimitReached as exc:
        message = f"responses-lsp: {exc}; nothing was changed (raise responsesLsp.maxToolSteps?)"
        kind = "api"
    except ToolError as exc:
        message, kind = f"responses-lsp: {exc}", "state"
    except ResponsesLspError as exc:
        message = exc.user_message()
        kind = error_kind(exc)
    except Exception as exc:  # a bug: report it, never take the server down
        log.exception("job %d failed", job.id)
        message, kind = f"responses-lsp: internal error ({type(exc).__name__}: {exc})", "internal"
    if has_progress:
        host.progress_end(job.token, message or outcome)
    if outcome in ("error", "rejected"):
        host.show("error", message)
    elif outcome == "unchanged":
        host.show("info", message)
    return JobResult(
        job_id=job.id,
        outcome=outcome,
        message=message,
        tokens=result.tokens if result is not None else 0,
        seconds=time.monotonic() - started,
        error_kind=kind,
    )
