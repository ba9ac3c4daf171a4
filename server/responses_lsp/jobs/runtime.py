"""What the server loads after `initialize`: the edit driver, the settings and the sessions;
the job half (the API client, the job pipeline) behind it, loaded by the first job.

Two steps, both lazy, so that each costs only when it is needed: `language_server` imports this
module in `ResponsesLanguageServer.runtime` the first time the engine or the settings are needed
(`initialized` resolves the settings), never before `initialize` has been answered; the job half
(`jobs/backend.py`: httpx, the API client, the workspace tools, the job bodies) is imported
by `Runtime.backend` when the first job or compaction needs it, so an
editor that only opens files and lists code actions keeps a small server (bench/memory.py).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol

from lsprotocol import types as t

from responses_lsp.actions.selection import clear_cache
from responses_lsp.editing.driver import EditDriver
from responses_lsp.editing.live_region import OutgoingEdit
from responses_lsp.jobs.landed import LandedEdits
from responses_lsp.jobs.revert import Reverts
from responses_lsp.jobs.types import JobHost
from responses_lsp.sessions.manager import SessionManager
from responses_lsp.sessions.store import SessionStore, default_state_dir
from responses_lsp.settings import ResolvedSettings, problems_message, resolve_settings

if TYPE_CHECKING:  # the job half: imported by `Runtime.backend`, at the first job
    from responses_lsp.api.client import ResponsesClient
    from responses_lsp.jobs.backend import Backend
    from responses_lsp.jobs.manager import JobManager

log = logging.getLogger(__name__)


class ServerHost(JobHost, Protocol):
    """What the runtime reads of the server beyond what a job uses."""

    workspace_settings: dict[str, Any] | None
    init_options: dict[str, Any]

    def folder_uris(self) -> list[str]: ...
    def send_edit(self, edit: OutgoingEdit) -> Future[t.ApplyWorkspaceEditResult]: ...
    def configure_driver(self, driver: EditDriver) -> None: ...


class Runtime:
    """The edit driver, the resolved settings, the sessions, the finished edits "Revert AI
    edit" can undo; the job half (`backend`) when a job first needs it."""

    def __init__(self, server: ServerHost) -> None:
        self.server = server
        self.driver = EditDriver(send=server.send_edit)
        server.configure_driver(self.driver)
        self.landed = LandedEdits()  # finished edits "Revert AI edit" can still undo
        self.reverts = Reverts(server, self.landed)
        self._resolved: ResolvedSettings | None = None
        self._reported_problems: tuple[str, ...] = ()
        self._backend: Backend | None = None
        self._sessions: SessionManager | None = None

    @property
    def backend(self) -> Backend:
        """The API client and the job manager: the second lazy import (the first job or
        compaction loads httpx, the API client, the workspace tools, the job bodies)."""
        if self._backend is None:
            from responses_lsp.jobs.backend import Backend

            self._backend = Backend(self)
        return self._backend

    @property
    def loaded_backend(self) -> Backend | None:
        """The job half if anything needed it yet (shutdown and didClose do not load it)."""
        return self._backend

    @property
    def jobs(self) -> JobManager:
        return self.backend.jobs

    @property
    def sessions(self) -> SessionManager:
        """The sessions (the store is opened when first needed)."""
        if self._sessions is None:
            server = self.server
            store = SessionStore(
                default_state_dir(), on_problem=lambda message: server.show("warning", message)
            )
            self._sessions = SessionManager(
                store,
                scope=lambda: str(self.settings().settings.session),
                folders=server.folder_uris,
            )
            self._sessions.compactor.notify = lambda message: server.show("warning", message)
        return self._sessions

    def api(self) -> ResponsesClient:
        return self.backend.api()

    def close_document(self, uri: str) -> None:
        """didClose: the document's jobs are cancelled, the engine and the caches forget it."""
        if self._backend is not None:
            self._backend.jobs.cancel(uri=uri, reason="cancelled: the document was closed")
        self.driver.close(uri)
        clear_cache(uri)

    def settings(self) -> ResolvedSettings:
        if self._resolved is None:
            return self.reload_settings()
        return self._resolved

    def reload_settings(self) -> ResolvedSettings:
        """Resolve the settings again (workspace, initializationOptions, environment); a new
        problem is shown once."""
        server = self.server
        resolved = resolve_settings(
            workspace=server.workspace_settings, init_options=server.init_options, env=os.environ
        )
        self._resolved = resolved
        self.driver.flush_interval = resolved.settings.flush_interval_ms / 1000.0
        problems = resolved.problems
        if problems and problems != self._reported_problems:
            self._reported_problems = problems
            message = problems_message(problems)
            if message:
                server.show("warning", message)
        return resolved
