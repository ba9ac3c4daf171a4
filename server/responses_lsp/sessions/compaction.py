"""Automatic compaction: when a session is about to outgrow its budget, shrink its history.

The decision is pure: the tokens a request will carry are estimated as the last
`usage.total_tokens` plus bytes/4 for every item added since that usage was measured;
above the threshold (80% of `contextWindow`, or `compactThreshold`), compact first.
Compaction itself tries, in order, and remembers per base URL which one works:

1. `endpoint`: `POST /v1/responses/compact`; its output replaces the history as-is;
2. `inline`: a `/v1/responses` call with `context_management` (server-side compaction);
   the history becomes everything from the compaction item it emits onward;
3. `summary`: a local summary turn; the history becomes one user message with it.

A 404/405/501 (or an answer without the expected item) moves on to the next strategy.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from responses_lsp.errors import ApiError, ApiStatusError, NotFoundError

log = logging.getLogger(__name__)

STRATEGIES = ("endpoint", "inline", "summary")
SUMMARY_PROMPT = (
    "You are performing a CONTEXT CHECKPOINT COMPACTION. Create a handoff summary for another "
    "model that will continue this work: the files and code discussed, every decision and "
    "convention the user asked for, what was changed and why, and anything still pending. "
    "Be complete but concise; plain text."
)
SUMMARY_PREFIX = "Summary of the earlier conversation (compacted):\n\n"
_MISSING = (404, 405, 501)


def item_tokens(item: dict[str, Any]) -> int:
    """Estimated tokens of one input item: its JSON size in bytes / 4."""
    return max(1, len(json.dumps(item, ensure_ascii=False).encode("utf-8")) // 4)


def estimate_tokens(
    items: Sequence[dict[str, Any]],
    *,
    last_total: int | None,
    measured_items: int,
    new_items: Sequence[dict[str, Any]] = (),
) -> int:
    """Tokens the next request will carry: last usage + bytes/4 of what was added since."""
    if last_total is None:
        return sum(item_tokens(i) for i in items) + sum(item_tokens(i) for i in new_items)
    added = items[measured_items:] if 0 <= measured_items <= len(items) else items
    return last_total + sum(item_tokens(i) for i in added) + sum(item_tokens(i) for i in new_items)


def should_compact(estimate: int, threshold: int, *, history_items: int) -> bool:
    """Compact when the estimate crosses the threshold and there is history to compact."""
    return history_items > 0 and estimate > threshold


@dataclass
class CompactionResult:
    items: list[dict[str, Any]]
    strategy: str
    tokens_before: int
    tokens_after: int
    usage: dict[str, Any] | None = None


class Compactor:
    """Runs compaction with fallbacks; remembers the strategy that works per base URL."""

    def __init__(self) -> None:
        self.working: dict[str, str] = {}

    def order(self, base_url: str) -> list[str]:
        known = self.working.get(base_url)
        if known is None:
            return list(STRATEGIES)
        return [known, *(s for s in STRATEGIES if s != known)]

    async def compact(
        self,
        client: Any,
        *,
        base_url: str,
        model: str,
        items: list[dict[str, Any]],
        instructions: str | None,
        cache_key: str | None,
        tokens_before: int,
        threshold: int,
    ) -> CompactionResult:
        last_error: ApiError | None = None
        for strategy in self.order(base_url):
            try:
                result = await getattr(self, f"_{strategy}")(
                    client, model, items, instructions, cache_key, threshold
                )
            except ApiStatusError as exc:
                if exc.status_code in _MISSING or isinstance(exc, NotFoundError):
                    log.info(
                        "compaction strategy %s unavailable (%s); trying the next", strategy, exc
                    )
                    last_error = exc
                    continue
                raise
            except _Unsupported as exc:
                log.info("compaction strategy %s did not work: %s", strategy, exc)
                continue
            self.working[base_url] = strategy
            new_items, usage = result
            after = sum(item_tokens(i) for i in new_items)
            log.info(
                "compacted the session with %s: ~%d -> ~%d tokens", strategy, tokens_before, after
            )
            return CompactionResult(new_items, strategy, tokens_before, after, usage)
        if last_error is not None:
            raise last_error
        raise ApiError("compaction failed with every strategy")

    async def _endpoint(
        self,
        client: Any,
        model: str,
        items: list[dict[str, Any]],
        instructions: str | None,
        cache_key: str | None,
        _threshold: int,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        from responses_lsp.api.requests import CompactRequest

        response = await client.compact(
            CompactRequest(
                model=model, input=items, instructions=instructions, prompt_cache_key=cache_key
            )
        )
        if not response.output:
            raise _Unsupported("the compact endpoint returned no items")
        usage = response.usage.model_dump(mode="json") if response.usage else None
        return list(response.output), usage

    async def _inline(
        self,
        client: Any,
        model: str,
        items: list[dict[str, Any]],
        instructions: str | None,
        cache_key: str | None,
        threshold: int,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        from responses_lsp.api.events import CompactionItem
        from responses_lsp.api.requests import CompactionControl, ResponseRequest, user_message

        request = ResponseRequest(
            model=model,
            input=[*items, user_message("Checkpoint: compact the conversation so far. Reply OK.")],
            instructions=instructions,
            prompt_cache_key=cache_key,
            max_output_tokens=64,
            context_management=[CompactionControl(compact_threshold=max(1000, threshold // 4))],
        )
        response = await client.create(request)
        output = [item.as_input() for item in response.output]
        marks = [i for i, item in enumerate(output) if item.get("type") == "compaction"]
        if not marks or not isinstance(response.output[marks[-1]], CompactionItem):
            raise _Unsupported("no compaction item in the response")
        # Keep the compaction item only: what follows answers our checkpoint message,
        # which is not part of the conversation.
        return [output[marks[-1]]], None

    async def _summary(
        self,
        client: Any,
        model: str,
        items: list[dict[str, Any]],
        instructions: str | None,
        cache_key: str | None,
        _threshold: int,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        from responses_lsp.api.requests import ResponseRequest, user_message

        request = ResponseRequest(
            model=model,
            input=[*items, user_message(SUMMARY_PROMPT)],
            instructions=instructions,
            prompt_cache_key=cache_key,
        )
        response = await client.create(request)
        summary = response.output_text.strip()
        if not summary:
            raise _Unsupported("the model returned an empty summary")
        return [user_message(SUMMARY_PREFIX + summary)], None


class _Unsupported(Exception):
    """A strategy answered, but not with something usable."""


def replayable(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Output items ready to be sent back with `store: false`.

    Server-side ids cannot be resolved when nothing is stored, so they are dropped (what
    Codex does), except on compaction items, which go back exactly as they came. Reasoning
    items without `encrypted_content` cannot be replayed at all.
    """
    out: list[dict[str, Any]] = []
    for item in items:
        kind = item.get("type")
        if kind == "compaction":
            out.append(item)
            continue
        if kind == "reasoning" and not item.get("encrypted_content"):
            continue
        clean = {k: v for k, v in item.items() if k != "id"}
        if kind == "reasoning":
            with contextlib.suppress(KeyError):
                clean.pop("status")
        out.append(clean)
    return out
