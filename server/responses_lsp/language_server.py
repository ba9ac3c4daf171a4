"""The language server: capabilities, thin LSP handlers, and the state they share.

Handlers fetch what they need and call pure cores: the actions catalog (codeAction, no
I/O), the job manager (executeCommand), the edit driver (document sync, applyEdit). The
protocol subclass keeps documents in the engine's own O(change) model instead of pygls'
(DESIGN I6b). Command arguments are attrs classes structured by pygls' converter
(`jobs.arguments`). What is heavy loads in two lazy steps (`jobs/runtime.py`): the edit
engine and the settings (pydantic) in `ResponsesLanguageServer.runtime`, after `initialize`,
so that it answers as fast as a bare pygls server; the API client (httpx), sessions and the
job pipeline in `Runtime.backend`, at the first job, so that an editor that only opens files
and lists code actions keeps a small server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cattrs import Converter
from lsprotocol import types as t
from pygls.lsp.server import LanguageServer
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path

from responses_lsp import __version__
from responses_lsp.actions.catalog import all_actions, offered_actions
from responses_lsp.actions.privacy import is_secret_path
from responses_lsp.contract import (
    CANCEL,
    CLIENT_FEATURES,
    FEATURE_JOB_DONE,
    JOB_DONE,
    JOB_RESULT,
    JOBS,
    REVERT,
    RUN,
    SESSION_COMPACT,
    SESSION_RESET,
    SESSION_SHOW,
)
from responses_lsp.editing.document import Encoding
from responses_lsp.jobs.arguments import (
    BadArguments,
    CancelArguments,
    JobResultArguments,
    RevertArguments,
    RunArguments,
    SessionArguments,
    make_converter,
    structure,
)
from responses_lsp.logging_setup import attach_editor_log
from responses_lsp.stdio import FastDispatch
from responses_lsp.wire import WireProtocol, apply_edit_params

if TYPE_CHECKING:  # behind the one lazy import (`runtime`): loaded after `initialize`
    from responses_lsp.api.client import ResponsesClient
    from responses_lsp.editing.driver import EditDriver
    from responses_lsp.editing.live_region import OutgoingEdit
    from responses_lsp.jobs.manager import JobManager
    from responses_lsp.jobs.runtime import Runtime
    from responses_lsp.sessions.manager import SessionManager
    from responses_lsp.sessions.schema import Session
    from responses_lsp.settings import ResolvedSettings

log = logging.getLogger(__name__)

ACTION_KINDS = [t.CodeActionKind.RefactorRewrite, t.CodeActionKind.QuickFix]
NO_KEY_REASON = "Set OPENAI_API_KEY or responsesLsp.apiKey"
NO_APPLY_EDIT_REASON = (
    "This editor does not accept edits from a language server (no workspace.applyEdit)"
)


class ResponsesProtocol(WireProtocol, FastDispatch):
    """Document sync goes to the edit driver, in the order the messages arrive. Messages in
    are dispatched by `FastDispatch` (stdio.py); messages out, and the answers to our own
    requests, go through `WireProtocol` (wire.py)."""

    _server: ResponsesLanguageServer

    # Overrides a private pygls 2.1 method: its parameters are typed `Any` there (any JSON-RPC
    # id, result and error); test_reply_gap_e2e fails should pygls rename it.
    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        super()._send_response(msg_id, result, error)
        # Keep our next edit out of the read that carries this answer (Emacs 28's jsonrpc
        # loses sight of it otherwise: see EditDriver.after_reply).
        self._server.driver.after_reply()

    @lsp_method(t.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: t.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        self._server.driver.open(item.uri, item.text, item.version, item.language_id)
        self._server.runtime.landed.forget(item.uri)

    @lsp_method(t.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: t.DidChangeTextDocumentParams) -> None:
        doc = params.text_document
        changes = list(params.content_changes)
        self._server.driver.change(doc.uri, doc.version, changes)
        # finished AI edits move with the text, and are forgotten once the user edits them
        self._server.runtime.landed.changed(doc.uri, self._server.driver.encoding, changes)

    @lsp_method(t.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: t.DidCloseTextDocumentParams) -> None:
        self._server.runtime.close_document(params.text_document.uri)
        self._server.runtime.landed.forget(params.text_document.uri)


class ResponsesLanguageServer(LanguageServer):
    """Server state: settings, documents, jobs, the API client."""

    protocol: ResponsesProtocol

    def __init__(self) -> None:
        super().__init__(
            "responses-lsp",
            __version__,
            protocol_cls=ResponsesProtocol,
            converter_factory=make_converter,
            text_document_sync_kind=t.TextDocumentSyncKind.Incremental,
        )
        self._runtime: Runtime | None = None
        self.init_options: dict[str, Any] = {}
        self.workspace_settings: dict[str, Any] | None = None
        self.client_features: dict[str, Any] = {}
        self.document_changes = False  # the client takes versioned TextDocumentEdits
        self.position_encoding = Encoding("utf-16")
        self.client_name = ""  # lowercased clientInfo.name

    @property
    def runtime(self) -> Runtime:
        """The edit driver and the settings (and, behind them, the job half): the server's
        lazy import (see `jobs/runtime.py`).

        Loads the first time any of it is needed (`initialized` resolves the settings), never
        before `initialize` has been answered; every other module imports at its top."""
        if self._runtime is None:
            from responses_lsp.jobs.runtime import Runtime

            self._runtime = Runtime(self)
        return self._runtime

    @property
    def driver(self) -> EditDriver:
        """The edit engine's driver: documents, regions, `workspace/applyEdit`s."""
        return self.runtime.driver

    def configure_driver(self, driver: EditDriver) -> None:
        """What `initialize` learned of the client, for the edit engine."""
        driver.encoding = self.position_encoding
        driver.open_version_is_real = self.client_name != "neovim"
        driver.version_late = self.client_name == "eglot"  # 1.9 sends no clientInfo
        # Emacs' jsonrpc.el may leave a message that shares a read with an answer unparsed
        # (EditDriver.after_reply): eglot, and clients that do not say who they are.
        driver.gap_after_replies = self.client_name in ("", "eglot")
        if not self.document_changes:
            driver.versioned = False

    @property
    def converter(self) -> Converter:
        """pygls' converter (`jobs.arguments.make_converter`), for command arguments."""
        return self.protocol._converter  # pygls keeps it on the protocol only

    @property
    def jobs(self) -> JobManager:
        return self.runtime.jobs

    # ------------------------------------------------------------------ settings

    def settings(self) -> ResolvedSettings:
        return self.runtime.settings()

    def reload_settings(self) -> None:
        settings = self.runtime.reload_settings().settings
        attach_editor_log(self._log_to_editor, settings.log_level)

    def api(self) -> ResponsesClient:
        return self.runtime.api()

    @property
    def loaded_runtime(self) -> Runtime | None:
        """The runtime if anything needed it yet (shutdown does not load it)."""
        return self._runtime

    # ------------------------------------------------------------------ host API for jobs

    def show(self, kind: str, message: str) -> None:
        level = {"error": t.MessageType.Error, "warning": t.MessageType.Warning}.get(
            kind, t.MessageType.Info
        )
        self.window_show_message(t.ShowMessageParams(type=level, message=message))
        log.info("%s", message)

    def job_done(self, result: dict[str, Any]) -> None:
        """A started job ended: tell clients that asked (`clientFeatures.jobDone`)."""
        if not self.client_features.get(FEATURE_JOB_DONE):
            return
        try:
            self.protocol.notify(JOB_DONE, result)
        except Exception as exc:  # the connection is going away: nothing left to tell
            log.info("could not send %s: %s", JOB_DONE, exc)

    def can_apply_edits(self) -> bool:
        """The client declared `workspace.applyEdit`: without it, no action can run."""
        caps = self.client_capabilities
        return bool(caps and caps.workspace and caps.workspace.apply_edit)

    def _log_to_editor(self, level: int, message: str) -> None:
        kind = (
            t.MessageType.Error
            if level >= logging.ERROR
            else t.MessageType.Warning
            if level >= logging.WARNING
            else t.MessageType.Info
            if level >= logging.INFO
            else t.MessageType.Log
        )
        self.window_log_message(t.LogMessageParams(type=kind, message=message))

    def _supports_progress(self) -> bool:
        caps = self.client_capabilities
        return bool(caps and caps.window and caps.window.work_done_progress)

    async def progress_begin(self, token: str, title: str, message: str) -> bool:
        if not self._supports_progress():
            return False
        try:
            await asyncio.wait_for(self.work_done_progress.create_async(token), 5.0)
        except Exception as exc:  # the client refused or did not answer: no progress
            log.info("no work-done progress: %s", exc)
            return False
        self.work_done_progress.begin(
            token, t.WorkDoneProgressBegin(title=title, cancellable=True, message=message)
        )
        return True

    def progress_report(self, token: str, message: str) -> None:
        self.work_done_progress.report(token, t.WorkDoneProgressReport(message=message))

    def progress_end(self, token: str, message: str) -> None:
        self.work_done_progress.end(token, t.WorkDoneProgressEnd(message=message))
        self.work_done_progress.tokens.pop(token, None)

    def relative_path(self, uri: str) -> str:
        path = to_fs_path(uri) or uri
        roots = [to_fs_path(f.uri) for f in self.workspace.folders.values()]
        if self.workspace.root_path:
            roots.append(self.workspace.root_path)
        for root in sorted((r for r in roots if r), key=len, reverse=True):
            rel = os.path.relpath(path, root)
            if not rel.startswith(".."):
                return rel
        return os.path.basename(path)

    @property
    def sessions(self) -> SessionManager:
        return self.runtime.sessions

    def session_for(self, uri: str) -> Session | None:
        return self.sessions.session_for(uri)

    def folder_paths(self) -> list[Path]:
        paths = [to_fs_path(uri) for uri in self.folder_uris()]
        return [Path(p) for p in paths if p]

    def edit_capabilities(self) -> dict[str, bool]:
        caps = self.client_capabilities
        edit = caps.workspace.workspace_edit if caps and caps.workspace else None
        return {
            "document_changes": bool(edit and edit.document_changes),
            "resource_operations": bool(edit and edit.resource_operations),
            "change_annotations": bool(edit and edit.change_annotation_support),
        }

    async def apply_workspace_edit(self, edit: t.WorkspaceEdit, label: str) -> bool:
        try:
            result = await self.workspace_apply_edit_async(
                t.ApplyWorkspaceEditParams(edit=edit, label=label)
            )
        except Exception as exc:
            log.warning("workspace/applyEdit failed: %s", exc)
            return False
        if not result.applied:
            log.info("the client did not apply the edit: %s", result.failure_reason)
        return bool(result.applied)

    def folder_uris(self) -> list[str]:
        uris = [f.uri for f in self.workspace.folders.values()]
        if self.workspace.root_uri and self.workspace.root_uri not in uris:
            uris.append(self.workspace.root_uri)
        return uris

    # ------------------------------------------------------------------ edits

    def send_edit(self, edit: OutgoingEdit) -> Future[t.ApplyWorkspaceEditResult]:
        """One streamed edit as `workspace/applyEdit`: params built as JSON (`wire.py`)."""
        params = apply_edit_params(edit, self.document_changes)
        return self.protocol.send_request(t.WORKSPACE_APPLY_EDIT, params)


