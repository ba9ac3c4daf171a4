"""A scripted editor on top of pytest-lsp's client (`responses_lsp.testing`).

It keeps the text of each open document (its own small model, independent of the
server's), applies `workspace/applyEdit` like a real editor, and sends didChange back:

- "vscode": rejects a versioned edit whose version is not the document's (`applied:
  false`), and sends didChange for every change before it answers;
- "neovim": didOpen says version 0; a versioned edit older than the buffer is skipped
  while the answer is `applied: true`; didChange is debounced 150 ms (trailing until the
  first flush, then at most one per 150 ms) and reports minimal diffs.

Tests type into documents with `type_at`, as a user would, while a job streams.

Like the project's own clients, it learns how a job ended from the `responsesLsp/jobDone`
notification (`job_result`); `responses-lsp.run` only answers that the job started.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import attrs
from lsprotocol import types as t
from pytest_lsp import LanguageClient, client_capabilities

from responses_lsp.contract import JOB_DONE
from responses_lsp.editing.document import common_prefix, common_suffix

PROFILES = {
    "vscode": "visual-studio-code",
    "neovim": "neovim@v0.11.0",
}
DEBOUNCE = 0.150


def _units(text: str, encoding: str) -> int:
    # surrogatepass: a lone surrogate is one UTF-16 unit (editors hold such text as is)
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == "utf-32":
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _lines(text: str) -> list[str]:
    """Lines as LSP (and editors) count them: only CR LF, CR and LF end a line."""
    lines = _LINE.findall(text)
    if not lines or lines[-1].endswith(("\n", "\r")):
        lines.append("")
    return lines


@dataclass
class OpenDoc:
    uri: str
    text: str
    version: int
    pending: list[dict[str, Any]] = field(default_factory=list)
    last_flush: float | None = None
    timer: asyncio.TimerHandle | None = None


def minimal_diff(before: str, after: str) -> tuple[int, int, str]:
    """The one change (start, end in `before`, new text) that turns `before` into `after`,
    as a client that sends minimal diffs computes it (never splitting a CRLF pair)."""
    prefix = common_prefix(before, after)
    suffix = common_suffix(before, after, prefix)
    while prefix > 0 and before[prefix - 1 : prefix + 1] == "\r\n":
        prefix -= 1
    return prefix, len(before) - suffix, after[prefix : len(after) - suffix]


class FakeEditor:
    def __init__(self, client: LanguageClient, profile: str) -> None:
        self.client = client
        self.profile = profile
        self.docs: dict[str, OpenDoc] = {}
        self.encoding = "utf-16"
        self.reject_next = 0  # answer applied:false (without applying) this many times
        self.applied: list[t.ApplyWorkspaceEditParams] = []
        self.skipped = 0
        self.rejected = 0
        self.tick = 5  # Neovim's changedtick after loading a buffer
        self.confirm: Any = None  # called with edits that need confirmation (None: accept)
        self.file_operations: list[Any] = []
        self.apply_edit = True  # declare workspace.applyEdit (as every profile does)
        self.jobs_done: dict[int, dict[str, Any]] = {}  # jobId -> result, as announced
        self._job_waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}

        def on_job_done(params: Any) -> None:
            self._on_job_done(params)

        client.feature(JOB_DONE)(on_job_done)

        def on_apply_edit(params: t.ApplyWorkspaceEditParams) -> t.ApplyWorkspaceEditResult:
            return self._on_apply_edit(params)

        client.feature(t.WORKSPACE_APPLY_EDIT)(on_apply_edit)

    @property
    def capabilities(self) -> t.ClientCapabilities:
        capabilities = client_capabilities(PROFILES[self.profile])
        if self.apply_edit:
            return capabilities
        workspace = attrs.evolve(
            capabilities.workspace or t.WorkspaceClientCapabilities(), apply_edit=False
        )
        return attrs.evolve(capabilities, workspace=workspace)

    # ------------------------------------------------------------------ documents

    def open(self, uri: str, text: str, language_id: str = "python") -> None:
        version = 1 if self.profile == "vscode" else 0
        self.docs[uri] = OpenDoc(uri, text, version)
        self.client.text_document_did_open(
            t.DidOpenTextDocumentParams(
                text_document=t.TextDocumentItem(
                    uri=uri, language_id=language_id, version=version, text=text
                )
            )
        )

    def close(self, uri: str) -> None:
        doc = self.docs.pop(uri)
        if doc.timer:
            doc.timer.cancel()
        self.client.text_document_did_close(
            t.DidCloseTextDocumentParams(text_document=t.TextDocumentIdentifier(uri=uri))
        )

    def text(self, uri: str) -> str:
        return self.docs[uri].text

    def position(self, uri: str, offset: int) -> t.Position:
        text = self.docs[uri].text[:offset]
        lines = _lines(text)
        return t.Position(line=len(lines) - 1, character=_units(lines[-1], self.encoding))

    def offset(self, uri: str, pos: t.Position) -> int:
        lines = _lines(self.docs[uri].text)
        if pos.line >= len(lines):
            return len(self.docs[uri].text)
        line = lines[pos.line]
        content = line.rstrip("\r\n")
        units = 0
        col = 0
        while col < len(content) and units < pos.character:
            units += _units(content[col], self.encoding)
            col += 1
        return sum(len(x) for x in lines[: pos.line]) + col

    # ------------------------------------------------------------------ changes

    def type_at(self, uri: str, offset: int, text: str, delete: int = 0) -> None:
        """The user types `text` at `offset` (replacing `delete` characters)."""
        self._replace(uri, offset, offset + delete, text)

    def _replace(self, uri: str, start: int, end: int, text: str) -> None:
        doc = self.docs[uri]
        before = doc.text
        start_pos, end_pos = self.position(uri, start), self.position(uri, end)
        doc.text = before[:start] + text + before[end:]
        if self.profile == "vscode":
            doc.version += 1
            change = t.TextDocumentContentChangePartial(
                range=t.Range(start=start_pos, end=end_pos), text=text
            )
            self._send(uri, doc.version, [change])
            return
        self.tick += 1
        doc.version = self.tick
        removed = before[start:end]
        if not text and end == len(before) and len(removed) > 1 and removed.endswith("\n"):
            # Neovim reports a deletion reaching the end of the buffer as two changes:
            # the text up to the last line break, then that line break.
            middle = before[: end - 1] + before[end:]
            doc.pending.append(self._minimal(before, middle))
            doc.pending.append(self._minimal(middle, doc.text))
        else:
            doc.pending.append(self._minimal(before, doc.text))
        self._schedule_flush(doc)

    def _minimal(self, before: str, after: str) -> dict[str, Any]:
        start, end, text = minimal_diff(before, after)
        return {"before": before, "start": start, "end": end, "text": text}

    def _schedule_flush(self, doc: OpenDoc) -> None:
        loop = asyncio.get_running_loop()
        delay = DEBOUNCE
        if doc.last_flush is not None:
            delay = max(0.0, DEBOUNCE - (loop.time() - doc.last_flush))
        if doc.timer:
            doc.timer.cancel()
        doc.timer = loop.call_later(delay, self._flush, doc)

    def _flush(self, doc: OpenDoc) -> None:
        doc.timer = None
        if not doc.pending or doc.uri not in self.docs:
            return
        doc.last_flush = asyncio.get_running_loop().time()
        changes = []
        for item in doc.pending:
            saved = doc.text
            doc.text = item["before"]  # positions are in the text before each change
            rng = t.Range(
                start=self.position(doc.uri, item["start"]), end=self.position(doc.uri, item["end"])
            )
            doc.text = saved
            changes.append(t.TextDocumentContentChangePartial(range=rng, text=item["text"]))
        doc.pending.clear()
        self._send(doc.uri, doc.version, changes)

    def _send(self, uri: str, version: int, changes: list[Any]) -> None:
        self.client.text_document_did_change(
            t.DidChangeTextDocumentParams(
                text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=changes,
            )
        )

    async def settle(self, seconds: float = 0.4) -> None:
        """Let pending debounced didChange notifications go out."""
        await asyncio.sleep(seconds)

    # ------------------------------------------------------------------ jobs

    def _on_job_done(self, params: Any) -> None:
        result = _plain(params)
        job_id = int(result["jobId"])
        self.jobs_done[job_id] = result
        waiter = self._job_waiters.pop(job_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(result)

    async def job_result(self, answer: Any, limit: float = 60.0) -> dict[str, Any]:
        """The result of the job that `responses-lsp.run` answered with `answer`."""
        answer = _plain(answer)
        if answer.get("outcome") != "started":
            return dict(answer)  # refused before it started: the answer is the result
        job_id = int(answer["jobId"])
        if job_id in self.jobs_done:
            return self.jobs_done[job_id]
        waiter = self._job_waiters.setdefault(job_id, asyncio.get_running_loop().create_future())
        return await asyncio.wait_for(asyncio.shield(waiter), limit)

    # ------------------------------------------------------------------ applyEdit

    def _on_apply_edit(self, params: t.ApplyWorkspaceEditParams) -> t.ApplyWorkspaceEditResult:
        self.applied.append(params)
        if self.reject_next > 0:
            self.reject_next -= 1
            self.rejected += 1
            return t.ApplyWorkspaceEditResult(applied=False, failure_reason="test rejects")
        edit = params.edit
        if self.confirm is not None and edit.change_annotations:
            needs = [a for a in edit.change_annotations.values() if a.needs_confirmation]
            if needs and not self.confirm(edit):
                return t.ApplyWorkspaceEditResult(applied=False, failure_reason="declined")
        groups: list[tuple[str, int | None, list[Any]]] = []
        for change in edit.document_changes or []:
            if isinstance(change, t.TextDocumentEdit):
                kept: list[Any] = [
                    e for e in change.edits if isinstance(e, t.TextEdit | t.AnnotatedTextEdit)
                ]
                groups.append((change.text_document.uri, change.text_document.version, kept))
            else:  # CreateFile / RenameFile / DeleteFile: on disk, as editors do
                self.file_operations.append(change)
                _file_operation(change)
        for uri, edits in (edit.changes or {}).items():
            groups.append((uri, None, list(edits)))
        for uri, version, edits in groups:
            doc = self.docs.get(uri)
            if doc is None:
                if not uri.startswith("file://"):
                    return t.ApplyWorkspaceEditResult(applied=False, failure_reason="not open")
                _edit_on_disk(uri, edits)
                continue
            if version is not None:
                if self.profile == "vscode" and version != doc.version:
                    self.rejected += 1
                    return t.ApplyWorkspaceEditResult(applied=False, failure_reason="stale version")
                if self.profile == "neovim" and version > 0 and doc.version > version:
                    self.skipped += 1  # "Buffer ... newer than edits." and applied = true
                    return t.ApplyWorkspaceEditResult(applied=True)
            spans = sorted(
                (
                    (self.offset(uri, e.range.start), self.offset(uri, e.range.end), e.new_text)
                    for e in edits
                ),
                reverse=True,
            )
            for start, end, text in spans:
                self._replace(uri, start, end, text)
        return t.ApplyWorkspaceEditResult(applied=True)


def _plain(value: Any) -> dict[str, Any]:
    """A JSON object as pygls hands it over (a dict, or a namedtuple-like object)."""
    if isinstance(value, dict):
        return value
    if hasattr(value, "_asdict"):
        return {k: _plain(v) if hasattr(v, "_asdict") else v for k, v in value._asdict().items()}
    return dict(vars(value))


def _path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


def _file_operation(operation: Any) -> None:
    if isinstance(operation, t.CreateFile):
        _path(operation.uri).parent.mkdir(parents=True, exist_ok=True)
        _path(operation.uri).touch()
    elif isinstance(operation, t.RenameFile):
        _path(operation.old_uri).rename(_path(operation.new_uri))
    elif isinstance(operation, t.DeleteFile):
        _path(operation.uri).unlink()


def _edit_on_disk(uri: str, edits: list[Any]) -> None:
    """Edits to a file that is not open: applied to the file (UTF-16 positions)."""
    path = _path(uri)
    text = path.read_text(encoding="utf-8") if path.exists() else ""

    def offset(pos: t.Position) -> int:
        lines = _lines(text)
        if pos.line >= len(lines):
            return len(text)
        content = lines[pos.line].rstrip("\r\n")
        units = col = 0
        while col < len(content) and units < pos.character:
            units += _units(content[col], "utf-16")
            col += 1
        return sum(len(x) for x in lines[: pos.line]) + col

    spans = sorted(
        ((offset(e.range.start), offset(e.range.end), e.new_text) for e in edits), reverse=True
    )
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    path.write_text(text, encoding="utf-8")
