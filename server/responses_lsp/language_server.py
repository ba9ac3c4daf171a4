"""The language server: capabilities, thin LSP handlers, and the state they share.

Handlers fetch what they need and call pure cores: the actions catalog (codeAction, no
I/O), the job manager (executeCommand), the edit driver (document sync, applyEdit). The
protocol subclass keeps documents in the engine's own O(change) model instead of pygls'
(DESIGN I6b). Heavy imports (httpx, pydantic) wait until they are needed, so that
`initialize` answers as fast as a bare pygls server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path

from responses_lsp import __version__
from responses_lsp.editing.document import Encoding
from responses_lsp.editing.driver import EditDriver

if TYPE_CHECKING:  # the job machinery is imported when it is first used, not at start
    from responses_lsp.editing.job_region import OutgoingEdit
    from responses_lsp.job_types import Job, JobResult
    from responses_lsp.jobs import JobManager

log = logging.getLogger(__name__)

RUN = "responses-lsp.run"
CANCEL = "responses-lsp.cancel"
JOBS = "responses-lsp.jobs"
JOB_RESULT = "responses-lsp.jobResult"
JOB_DONE = "responsesLsp/jobDone"
"""Server -> client notification at the end of every started job (clientFeatures.jobDone)."""
SESSION_SHOW = "responses-lsp.session.show"
SESSION_RESET = "responses-lsp.session.reset"
SESSION_COMPACT = "responses-lsp.session.compact"
COMMANDS = (RUN, CANCEL, JOBS, JOB_RESULT, SESSION_SHOW, SESSION_RESET, SESSION_COMPACT)
ACTION_KINDS = [t.CodeActionKind.RefactorRewrite, t.CodeActionKind.QuickFix]
NO_KEY_REASON = "Set OPENAI_API_KEY or responsesLsp.apiKey"
NO_APPLY_EDIT_REASON = (
    "This editor does not accept edits from a language server (no workspace.applyEdit)"
)


class ResponsesProtocol(LanguageServerProtocol):
    """Document sync goes to the edit driver, in the order the messages arrive."""

    _server: ResponsesLanguageServer

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        super()._send_response(msg_id, result, error)
        # Keep our next edit out of the read that carries this answer (Emacs 28's jsonrpc
        # loses sight of it otherwise: see EditDriver.after_reply).
        self._server.driver.after_reply()

    @lsp_method(t.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: t.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        self._server.driver.open(item.uri, item.text, item.version, item.language_id)

    @lsp_method(t.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: t.DidChangeTextDocumentParams) -> None:
        doc = params.text_document
        self._server.driver.change(doc.uri, doc.version, list(params.content_changes))

    @lsp_method(t.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: t.DidCloseTextDocumentParams) -> None:
        from responses_lsp.actions.selection import clear_cache

        uri = params.text_document.uri
        self._server.jobs.cancel(uri=uri, reason="cancelled: the document was closed")
        self._server.driver.close(uri)
        clear_cache(uri)


class ResponsesLanguageServer(LanguageServer):
    """Server state: settings, documents, jobs, the API client."""

    def __init__(self) -> None:
        super().__init__(
            "responses-lsp",
            __version__,
            protocol_cls=ResponsesProtocol,
            text_document_sync_kind=t.TextDocumentSyncKind.Incremental,
        )
        self.driver = EditDriver(send=self._send_edit)
        self._jobs: JobManager | None = None
        self.init_options: dict[str, Any] = {}
        self.workspace_settings: dict[str, Any] | None = None
        self.client_features: dict[str, Any] = {}
        self.document_changes = False  # the client takes versioned TextDocumentEdits
        self._resolved: Any = None
        self._api: Any = None
        self._api_config: Any = None
        self._reported_problems: tuple[str, ...] = ()
        self.sessions: Any = None
        self._closing: asyncio.Future[Any] | None = None

    @property
    def jobs(self) -> JobManager:
        if self._jobs is None:
            from responses_lsp.jobs import JobManager

            self._jobs = JobManager(self)
        return self._jobs

    # ------------------------------------------------------------------ settings

    def settings(self) -> Any:
        if self._resolved is None:
            self.reload_settings()
        return self._resolved

    def reload_settings(self) -> None:
        from responses_lsp.settings import problems_message, resolve_settings

        self._resolved = resolve_settings(
            workspace=self.workspace_settings, init_options=self.init_options, env=os.environ
        )
        settings = self._resolved.settings
        self.driver.flush_interval = settings.flush_interval_ms / 1000.0
        problems = self._resolved.problems
        if problems and problems != self._reported_problems:
            self._reported_problems = problems
            message = problems_message(problems)
            if message:
                self.show("warning", message)
        from responses_lsp.logging_setup import attach_editor_log

        attach_editor_log(self._log_to_editor, settings.log_level)

    def api(self) -> Any:
        from responses_lsp.api.client import ClientConfig, ResponsesClient

        config = ClientConfig.from_settings(self.settings())
        if self._api is None or config != self._api_config:
            old = self._api
            self._api = ResponsesClient(config)
            self._api_config = config
            if old is not None:
                self._closing = asyncio.ensure_future(old.aclose())
        return self._api

    async def close_api(self) -> None:
        if self._api is not None:
            await self._api.aclose()
            self._api = None

    # ------------------------------------------------------------------ host API for jobs

    def show(self, kind: str, message: str) -> None:
        level = {"error": t.MessageType.Error, "warning": t.MessageType.Warning}.get(
            kind, t.MessageType.Info
        )
        self.window_show_message(t.ShowMessageParams(type=level, message=message))
        log.info("%s", message)

    def job_done(self, result: dict[str, Any]) -> None:
        """A started job ended: tell clients that asked (`clientFeatures.jobDone`)."""
        if not self.client_features.get("jobDone"):
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

    def session_for(self, uri: str) -> Any:
        return self.ensure_sessions().session_for(uri)

    def ensure_sessions(self) -> Any:
        if self.sessions is None:
            from responses_lsp.sessions.manager import SessionManager
            from responses_lsp.sessions.store import SessionStore, default_state_dir

            store = SessionStore(
                default_state_dir(), on_problem=lambda message: self.show("warning", message)
            )
            self.sessions = SessionManager(
                store,
                scope=lambda: str(self.settings().settings.session),
                folders=self.folder_uris,
            )
            self.sessions.compactor.notify = lambda message: self.show("warning", message)
        return self.sessions

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

    def _send_edit(self, edit: OutgoingEdit) -> Future[Any]:
        rng = t.Range(
            start=t.Position(line=edit.start[0], character=edit.start[1]),
            end=t.Position(line=edit.end[0], character=edit.end[1]),
        )
        text_edit = t.TextEdit(range=rng, new_text=edit.new_text)
        if self.document_changes:
            workspace_edit = t.WorkspaceEdit(
                document_changes=[
                    t.TextDocumentEdit(
                        text_document=t.OptionalVersionedTextDocumentIdentifier(
                            uri=edit.uri, version=edit.version
                        ),
                        edits=[text_edit],
                    )
                ]
            )
        else:
            workspace_edit = t.WorkspaceEdit(changes={edit.uri: [text_edit]})
        params = t.ApplyWorkspaceEditParams(
            edit=workspace_edit, label=f"responses-lsp job {edit.job_id}: {edit.intent}"
        )
        return self.protocol.send_request(t.WORKSPACE_APPLY_EDIT, params)


def _initialize(ls: ResponsesLanguageServer, params: t.InitializeParams) -> None:
    options = params.initialization_options
    if isinstance(options, dict):
        options = dict(options)
        features = options.pop("clientFeatures", None)
        ls.client_features = features if isinstance(features, dict) else {}
        ls.init_options = options
    encoding = ls.workspace.position_encoding
    ls.driver.encoding = Encoding(str(getattr(encoding, "value", encoding) or "utf-16"))
    ls.document_changes = ls.edit_capabilities()["document_changes"]
    client_name = params.client_info.name if params.client_info else ""
    ls.driver.open_version_is_real = client_name.lower() != "neovim"
    ls.driver.version_late = client_name.lower() == "eglot"  # 1.9 sends no clientInfo
    if not ls.document_changes:
        ls.driver.versioned = False


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
    from responses_lsp.actions.catalog import all_actions, offered_actions
    from responses_lsp.actions.privacy import is_secret_path

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
            args["diagnostics"] = [ls.protocol._converter.unstructure(d) for d in diagnostics]
        result.append(
            t.CodeAction(
                title=action.title,
                kind=action.kind,
                command=t.Command(title=action.title, command=RUN, arguments=[args]),
                diagnostics=list(diagnostics) if action.needs_diagnostics else None,
                disabled=disabled,
            )
        )
    return result


def _run(ls: ResponsesLanguageServer, *args: Any) -> dict[str, Any]:
    """Starts a job and answers at once (DESIGN I9); the job's end is `responsesLsp/jobDone`.

    Synchronous on purpose: pygls writes the answer as soon as this returns, before the job's
    task takes its first step, so the answer always precedes the job's notifications."""
    from responses_lsp.job_types import JobRequest

    try:
        request = JobRequest.from_arguments(list(args))
    except (KeyError, ValueError, TypeError) as exc:
        message = f"responses-lsp: bad arguments for {RUN}: {exc}"
        ls.show("error", message)
        return {"outcome": "error", "errorKind": "usage", "message": message}
    if not ls.can_apply_edits():
        message = f"responses-lsp: {NO_APPLY_EDIT_REASON}; nothing can be rewritten."
        ls.show("error", message)
        return {"outcome": "error", "errorKind": "config", "message": message}
    return ls.jobs.start(request)