def _initialize(ls: ResponsesLanguageServer, params: t.InitializeParams) -> None:
    options = params.initialization_options
    if isinstance(options, dict):
        options = dict(options)
        features = options.pop(CLIENT_FEATURES, None)
        ls.client_features = features if isinstance(features, dict) else {}
        ls.init_options = options
    encoding = ls.workspace.position_encoding
    ls.position_encoding = Encoding(str(getattr(encoding, "value", encoding) or "utf-16"))
    ls.document_changes = ls.edit_capabilities()["document_changes"]
    ls.client_name = (params.client_info.name if params.client_info else "").lower()


async def _initialized(ls: ResponsesLanguageServer, _params: t.InitializedParams) -> None:
    await _pull_configuration(ls)
    ls.reload_settings()


async def _pull_configuration(ls: ResponsesLanguageServer) -> None:
    caps = ls.client_capabilities
    if not (caps and caps.workspace and caps.workspace.configuration):
        return
    try:
        result = await asyncio.wait_for(
            ls.workspace_configuration_async(
                t.ConfigurationParams(items=[t.ConfigurationItem(section="responsesLsp")])
            ),
            5.0,
        )
    except Exception as exc:
        log.info("workspace/configuration failed: %s", exc)
        return
    if result and isinstance(result[0], dict):
        ls.workspace_settings = result[0]


