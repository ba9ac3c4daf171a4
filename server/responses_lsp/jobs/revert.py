""" "Revert AI edit": the code action and the `responses-lsp.revert` command behind it.

`action` offers the revert on the newest finished edit under the requested range that still
holds exactly what its job wrote (`jobs/landed.py` keeps and moves them). `start` answers the
command at once (DESIGN I9) and sends one `workspace/applyEdit` a moment later, once more
checked against the text: the region replaced by the job's original, versioned where the
client takes versions (a buffer that moved on refuses it rather than apply it elsewhere).
Its label is not a job edit label, so the one-undo code of our editors leaves it as an undo
step of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from lsprotocol import types as t

from responses_lsp.actions.catalog import kind_matches
from responses_lsp.contract import REVERT, REVERT_TITLE, revert_label
from responses_lsp.editing.document import Document
from responses_lsp.jobs.landed import LandedEdits
from responses_lsp.jobs.types import JobHost

log = logging.getLogger(__name__)

DELAY = 0.1
"""Seconds between the answer to `responses-lsp.revert` and its edit: more than the edit
driver's `REPLY_GAP` (Emacs 28's jsonrpc.el leaves a message read with an answer unparsed)."""
KIND = t.CodeActionKind.RefactorRewrite


class Reverts:
    def __init__(self, host: JobHost, landed: LandedEdits) -> None:
        self.host = host
        self.landed = landed
        self.sending: set[asyncio.Future[None]] = set()

    def action(
        self, doc: Document, rng: t.Range, only: Sequence[t.CodeActionKind | str] | None
    ) -> t.CodeAction | None:
        """ "Revert AI edit" for the newest intact finished edit under `rng`, if any."""
        if not kind_matches(KIND, only):
            return None
        encoding = self.host.driver.encoding
        low = doc.from_client(encoding, rng.start.line, rng.start.character)
        high = doc.from_client(encoding, rng.end.line, rng.end.character)
        for landed, start, end in self.landed.intact(doc, encoding):
            # under the range: the cursor at its start or inside it (not on the line after it)
            if start <= high and (low < end or (low == end and end[1] > 0)):
                args = {"uri": doc.uri, "jobId": landed.job_id}
                return t.CodeAction(
                    title=REVERT_TITLE,
                    kind=KIND,
                    command=t.Command(title=REVERT_TITLE, command=REVERT, arguments=[args]),
                )
        return None

    def start(self, uri: str, job_id: int) -> dict[str, Any]:
        """The command: `{"reverted": true, "jobId"}` and the edit on its way, or why not."""
        host = self.host
        doc = host.driver.get(uri)
        if doc is None or self.landed.find(doc, host.driver.encoding, job_id) is None:
            message = (
                "responses-lsp: nothing to revert: that AI edit was changed since, or is gone; "
                "use your editor's undo."
            )
            host.show("warning", message)
            return {"reverted": False, "message": message}
        task = asyncio.ensure_future(self._send(doc, job_id))
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)
        return {"reverted": True, "jobId": job_id}

    async def _send(self, doc: Document, job_id: int) -> None:
        await asyncio.sleep(DELAY)
        host = self.host
        encoding = host.driver.encoding
        found = self.landed.find(doc, encoding, job_id)  # the text may have moved meanwhile
        if found is None or host.driver.get(doc.uri) is not doc:
            host.show("warning", "responses-lsp: the AI edit changed before it could be reverted.")
            return
        landed, start, end = found
        first, last = doc.to_client(encoding, start), doc.to_client(encoding, end)
        text_edit = t.TextEdit(
            range=t.Range(
                start=t.Position(line=first[0], character=first[1]),
                end=t.Position(line=last[0], character=last[1]),
            ),
            new_text=landed.original,
        )
        if host.edit_capabilities()["document_changes"]:
            identifier = t.OptionalVersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version)
            edit = t.WorkspaceEdit(
                document_changes=[t.TextDocumentEdit(text_document=identifier, edits=[text_edit])]
            )
        else:
            edit = t.WorkspaceEdit(changes={doc.uri: [text_edit]})
        if await host.apply_workspace_edit(edit, revert_label(job_id)):
            self.landed.take(doc.uri, job_id)
            log.info("reverted job %d's edit (lines %d-%d)", job_id, first[0] + 1, last[0] + 1)
        else:
            host.show(
                "warning", "responses-lsp: the editor did not apply the revert; nothing changed."
            )
