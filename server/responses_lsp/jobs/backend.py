"""The job half of the server: the API client (one per configuration) and the job manager,
with everything they import (httpx, the API client, the workspace tools, the job bodies).

Loaded by `Runtime.backend` the first time a job or a compaction needs it
(the server's second lazy import, see `jobs/runtime.py`); below this line every module
imports at its top.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from responses_lsp.api.client import ClientConfig, ResponsesClient
from responses_lsp.jobs.manager import JobManager

if TYPE_CHECKING:
    from responses_lsp.jobs.runtime import Runtime


class Backend:
    """The API client for the current settings, and the jobs."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.jobs = JobManager(runtime.server, runtime.landed)
        self._api: ResponsesClient | None = None
        self._api_config: ClientConfig | None = None
        self._closing: asyncio.Future[None] | None = None

    def api(self) -> ResponsesClient:
        """The client for the current settings (a new one, the old closed, when they change)."""
        config = ClientConfig.from_settings(self.runtime.settings())
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