def _cancel(ls: ResponsesLanguageServer, *args: Any) -> dict[str, Any]:
    data = args[0] if args and isinstance(args[0], dict) else {}
    job_id = data.get("jobId")
    count = ls.jobs.cancel(
        job_id=int(job_id) if job_id is not None else None,
        uri=data.get("uri"),
        reason="cancelled",
    )
    return {"cancelled": count}


def _list_jobs(ls: ResponsesLanguageServer, *_args: Any) -> list[dict[str, Any]]:
    return ls.jobs.running()


def _job_result(ls: ResponsesLanguageServer, *args: Any) -> dict[str, Any]:
    """`{"jobId": N}` -> `{"jobId", "state": running|done|unknown, "result"}`, at once."""
    data = args[0] if args and isinstance(args[0], dict) else {}
    try:
        job_id = int(data.get("jobId", args[0] if args and not isinstance(args[0], dict) else ""))
    except (TypeError, ValueError):
        return {"jobId": None, "state": "unknown", "result": None}
    return ls.jobs.status(job_id)


def _session_uri(ls: ResponsesLanguageServer, args: tuple[Any, ...]) -> str | None:
    data = args[0] if args and isinstance(args[0], dict) else {}
    uri = data.get("uri") or (args[0] if args and isinstance(args[0], str) else None)
    if uri:
        return str(uri)
    folders = ls.folder_uris()
    return folders[0] + "/" if folders else None


