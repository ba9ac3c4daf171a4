"""A small, real LSP client for the command line: the language server as an editor sees it.

`EditorSession` starts `python -m responses_lsp` on stdio with pygls' `LanguageClient` and
initializes it like a plain editor: utf-16 positions, `workspace/applyEdit` with versioned
document changes, work-done progress, code-action literals with `disabled` support. It
keeps its own copy of each document it opens (`TextBuffer`), applies the server's edits to
it and reports each change back with `didChange` *before* answering the request, as VS
Code does; a versioned edit for another version is refused (`applied: false`).

An action runs the way an editor runs it: `textDocument/codeAction` for the range, then
`workspace/executeCommand` with the chosen action's command, which answers at once with
the job id; the job's result arrives later as the `responsesLsp/jobDone` notification
(this client declares `clientFeatures.jobDone`). Progress (`$/progress`),
messages (`window/showMessage`) and every change of a document are passed to callbacks,
so the commands can draw them. The server's stderr is drained (and shown with `verbose`)
so that a chatty server can never block on a full pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from lsprotocol import types as t
from pygls.lsp.client import LanguageClient

from responses_lsp import __version__
from responses_lsp.cli.buffer import TextBuffer
from responses_lsp.contract import CANCEL, CLIENT_FEATURES, FEATURE_JOB_DONE, JOB_DONE, RUN
from responses_lsp.protocol_fixes import fix_command_union

log = logging.getLogger(__name__)

INITIALIZE_TIMEOUT = 30.0
"""Seconds for the server to start and answer `initialize`."""
REQUEST_TIMEOUT = 15.0
"""Seconds for quick requests (codeAction, cancel)."""
SHUTDOWN_TIMEOUT = 5.0
"""Seconds for `shutdown` and for the process to exit afterwards."""
CANCEL_TIMEOUT = 3.0
"""Seconds for cancelled jobs to end (their text restored) before shutting down."""


ACTION_KINDS = [
    t.CodeActionKind.Empty,
    t.CodeActionKind.QuickFix,
    t.CodeActionKind.Refactor,
    t.CodeActionKind.RefactorExtract,
    t.CodeActionKind.RefactorInline,
    t.CodeActionKind.RefactorRewrite,
    t.CodeActionKind.Source,
]


class LspClientError(Exception):
    """The language server could not do what the command asked."""


class ServerExited(LspClientError):
    """The server process ended (or never started); `details` holds its last stderr lines."""

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = list(details)


class ActionNotOffered(LspClientError):
    """The server does not offer this action for this document and range."""

    def __init__(self, action_id: str, offered: Sequence[str]) -> None:
        self.action_id = action_id
        self.offered = list(offered)
        super().__init__(f"the action {action_id!r} is not offered here")


class ActionDisabled(LspClientError):
    """The server lists the action as disabled (e.g. no API key); `reason` says why."""

    def __init__(self, action_id: str, reason: str) -> None:
        self.action_id = action_id
        self.reason = reason
        super().__init__(reason)


# ------------------------------------------------------------------ documents


@dataclass(frozen=True)
class Progress:
    """One `$/progress` notification of work-done progress."""

    token: str
    kind: str  # begin | report | end
    title: str = ""
    message: str = ""


@dataclass
class Callbacks:
    """What the command wants to hear about while an action runs."""

    on_change: Callable[[TextBuffer], None] | None = None
    on_progress: Callable[[Progress], None] | None = None
    on_message: Callable[[int, str], None] | None = None


class _Client(LanguageClient):
    """pygls' client, with access to the server process (to drain its stderr)."""

    @property
    def process(self) -> asyncio.subprocess.Process | None:
        return self._server


def client_capabilities() -> t.ClientCapabilities:
    """What the command line supports, as a plain LSP 3.17 editor would say it."""
    return t.ClientCapabilities(
        general=t.GeneralClientCapabilities(position_encodings=[t.PositionEncodingKind.Utf16]),
        workspace=t.WorkspaceClientCapabilities(
            apply_edit=True,
            workspace_edit=t.WorkspaceEditClientCapabilities(
                document_changes=True, failure_handling=t.FailureHandlingKind.Abort
            ),
            execute_command=t.ExecuteCommandClientCapabilities(dynamic_registration=False),
        ),
        window=t.WindowClientCapabilities(work_done_progress=True),
        text_document=t.TextDocumentClientCapabilities(
            synchronization=t.TextDocumentSyncClientCapabilities(dynamic_registration=False),
            code_action=t.CodeActionClientCapabilities(
                code_action_literal_support=t.ClientCodeActionLiteralOptions(
                    code_action_kind=t.ClientCodeActionKindOptions(value_set=ACTION_KINDS)
                ),
                disabled_support=True,
                is_preferred_support=True,
            ),
        ),
    )


