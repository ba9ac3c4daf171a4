"""The server's heavy half: the edit driver, settings, the API client, sessions, the jobs.

This module is the far side of the server's one lazy import: `language_server` imports it in
`ResponsesLanguageServer.runtime`, the first time any of it is needed (`initialized` resolves
the settings), never before `initialize` has been answered. The edit engine, pydantic, httpx,
the API client, the sessions and the whole jobs package load here, so `initialize` answers as
fast as a bare pygls server. Below this line every module imports at its top.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import Future
from typing import Any, Protocol

from lsprotocol import types as t

from responses_lsp.actions.selection import clear_cache
from responses_lsp.api.client import ClientConfig, ResponsesClient
from responses_lsp.editing.driver import EditDriver
from responses_lsp.editing.live_region import OutgoingEdit
from responses_lsp.jobs.manager import JobManager
from responses_lsp.jobs.revert import Reverts
from responses_lsp.jobs.types import JobHost
from responses_lsp.sessions.manager import SessionManager
from responses_lsp.sessions.store import SessionStore, default_state_dir
from responses_lsp.settings import ResolvedSettings, problems_message, resolve_settings

log = logging.getLogger(__name__)


class ServerHost(JobHost, Protocol):
    """What the runtime reads of the server beyond what a job uses."""

    workspace_settings: dict[str, Any] | None
    init_options: dict[str, Any]

    def folder_uris(self) -> list[str]: ...
    def send_edit(self, edit: OutgoingEdit) -> Future[t.ApplyWorkspaceEditResult]: ...
    def configure_driver(self, driver: EditDriver) -> None: ...


class Runtime:
    """The edit driver, resolved settings, the API client (one per configuration), sessions,
    jobs."""

    def __init__(self, server: ServerHost) -> None:
        self.server = server
        self.driver = EditDriver(send=server.send_edit)
        server.configure_driver(self.driver)
        self.jobs = JobManager(server)
        self.reverts = Reverts(server, self.jobs.landed)  # "Revert AI edit"
        self._resolved: ResolvedSettings | None = None
        self._reported_problems: tuple[str, ...] = ()
        self._api: ResponsesClient | None = None
        self._api_config: ClientConfig | None = None
        self._closing: asyncio.Future[None] | None = None
        self._sessions: SessionManager | None = None

    def close_document(self, uri: str) -> None:
        """didClose: the document's jobs are cancelled, the engine and the caches forget it."""
        self.jobs.cancel(uri=uri, reason="cancelled: the document was closed")
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

    def api(self) -> ResponsesClient:
        """The client for the current settings (a new one, the old closed, when they change)."""
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