def _session_show(ls: ResponsesLanguageServer, *args: Any) -> dict[str, Any]:
    uri = _session_uri(ls, args)
    session = ls.session_for(uri) if uri else None
    if session is None:
        return {"session": None, "message": "sessions are off (responsesLsp.session)"}
    summary: dict[str, Any] = ls.ensure_sessions().summary(session)
    ls.show(
        "info",
        f"responses-lsp session: {summary['turns']} turns, ~{summary['estimatedTokens']} tokens, "
        f"{summary['compactions']} compactions",
    )
    return summary


def _session_reset(ls: ResponsesLanguageServer, *args: Any) -> dict[str, Any]:
    uri = _session_uri(ls, args)
    session = ls.ensure_sessions().reset(uri) if uri else None
    return {"reset": session is not None}


def _session_compact(ls: ResponsesLanguageServer, *args: Any) -> dict[str, Any]:
    """Starts the compaction of the session as a job and answers at once (DESIGN I9).

    The HTTP call can last the whole request timeout (and more with fallbacks), so it runs on
    its own: work-done progress on the answer's token, `responsesLsp/jobDone` and
    `responses-lsp.jobResult` for its end (outcome `compacted`, or `error` with a message)."""
    from responses_lsp.job_types import JobRequest

    uri = _session_uri(ls, args)
    session = ls.session_for(uri) if uri else None
    if uri is None or session is None or not session.items:
        return {"outcome": "unchanged", "compacted": False, "message": "nothing to compact"}
    request = JobRequest(action_id=SESSION_COMPACT, uri=uri, start=(0, 0), end=(0, 0))
    return ls.jobs.spawn(request, lambda job: _compact_job(ls, job, session))