async def _did_change_configuration(
    ls: ResponsesLanguageServer, params: t.DidChangeConfigurationParams
) -> None:
    settings = params.settings
    if isinstance(settings, dict) and "responsesLsp" in settings:
        ls.workspace_settings = settings["responsesLsp"]
    else:
        await _pull_configuration(ls)
    ls.reload_settings()


def _code_actions(ls: ResponsesLanguageServer, params: t.CodeActionParams) -> list[t.CodeAction]:
    uri = params.text_document.uri
    doc = ls.driver.get(uri)
    resolved = ls.settings()
    if doc is None or is_secret_path(uri, resolved.settings.deny_patterns):
        return []
    diagnostics = params.context.diagnostics or []
    session = ls.session_for(uri) if resolved.settings.session != "off" else None
    last = session.last_action if session is not None else None
    actions = offered_actions(
        all_actions(resolved.settings.actions),
        language_id=doc.language_id,
        has_diagnostics=bool(diagnostics),
        only=params.context.only,
        has_follow_up=bool(last and last.get("uri") == uri),
    )
    disabled = None
    caps = ls.client_capabilities
    supports_disabled = bool(
        caps
        and caps.text_document
        and caps.text_document.code_action
        and caps.text_document.code_action.disabled_support
    )
    if not ls.can_apply_edits() and supports_disabled:
        disabled = t.CodeActionDisabled(reason=NO_APPLY_EDIT_REASON)
    elif not resolved.has_key and supports_disabled:
        disabled = t.CodeActionDisabled(reason=NO_KEY_REASON)
    rng = params.range
    span = {
        "start": {"line": rng.start.line, "character": rng.start.character},
        "end": {"line": rng.end.line, "character": rng.end.character},
    }
    result = []
    for action in actions:
        args: dict[str, Any] = {"action": action.id, "uri": uri, "range": span}
        if action.needs_instruction:
            args["needsInstruction"] = True  # clients with an input box ask for it
        if action.needs_diagnostics:
            args["diagnostics"] = [ls.converter.unstructure(d) for d in diagnostics]
        result.append(
            t.CodeAction(
                title=action.title,
                kind=action.kind,
                command=t.Command(title=action.title, command=RUN, arguments=[args]),
                diagnostics=list(diagnostics) if action.needs_diagnostics else None,
                disabled=disabled,
            )
        )
    revert = ls.runtime.reverts.action(doc, rng, params.context.only)
    if revert is not None:
        result.append(revert)
    return result