class EditorSession:
    """One language server process and the documents this 'editor' has open in it.

    Use as `async with EditorSession(env=..., root=..., settings=...) as editor:`;
    `settings` (the `responsesLsp` section) goes in `initializationOptions`.
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        root: Path,
        settings: Mapping[str, Any] | None = None,
        verbose: bool = False,
        callbacks: Callbacks | None = None,
    ) -> None:
        self.env = dict(env)
        self.root = root
        self.settings = dict(settings or {})
        self.verbose = verbose
        self.callbacks = callbacks or Callbacks()
        self.docs: dict[str, TextBuffer] = {}
        self.messages: list[tuple[int, str]] = []
        self.stderr_tail: deque[str] = deque(maxlen=30)
        self.encoding = "utf-16"
        self._client: _Client | None = None
        self._closing = False
        self._stderr_task: asyncio.Task[None] | None = None
        self._jobs_done: dict[int, dict[str, Any]] = {}
        self._job_waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def __aenter__(self) -> EditorSession:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        client = _Client("responses-lsp-cli", __version__)
        fix_command_union(client)
        self._client = client
        for method, handler in (
            (t.WORKSPACE_APPLY_EDIT, self._apply_edit),
            (t.WINDOW_WORK_DONE_PROGRESS_CREATE, self._ignore),
            (t.PROGRESS, self._progress),
            (t.WINDOW_SHOW_MESSAGE, self._show_message),
            (t.WINDOW_LOG_MESSAGE, self._log_message),
            (JOB_DONE, self._job_done),
            (t.CLIENT_REGISTER_CAPABILITY, self._ignore),
            (t.CLIENT_UNREGISTER_CAPABILITY, self._ignore),
        ):
            _register(client, method, handler)
        try:
            # A session of its own: Ctrl+C reaches the command, which then shuts the server
            # down in order (jobs cancelled, HTTP streams closed), instead of killing it.
            await client.start_io(
                sys.executable,
                "-m",
                "responses_lsp",
                env=self.env,
                cwd=str(self.root),
                start_new_session=True,
            )
        except OSError as exc:
            raise ServerExited(f"could not start the language server: {exc}") from exc
        process = client.process
        if process is not None and process.stderr is not None:
            self._stderr_task = asyncio.create_task(self._drain(process.stderr))
        params = t.InitializeParams(
            process_id=os.getpid(),
            client_info=t.ClientInfo(name="responses-lsp-cli", version=__version__),
            capabilities=client_capabilities(),
            root_uri=self.root.as_uri(),
            workspace_folders=[t.WorkspaceFolder(uri=self.root.as_uri(), name=self.root.name)],
            initialization_options={
                "responsesLsp": self.settings,
                CLIENT_FEATURES: {FEATURE_JOB_DONE: True},
            },
        )
        result = await self._request(client.initialize_async(params), INITIALIZE_TIMEOUT)
        encoding = result.capabilities.position_encoding
        self.encoding = str(getattr(encoding, "value", encoding) or "utf-16")
        client.initialized(t.InitializedParams())

    async def close(self) -> None:
        """`shutdown` + `exit`; the process is killed only if it does not exit in time.

        The client keeps answering (edits that restore cancelled regions, progress) until
        the server has exited."""
        client = self._client
        if client is None or self._closing:
            return
        self._closing = True
        process = client.process
        if process is not None and process.returncode is None and not client.stopped:
            try:
                await asyncio.wait_for(client.shutdown_async(None), SHUTDOWN_TIMEOUT)
            except Exception as exc:  # `exit` still ends it; if not, it is killed below
                log.debug("shutdown failed: %s", exc)
            with contextlib.suppress(Exception):
                client.exit(None)
        if process is not None:
            try:
                await asyncio.wait_for(process.wait(), SHUTDOWN_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.stop(), SHUTDOWN_TIMEOUT)  # type: ignore[no-untyped-call]
        if self._stderr_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._stderr_task, 1.0)
        self._client = None

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode("utf-8", "replace").rstrip("\n")
            self.stderr_tail.append(text)
            if self.verbose:
                sys.stderr.write(f"[server] {text}\n")
                sys.stderr.flush()

    def _gone(self, what: str) -> ServerExited:
        process = self._client.process if self._client else None
        code = process.returncode if process is not None else None
        status = f" (exit code {code})" if code is not None else ""
        return ServerExited(
            f"the language server stopped while {what}{status}", list(self.stderr_tail)
        )

    async def _request(self, request: Any, limit: float | None) -> Any:
        try:
            return await asyncio.wait_for(request, limit)
        except TimeoutError as exc:
            raise ServerExited("the language server did not answer in time") from exc
        except RuntimeError as exc:  # pygls fails pending requests when the process exits
            raise self._gone("working") from exc
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise self._gone("working") from exc

    @property
    def client(self) -> _Client:
        if self._client is None:
            raise ServerExited("the language server is not running")
        return self._client

    # ------------------------------------------------------------------ documents

    def open(self, path: Path, text: str, language_id: str) -> TextBuffer:
        uri = path.absolute().as_uri()
        doc = TextBuffer(uri, text, language_id, encoding=self.encoding)
        self.docs[uri] = doc
        self.client.text_document_did_open(
            t.DidOpenTextDocumentParams(
                text_document=t.TextDocumentItem(
                    uri=uri, language_id=language_id, version=doc.version, text=text
                )
            )
        )
        return doc

    # ------------------------------------------------------------------ actions

    async def code_actions(
        self, doc: TextBuffer, rng: t.Range, diagnostics: Sequence[t.Diagnostic] = ()
    ) -> list[t.CodeAction]:
        params = t.CodeActionParams(
            text_document=t.TextDocumentIdentifier(uri=doc.uri),
            range=rng,
            context=t.CodeActionContext(
                diagnostics=list(diagnostics), trigger_kind=t.CodeActionTriggerKind.Invoked
            ),
        )
        result = await self._request(
            self.client.text_document_code_action_async(params), REQUEST_TIMEOUT
        )
        return [a for a in result or [] if isinstance(a, t.CodeAction)]

    async def run_action(
        self,
        doc: TextBuffer,
        action_id: str,
        rng: t.Range,
        *,
        instruction: str | None = None,
        diagnostics: Sequence[t.Diagnostic] = (),
    ) -> dict[str, Any]:
        """Pick `action_id` from the code-action menu and run its command; the job result."""
        actions = await self.code_actions(doc, rng, diagnostics)
        chosen = next((a for a in actions if _action_id(a) == action_id), None)
        if chosen is None or chosen.command is None:
            raise ActionNotOffered(action_id, [i for a in actions if (i := _action_id(a))])
        if chosen.disabled is not None:
            raise ActionDisabled(action_id, chosen.disabled.reason)
        arguments = list(chosen.command.arguments or [])
        if instruction is not None and arguments and isinstance(arguments[0], dict):
            arguments[0] = {**arguments[0], "instruction": instruction}
        params = t.ExecuteCommandParams(command=chosen.command.command, arguments=arguments)
        answer = await self._request(
            self.client.workspace_execute_command_async(params), REQUEST_TIMEOUT
        )
        answer = _plain(answer)
        if not isinstance(answer, dict):
            raise LspClientError(f"unexpected answer to {RUN}: {answer!r}")
        if answer.get("outcome") != "started":
            return answer  # refused before it started: the answer is the result
        done = self._job_future(int(answer["jobId"]))
        # Shielded: on Ctrl+C the job is cancelled by command and its end still arrives
        # (once the original text is back) before the server is shut down.
        try:
            result: dict[str, Any] = await self._request(asyncio.shield(done), None)
            return result
        except asyncio.CancelledError:
            await self.cancel_jobs(doc, done)
            raise

    def _job_future(self, job_id: int) -> asyncio.Future[dict[str, Any]]:
        """Resolved by the job's `responsesLsp/jobDone` (which may already have come)."""
        future = self._job_waiters.get(job_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._job_waiters[job_id] = future
        if job_id in self._jobs_done and not future.done():
            future.set_result(self._jobs_done.pop(job_id))
        return future

    async def cancel_jobs(self, doc: TextBuffer, running: asyncio.Future[Any]) -> None:
        """Cancel the jobs on `doc` and wait (bounded) for the `running` job to end, so
        that the server has restored the text and has no edit in flight at shutdown."""
        client = self._client
        if client is None or client.stopped:
            return
        cancel = t.ExecuteCommandParams(command=CANCEL, arguments=[{"uri": doc.uri}])
        try:
            async with asyncio.timeout(CANCEL_TIMEOUT):
                await client.workspace_execute_command_async(cancel)
                await running
        except Exception as exc:  # best effort: shutdown cancels whatever is left
            log.debug("cancelling jobs: %s", exc)

    # ------------------------------------------------------------------ server -> client

    def _apply_edit(self, params: t.ApplyWorkspaceEditParams) -> t.ApplyWorkspaceEditResult:
        edit = params.edit
        if edit.document_changes is not None:
            groups: list[tuple[str, int | None, list[t.TextEdit]]] = []
            for change in edit.document_changes:
                if not isinstance(change, t.TextDocumentEdit):
                    return _refused("file operations are not supported by the command line")
                edits = [e for e in change.edits if isinstance(e, t.TextEdit)]
                if len(edits) != len(change.edits):
                    return _refused("snippet edits are not supported by the command line")
                groups.append((change.text_document.uri, change.text_document.version, edits))
        else:
            groups = [(uri, None, list(edits)) for uri, edits in (edit.changes or {}).items()]
        for uri, version, _edits in groups:
            doc = self.docs.get(uri)
            if doc is None:
                return _refused(f"{uri} is not open")
            if version is not None and version != doc.version:
                return _refused(f"version {version} is stale (the document is at {doc.version})")
        for uri, _version, edits in groups:
            try:
                self._apply(self.docs[uri], edits)
            except RuntimeError:  # the client stopped while the server was still sending
                return _refused("the editor is closing")
        return t.ApplyWorkspaceEditResult(applied=True)

    def _apply(self, doc: TextBuffer, edits: list[t.TextEdit]) -> None:
        # Edits of one TextDocumentEdit refer to the same text: apply them from the end,
        # so each range is still right when its turn comes, and report them in that order.
        ordered = sorted(
            enumerate(edits),
            key=lambda item: (item[1].range.start.line, item[1].range.start.character, item[0]),
            reverse=True,
        )
        changes: list[t.TextDocumentContentChangeEvent] = []
        for _index, edit in ordered:
            doc.replace(edit.range, edit.new_text)
            changes.append(t.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text))
        doc.version += 1
        self.client.text_document_did_change(
            t.DidChangeTextDocumentParams(
                text_document=t.VersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version),
                content_changes=changes,
            )
        )
        if self.callbacks.on_change is not None:
            self.callbacks.on_change(doc)

    def _progress(self, params: t.ProgressParams) -> None:
        value = params.value
        if not isinstance(value, dict) or self.callbacks.on_progress is None:
            return
        self.callbacks.on_progress(
            Progress(
                token=str(params.token),
                kind=str(value.get("kind", "")),
                title=str(value.get("title") or ""),
                message=str(value.get("message") or ""),
            )
        )

    def _show_message(self, params: t.ShowMessageParams) -> None:
        level = int(params.type)
        self.messages.append((level, params.message))
        if self.callbacks.on_message is not None:
            self.callbacks.on_message(level, params.message)

    def _log_message(self, params: t.LogMessageParams) -> None:
        if self.verbose:
            sys.stderr.write(f"[server log] {params.message}\n")
            sys.stderr.flush()

    def _job_done(self, params: Any) -> None:
        result = _plain(params)
        job_id = int(result["jobId"])
        future = self._job_waiters.pop(job_id, None)
        if future is not None and not future.done():
            future.set_result(result)
        else:
            self._jobs_done[job_id] = result

    def _ignore(self, _params: Any) -> None:
        return None


def _register(client: LanguageClient, method: str, handler: Callable[[Any], Any]) -> None:
    """pygls marks handlers with attributes, which a bound method cannot take: wrap it."""

    def feature(params: Any) -> Any:
        return handler(params)

    client.feature(method)(feature)


def _plain(value: Any) -> Any:
    """A JSON object as pygls hands over an unknown method's params: a dict again."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _refused(reason: str) -> t.ApplyWorkspaceEditResult:
    return t.ApplyWorkspaceEditResult(applied=False, failure_reason=reason)


def _action_id(action: t.CodeAction) -> str | None:
    command = action.command
    if command is None or command.command != RUN or not command.arguments:
        return None
    first = command.arguments[0]
    return str(first.get("action")) if isinstance(first, dict) and first.get("action") else None