async def _compact_job(ls: ResponsesLanguageServer, job: Job, session: Any) -> JobResult:
    from responses_lsp.actions.prompts import build_instructions
    from responses_lsp.errors import ResponsesLspError, error_kind
    from responses_lsp.job_types import JobResult

    started = time.monotonic()
    settings = ls.settings().settings
    doc = ls.driver.get(job.request.uri)
    has_progress = await ls.progress_begin(
        job.token, "responses-lsp: compacting the session", "asking the model…"
    )
    try:
        result = await ls.ensure_sessions().compact(
            session,
            client=ls.api(),
            base_url=settings.base_url,
            model=settings.model,
            instructions=build_instructions(doc.language_id if doc is not None else ""),
            threshold=settings.effective_compact_threshold,
        )
    except asyncio.CancelledError:
        if has_progress:
            ls.progress_end(job.token, "cancelled; the session was not changed")
        raise
    except ResponsesLspError as exc:
        message = exc.user_message()
        if has_progress:
            ls.progress_end(job.token, message)
        ls.show("error", message)
        return JobResult(
            job_id=job.id,
            outcome="error",
            message=message,
            seconds=time.monotonic() - started,
            error_kind=error_kind(exc),
            details={"compacted": False},
        )
    message = f"compacted: {result.tokens_before} → {result.tokens_after} tokens"
    if has_progress:
        ls.progress_end(job.token, message)
    return JobResult(
        job_id=job.id,
        outcome="compacted",
        message=message,
        seconds=time.monotonic() - started,
        details={
            "compacted": True,
            "strategy": result.strategy,
            "tokensBefore": result.tokens_before,
            "tokensAfter": result.tokens_after,
        },
    )


def _progress_cancel(ls: ResponsesLanguageServer, params: t.WorkDoneProgressCancelParams) -> None:
    ls.jobs.cancel(token=str(params.token), reason="cancelled")


async def _shutdown(ls: ResponsesLanguageServer, _params: Any) -> None:
    # Cancel every job and let it restore its region (that takes the client's answers),
    # then stop the engine: nothing may be sent once pygls starts cancelling requests.
    ls.jobs.cancel(reason="cancelled: the server is shutting down")
    await ls.jobs.drain(3.0)
    ls.driver.close_all()
    await ls.close_api()


def _exit(ls: ResponsesLanguageServer, _params: Any) -> None:
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
    server.command(SESSION_SHOW)(_session_show)
    server.command(SESSION_RESET)(_session_reset)
    server.command(SESSION_COMPACT)(_session_compact)
    server.feature(t.WINDOW_WORK_DONE_PROGRESS_CANCEL)(_progress_cancel)
    server.feature(t.SHUTDOWN)(_shutdown)
    server.feature(t.EXIT)(_exit)
    return server