def _run(ls: ResponsesLanguageServer, *args: object) -> dict[str, Any]:
    """Starts a job and answers at once (DESIGN I9); the job's end is `responsesLsp/jobDone`.

    Synchronous on purpose: pygls writes the answer as soon as this returns, before the job's
    task takes its first step, so the answer always precedes the job's notifications."""
    try:
        arguments = structure(ls.converter, args, RunArguments)
    except BadArguments as exc:
        message = f"responses-lsp: bad arguments for {RUN}: {exc}"
        ls.show("error", message)
        return {"outcome": "error", "errorKind": "usage", "message": message}
    if not ls.can_apply_edits():
        message = f"responses-lsp: {NO_APPLY_EDIT_REASON}; nothing can be rewritten."
        ls.show("error", message)
        return {"outcome": "error", "errorKind": "config", "message": message}
    return ls.jobs.start(arguments)


def _cancel(ls: ResponsesLanguageServer, *args: object) -> dict[str, Any]:
    """`{jobId?, uri?}` (or the bare job id): cancel those jobs, all when nothing is given."""
    try:
        which = structure(ls.converter, args, CancelArguments, bare=True)
    except BadArguments as exc:
        ls.show("error", f"responses-lsp: bad arguments for {CANCEL}: {exc}")
        return {"cancelled": 0}
    return {"cancelled": ls.jobs.cancel(job_id=which.jobId, uri=which.uri, reason="cancelled")}


def _revert(ls: ResponsesLanguageServer, *args: object) -> dict[str, Any]:
    """`{uri, jobId}`: the original of a finished AI edit back, in one edit (`jobs/revert.py`);
    answers at once (DESIGN I9)."""
    try:
        which = structure(ls.converter, args, RevertArguments)
    except BadArguments as exc:
        message = f"responses-lsp: bad arguments for {REVERT}: {exc}"
        ls.show("error", message)
        return {"reverted": False, "message": message}
    return ls.runtime.reverts.start(which.uri, which.jobId)


def _list_jobs(ls: ResponsesLanguageServer, *_args: object) -> list[dict[str, Any]]:
    return ls.jobs.running()


def _job_result(ls: ResponsesLanguageServer, *args: object) -> dict[str, Any]:
    """`{"jobId": N}` -> `{"jobId", "state": running|done|unknown, "result"}`, at once."""
    try:
        job_id = structure(ls.converter, args, JobResultArguments, bare=True).jobId
    except BadArguments:
        return {"jobId": None, "state": "unknown", "result": None}
    return ls.jobs.status(job_id)


