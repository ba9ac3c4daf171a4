"""What `responses-lsp check` finds out about an endpoint beyond "it answers".

Which compaction strategies work there (the server tries them in this order and remembers
the first that works, per base URL — `sessions/compaction.py`), and in which form the
endpoint carries the `apply_patch` tool of multi-file actions (`tools/definitions.py`).
Each probe is one small request without retries; a failure is reported in one line in the
endpoint's own words and never ends the check.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from responses_lsp.api.client import ResponsesClient
from responses_lsp.api.requests import (
    CompactionControl,
    CompactRequest,
    ResponseRequest,
    user_message,
)
from responses_lsp.errors import ResponsesLspError
from responses_lsp.sessions.compaction import SUMMARY_PROMPT
from responses_lsp.tools.definitions import APPLY_PATCH_CUSTOM, APPLY_PATCH_FUNCTION

PROBE_OUTPUT_TOKENS = 16


@dataclass(frozen=True)
class Probe:
    name: str
    works: bool
    detail: str


def _why(error: BaseException) -> str:
    detail = getattr(error, "detail", None)
    text = detail() if callable(detail) else str(error)
    return " ".join(str(text).split())[:160]


async def compaction_probes(client: ResponsesClient) -> list[Probe]:
    """One request per compaction strategy, in the server's order."""

    model = client.config.model
    history = [user_message("Remember: the project uses tabs.")]
    probes: list[Probe] = []
    try:
        compacted = await client.compact(CompactRequest(model=model, input=history), retries=False)
        has_item = any(item.get("type") == "compaction" for item in compacted.output)
        probes.append(
            Probe(
                "endpoint",
                has_item,
                "POST /v1/responses/compact returns a compaction item"
                if has_item
                else "POST /v1/responses/compact answered without a compaction item",
            )
        )
    except ResponsesLspError as exc:
        probes.append(Probe("endpoint", False, f"POST /v1/responses/compact: {_why(exc)}"))
    try:
        response = await client.create(
            ResponseRequest(
                model=model,
                input=[*history, user_message("Reply OK.")],
                max_output_tokens=PROBE_OUTPUT_TOKENS,
                context_management=[CompactionControl(compact_threshold=1000)],
            ),
            retries=False,
        )
        # a tiny history is never compacted: accepted is all this can show
        probes.append(
            Probe("inline", True, "context_management accepted (used when the endpoint has none)")
        )
        del response
    except ResponsesLspError as exc:
        probes.append(Probe("inline", False, f"context_management: {_why(exc)}"))
    try:
        response = await client.create(
            ResponseRequest(
                model=model,
                input=[*history, user_message(SUMMARY_PROMPT)],
                max_output_tokens=PROBE_OUTPUT_TOKENS * 4,
            ),
            retries=False,
        )
        text = response.output_text.strip()
        probes.append(
            Probe(
                "summary",
                bool(text),
                "a summary turn answers" if text else "a summary turn answered with no text",
            )
        )
    except ResponsesLspError as exc:
        probes.append(Probe("summary", False, f"summary turn: {_why(exc)}"))
    return probes


async def tool_form_probes(client: ResponsesClient) -> list[Probe]:
    """Whether the endpoint takes `apply_patch` as a freeform custom tool, as a function."""

    probes: list[Probe] = []
    for name, tool in (("custom", APPLY_PATCH_CUSTOM), ("function", APPLY_PATCH_FUNCTION)):
        request = ResponseRequest(
            model=client.config.model,
            input="Reply with the single word OK; do not call any tool.",
            tools=[tool],
            tool_choice="auto",
            max_output_tokens=PROBE_OUTPUT_TOKENS,
        )
        label = "freeform custom tool" if name == "custom" else 'function tool {"input": string}'
        try:
            events: Any = client.stream_once(request)
            async with contextlib.aclosing(events) as stream:
                async for _ in stream:
                    pass
            probes.append(Probe(name, True, f"{label} accepted"))
        except ResponsesLspError as exc:
            if getattr(exc, "reason", None) == "max_output_tokens":
                probes.append(Probe(name, True, f"{label} accepted"))
            else:
                probes.append(Probe(name, False, f"{label}: {_why(exc)}"))
    return probes
