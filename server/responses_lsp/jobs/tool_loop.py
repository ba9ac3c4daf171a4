"""The tool loop of a multi-file job: ask, run the tools the model calls, ask again.

Each iteration streams one response. Its function calls run against the workspace
(`read_file`, `search`, `list_files`); its `apply_patch` calls are applied to the action's
`ChangeSet` (never to the editor yet). Every call gets its output item (`function_call_output`
/ `custom_tool_call_output`), errors included, so the model can correct itself. The loop ends
when a response has no tool calls, or after `max_steps`. The conversation grows by the output
items as they arrived plus the tool outputs, so a session can replay it; `prepare` builds each
request's input (the session may compact between iterations, never during one).

Tool calls never run on the event loop (DESIGN I9): each runs in a worker thread under a
`Budget` (`tools.budget.run_off_loop`), so cancel, didChange and codeAction are answered while
a call reads a huge tree; cancelling the job abandons the call at once and stops its thread.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from responses_lsp.api.client import ResponsesClient
from responses_lsp.api.events import (
    MessageItem,
    OutputItemDone,
    OutputTextDelta,
    ResponseCompleted,
    RetryScheduled,
    ToolInputDelta,
    Usage,
)
from responses_lsp.api.requests import ResponseRequest
from responses_lsp.errors import ApiStatusError
from responses_lsp.sessions.compaction import replayable
from responses_lsp.tools.budget import on_loop, run_off_loop
from responses_lsp.tools.changes import ChangeSet
from responses_lsp.tools.definitions import (
    APPLY_PATCH_FORMS,
    describe_tool_call,
    patch_from_arguments,
    rejects_custom_tools,
    run_tool,
    summarize_changes,
    tools_for,
)
from responses_lsp.tools.errors import ToolError
from responses_lsp.tools.workspace import WorkspaceFiles

log = logging.getLogger(__name__)


class StepLimitReached(Exception):
    def __init__(self, steps: int) -> None:
        super().__init__(f"the model was still calling tools after {steps} steps")
        self.steps = steps


@dataclass
class LoopResult:
    items: list[dict[str, Any]] = field(default_factory=list)  # added to the conversation
    final_text: str = ""
    usage: Usage | None = None
    usages: list[Usage | None] = field(default_factory=list)  # of every response, in order
    steps: int = 0
    tokens: int = 0


class ToolLoop:
    def __init__(
        self,
        *,
        client: ResponsesClient,
        files: WorkspaceFiles,
        changes: ChangeSet,
        max_steps: int,
        progress: Callable[[str], None],
    ) -> None:
        self.client = client
        self.files = files
        self.changes = changes
        self.max_steps = max_steps
        self.progress = progress
        self.usages: list[Usage | None] = []
        """The usage of every response so far (kept when the loop fails half-way)."""

    async def run(
        self,
        request: ResponseRequest,
        prepare: Callable[[list[dict[str, Any]]], Awaitable[list[dict[str, Any]]]],
    ) -> LoopResult:
        result = LoopResult(usages=self.usages)
        self.progress = on_loop(self.progress)  # tool calls report from their worker thread
        config = self.client.config
        form = APPLY_PATCH_FORMS.form_for(config.base_url, config.apply_patch_form)
        for step in range(1, self.max_steps + 1):
            result.steps = step
            current = request.model_copy(
                update={"input": await prepare(result.items), "tools": tools_for(form)}
            )
            try:
                output, text = await self._respond(current, result)
            except ApiStatusError as exc:
                if form != "custom" or config.apply_patch_form != "auto":
                    raise
                if not rejects_custom_tools(exc):
                    raise
                # the gateway takes function tools only: offer apply_patch as one, remember it
                log.info(
                    "the endpoint rejects the freeform apply_patch (%s); using a function", exc
                )
                APPLY_PATCH_FORMS.custom_rejected(config.base_url)
                form = "function"
                current = current.model_copy(update={"tools": tools_for(form)})
                output, text = await self._respond(current, result)
            result.items.extend(replayable(output))
            calls = [i for i in output if i.get("type") in ("function_call", "custom_tool_call")]
            if not calls:
                result.final_text = text
                return result
            for call in calls:
                result.items.append(await self._run_off_loop(call))
        raise StepLimitReached(self.max_steps)

    async def _respond(
        self, request: ResponseRequest, result: LoopResult
    ) -> tuple[list[dict[str, Any]], str]:
        output: list[dict[str, Any]] = []
        text = ""
        tokens = 0  # of this attempt: a retry starts the count again
        async with contextlib.aclosing(self.client.stream(request)) as events:
            async for event in events:
                if isinstance(event, OutputItemDone):
                    output.append(event.item.as_input())
                    if isinstance(event.item, MessageItem):
                        text += event.item.text
                elif isinstance(event, ToolInputDelta | OutputTextDelta):
                    result.tokens += 1
                    tokens += 1
                elif isinstance(event, RetryScheduled):
                    output.clear()
                    text = ""
                    result.tokens -= tokens
                    tokens = 0
                    self.progress(event.status_text)
                elif isinstance(event, ResponseCompleted):
                    result.usage = event.response.usage
                    result.usages.append(result.usage)
        return output, text

    async def _run_off_loop(self, call: dict[str, Any]) -> dict[str, Any]:
        """`_run_call` in a worker thread; a call that overruns its budget is an error output."""
        try:
            return await run_off_loop(lambda: self._run_call(call))
        except ToolError as exc:
            log.info("tool call %s abandoned: %s", call.get("name"), exc)
            function = call.get("type") == "function_call"
            return {
                "type": "function_call_output" if function else "custom_tool_call_output",
                "call_id": call.get("call_id", ""),
                "output": f"error: {exc}",
            }

    def _run_call(self, call: dict[str, Any]) -> dict[str, Any]:
        name = str(call.get("name", ""))
        call_id = call.get("call_id", "")
        kind = "custom_tool_call_output"
        if call.get("type") == "function_call":
            arguments = str(call.get("arguments", ""))
            if name != "apply_patch":
                self.progress(describe_tool_call(name, arguments))
                output = run_tool(self.files, name, arguments)
                return {"type": "function_call_output", "call_id": call_id, "output": output}
            kind = "function_call_output"  # apply_patch as a function (Codex accepts it)
            try:
                patch = patch_from_arguments(arguments)
            except ToolError as exc:
                return {"type": kind, "call_id": call_id, "output": f"error: {exc}"}
        else:
            patch = str(call.get("input", ""))
        if name != "apply_patch":
            output = (
                f"error: unknown tool {name!r}; "
                "the tools are read_file, search, list_files and apply_patch"
            )
        else:
            self.progress(describe_tool_call(name, patch))
            try:
                output = summarize_changes(self.changes.apply(patch))
            except ToolError as exc:
                log.info("apply_patch refused: %s", exc)
                output = f"error: {exc}"
        return {"type": kind, "call_id": call_id, "output": output}
