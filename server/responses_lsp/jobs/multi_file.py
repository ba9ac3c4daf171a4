"""A multi-file job: the tool loop, then one confirmed `WorkspaceEdit` across files.

Nothing is streamed into the buffer: the model reads the workspace and proposes patches
through tools (`jobs.tool_loop`); the patches accumulate in a `ChangeSet`; when the model is
done, every change goes to the editor at once as one edit with a change annotation asking
the user to confirm. If the client rejects it, nothing changes; if a file changed in the
editor meanwhile, nothing is sent and the user is told (DESIGN §4, I3).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pygls.uris import from_fs_path, to_fs_path

from responses_lsp.actions.catalog import ActionSpec
from responses_lsp.api.events import Usage
from responses_lsp.contract import edit_label
from responses_lsp.editing.document import Document, Pos
from responses_lsp.errors import JobFailed, ResponsesLspError, error_kind
from responses_lsp.jobs.request import build_turn, record_turn, session_input, spent
from responses_lsp.jobs.tool_loop import StepLimitReached, ToolLoop
from responses_lsp.jobs.types import Job, JobHost, JobResult, Progress
from responses_lsp.tools.budget import on_loop
from responses_lsp.tools.changes import ChangeSet, OpenDocument, workspace_edit
from responses_lsp.tools.errors import ToolError
from responses_lsp.tools.workspace import WorkspaceFiles

log = logging.getLogger(__name__)


def _uri(path: Path) -> str:
    return from_fs_path(str(path)) or path.as_uri()


class MultiFileJob:
    """The body of a job that may read and change several files (see the module docstring)."""

    def __init__(
        self, host: JobHost, job: Job, action: ActionSpec, doc: Document, span: tuple[Pos, Pos]
    ) -> None:
        self.host = host
        self.job = job
        self.action = action
        self.doc = doc
        self.span = span
        self.title = action.title
        self.outcome, self.message = "error", ""
        self.kind: str | None = None
        self.tokens = 0
        self.usages: list[Usage | None] = []

    async def run(self, progress: Progress) -> None:
        try:
            await self._run(progress)
        except StepLimitReached as exc:
            message = (
                f"responses-lsp: {exc}; nothing was changed (raise responsesLsp.maxToolSteps?)"
            )
            raise JobFailed(message, "api") from exc
        except ToolError as exc:
            raise JobFailed(f"responses-lsp: {exc}", "state") from exc

    async def _run(self, progress: Progress) -> None:
        host, job, action = self.host, self.job, self.action
        uri = job.request.uri
        settings = host.settings().settings
        turn = build_turn(
            host, job, action, self.doc, self.span, self.doc.slice(*self.span), tools=True
        )

        def open_document(path: Path) -> OpenDocument | None:
            live = host.driver.get(_uri(path))
            return OpenDocument(live.uri, live.version, live.text) if live is not None else None

        def read_open(path: Path) -> str | None:
            live = host.driver.get(_uri(path))
            return live.text if live is not None else None

        roots = host.folder_paths() or [Path(to_fs_path(uri) or ".").parent]
        # tool calls run in a worker thread: the editor's documents are read on the loop
        files = WorkspaceFiles(roots, deny=settings.deny_patterns, read_open=on_loop(read_open))
        caps = host.edit_capabilities()
        changes = ChangeSet(
            files,
            open_document=on_loop(open_document),
            can_create=caps["document_changes"] and caps["resource_operations"],
        )

        def report(message: str) -> None:
            log.info("job %d: %s", job.id, message)
            progress.report(message)

        async def prepare(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return await session_input(host, turn, progress, items)

        loop = ToolLoop(
            client=host.api(),
            files=files,
            changes=changes,
            max_steps=settings.max_tool_steps,
            progress=report,
        )
        try:
            result = await loop.run(turn.request, prepare)
        finally:
            self.usages = loop.usages  # what was spent, even when the loop failed
        self.tokens = result.tokens
        record_turn(host, turn, result.items, result.usages)
        if not changes.changed:
            self.outcome = "unchanged"
            self.message = (
                "responses-lsp: the model proposed no change. " + result.final_text.strip()[:300]
            )
            return
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
        report(f"proposing changes to {len(changes.changed)} file(s)")
        if await host.apply_workspace_edit(edit, edit_label(job.id, action.id)):
            self.outcome, self.message = "applied", f"done: changed {names}"
        else:
            self.outcome, self.kind = "rejected", "state"
            self.message = (
                "responses-lsp: the editor did not apply the changes; nothing was changed."
            )

    async def settle(
        self, error: ResponsesLspError | None, cancelled: bool, seconds: float
    ) -> JobResult:
        if cancelled:
            outcome, kind = "cancelled", None
            message = f"{self.job.cancel_reason or 'cancelled'}; nothing was changed"
        elif error is not None:
            outcome, message, kind = "error", error.user_message(), error_kind(error)
        else:
            outcome, message, kind = self.outcome, self.message, self.kind
        return JobResult(
            job_id=self.job.id,
            outcome=outcome,
            message=message,
            tokens=self.tokens,
            seconds=seconds,
            error_kind=kind,
            usage=spent(self.host, self.usages),
        )