def _session_uri(ls: ResponsesLanguageServer, args: tuple[object, ...]) -> str | None:
    """The document whose session a session command is about (else the first folder's)."""
    try:
        uri = structure(ls.converter, args, SessionArguments, bare=True).uri
    except BadArguments:
        uri = None
    if uri:
        return uri
    folders = ls.folder_uris()
    return folders[0] + "/" if folders else None


def _session_show(ls: ResponsesLanguageServer, *args: object) -> dict[str, Any]:
    uri = _session_uri(ls, args)
    session = ls.session_for(uri) if uri else None
    if session is None:
        return {"session": None, "message": "sessions are off (responsesLsp.session)"}
    summary = ls.sessions.summary(session)
    ls.show(
        "info",
        f"responses-lsp session: {summary['turns']} turns, ~{summary['estimatedTokens']} tokens, "
        f"{summary['compactions']} compactions; spent: {summary['usage']['text']}",
    )
    return summary


def _session_reset(ls: ResponsesLanguageServer, *args: object) -> dict[str, Any]:
    uri = _session_uri(ls, args)
    session = ls.sessions.reset(uri) if uri else None
    return {"reset": session is not None}


def _session_compact(ls: ResponsesLanguageServer, *args: object) -> dict[str, Any]:
    """Starts the compaction of the session as a job and answers at once (DESIGN I9);
    `jobs/compaction.py` says how it ends."""
    uri = _session_uri(ls, args)
    session = ls.session_for(uri) if uri else None
    if uri is None or session is None or not session.items:
        return {"outcome": "unchanged", "compacted": False, "message": "nothing to compact"}
    return ls.jobs.compact(uri, session, command=SESSION_COMPACT)


def _progress_cancel(ls: ResponsesLanguageServer, params: t.WorkDoneProgressCancelParams) -> None:
    ls.jobs.cancel(token=str(params.token), reason="cancelled")


async def _shutdown(ls: ResponsesLanguageServer, _params: None) -> None:
    # Cancel every job and let it restore its region (that takes the client's answers),
    # then stop the engine: nothing may be sent once pygls starts cancelling requests.
    runtime = ls.loaded_runtime
    if runtime is not None:  # else nothing ever ran
        backend = runtime.loaded_backend
        if backend is not None:
            backend.jobs.cancel(reason="cancelled: the server is shutting down")
            await backend.jobs.drain(3.0)
        runtime.driver.close_all()
        if backend is not None:
            await backend.close_api()
    ls.protocol.cancel_requests()


def _exit(ls: ResponsesLanguageServer, _params: None) -> None:
    """`exit` ends the process now, with the LSP spec's code: 0 after `shutdown`, else 1.

    pygls would leave it to `asyncio.run` to cancel and wait for every task, and running
    jobs then wait for answers from a client that has gone away (the process stayed up
    with stdin closed). Everything the client was sent is already written and flushed."""
    code = 0 if getattr(ls.protocol, "_shutdown", False) else 1
    log.info("exit (code %d)", code)
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    os._exit(code)


def build_server() -> ResponsesLanguageServer:
    """A server with every feature registered (what the CLI starts)."""
    server = ResponsesLanguageServer()
    server.feature(t.INITIALIZE)(_initialize)
    server.feature(t.INITIALIZED)(_initialized)
    server.feature(t.WORKSPACE_DID_CHANGE_CONFIGURATION)(_did_change_configuration)
    server.feature(
        t.TEXT_DOCUMENT_CODE_ACTION,
        t.CodeActionOptions(code_action_kinds=ACTION_KINDS, resolve_provider=False),
    )(_code_actions)
    server.command(RUN)(_run)
    server.command(CANCEL)(_cancel)
    server.command(JOBS)(_list_jobs)
    server.command(JOB_RESULT)(_job_result)
    server.command(REVERT)(_revert)
    server.command(SESSION_SHOW)(_session_show)
    server.command(SESSION_RESET)(_session_reset)
    server.command(SESSION_COMPACT)(_session_compact)
    server.feature(t.WINDOW_WORK_DONE_PROGRESS_CANCEL)(_progress_cancel)
    server.feature(t.SHUTDOWN)(_shutdown)
    server.feature(t.EXIT)(_exit)
    return server
