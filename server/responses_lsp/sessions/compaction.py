"""Automatic compaction: when a session is about to outgrow its budget, shrink its history.

The decision is pure: the tokens a request will carry are estimated as the last
`usage.total_tokens` plus bytes/4 for every item added since that usage was measured;
above the threshold (80% of `contextWindow`, or `compactThreshold`), compact first.
Compaction itself tries, in order, and remembers per base URL which one works:

1. `endpoint`: `POST /v1/responses/compact`; its output replaces the history as-is;
2. `inline`: a `/v1/responses` call with `context_management` (server-side compaction);
   the history becomes everything from the compaction item it emits onward;
3. `summary`: a local summary turn; the history becomes one user message with it.

Compaction never fails an action. Any failure of a strategy — an HTTP error (LiteLLM answers
the compact endpoint with 500 and `context_management` with 400), a timeout, a broken
stream, an answer without the expected item — moves on to the next strategy at once: the
server-side strategies are sent once, without retries, and one that failed is not tried
again for that base URL. Only a key/permission problem or a rate limit is raised (the
action itself would fail the same way). If every strategy fails, the oldest turns are
dropped until the history fits (`trim`), and the user is told once per base URL.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from responses_lsp.api.events import CompactionItem
from responses_lsp.api.requests import (
    CompactionControl,
    CompactRequest,
    ResponseRequest,
    user_message,
)
from responses_lsp.errors import (
    ApiError,
    AuthenticationError,
    PermissionDeniedError,
    RateLimitError,
)

log = logging.getLogger(__name__)

STRATEGIES = ("endpoint", "inline", "summary")
SERVER_SIDE = ("endpoint", "inline")
"""Strategies that depend on what the endpoint supports: one failure per base URL is enough."""
TRIM_TARGET = 0.5
"""`trim` keeps the newest items that fit in this share of the threshold."""
SUMMARY_PROMPT = (
    "You are performing a CONTEXT CHECKPOINT COMPACTION. Create a handoff summary for another "
    "model that will continue this work: the files and code discussed, every decision and "
    "convention the user asked for, what was changed and why, and anything still pending. "
    "Be complete but concise; plain text."
)
SUMMARY_PREFIX = "Summary of the earlier conversation (compacted):\n\n"
_FATAL = (AuthenticationError, PermissionDeniedError, RateLimitError)


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
    failures: tuple[str, ...] = ()
    """`strategy: why` for each strategy that failed on the way."""


class Compactor:
    """Runs compaction with fallbacks; remembers per base URL what works and what does not."""

    def __init__(self, notify: Callable[[str], None] | None = None) -> None:
        self.working: dict[str, str] = {}
        self.failed: dict[str, set[str]] = {}
        self.notify = notify
        """Called once per base URL with the sentence for the user when only `trim` worked."""
        self._told: set[str] = set()

    def order(self, base_url: str) -> list[str]:
        known = self.working.get(base_url)
        failed = self.failed.get(base_url, set())
        rest = [s for s in STRATEGIES if s != known and s not in failed]
        return [known, *rest] if known is not None else rest

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
        failures: list[str] = []
        for strategy in self.order(base_url):
            try:
                result = await getattr(self, f"_{strategy}")(
                    client, model, items, instructions, cache_key, threshold
                )
            except _FATAL:
                raise  # the action itself would fail the same way: say so now
            except (ApiError, _Unsupported) as exc:
                log.info("compaction strategy %s failed (%s); trying the next", strategy, exc)
                failures.append(f"{strategy}: {_reason(exc)}")
                if strategy in SERVER_SIDE:
                    self.failed.setdefault(base_url, set()).add(strategy)
                if self.working.get(base_url) == strategy:
                    del self.working[base_url]
                continue
            self.working[base_url] = strategy
            new_items, usage = result
            after = sum(item_tokens(i) for i in new_items)
            log.info(
                "compacted the session with %s: ~%d -> ~%d tokens", strategy, tokens_before, after
            )
            return CompactionResult(
                new_items, strategy, tokens_before, after, usage, tuple(failures)
            )
        kept = trim(items, int(threshold * TRIM_TARGET))
        after = sum(item_tokens(i) for i in kept)
        log.warning(
            "no compaction strategy worked (%s); dropped the oldest turns: ~%d -> ~%d tokens",
            "; ".join(failures) or "none left to try",
            tokens_before,
            after,
        )
        if base_url not in self._told and self.notify is not None:
            self._told.add(base_url)
            self.notify(
                "responses-lsp: this endpoint could not compact the session ("
                + ("; ".join(failures) or "no strategy left")
                + "); the oldest turns were dropped instead, so the model may forget them."
            )
        return CompactionResult(kept, "trim", tokens_before, after, None, tuple(failures))

    async def _endpoint(
        self,
        client: Any,
        model: str,
        items: list[dict[str, Any]],
        instructions: str | None,
        cache_key: str | None,
        _threshold: int,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:

        response = await client.compact(
            CompactRequest(
                model=model, input=items, instructions=instructions, prompt_cache_key=cache_key
            ),
            retries=False,
        )
        if not any(item.get("type") == "compaction" for item in response.output):
            raise _Unsupported("the compact endpoint returned no compaction item")
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

        request = ResponseRequest(
            model=model,
            input=[*items, user_message("Checkpoint: compact the conversation so far. Reply OK.")],
            instructions=instructions,
            prompt_cache_key=cache_key,
            max_output_tokens=64,
            context_management=[CompactionControl(compact_threshold=max(1000, threshold // 4))],
        )
        response = await client.create(request, retries=False)
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


def _reason(error: Exception) -> str:
    if isinstance(error, ApiError):
        detail = getattr(error, "detail", None)
        text = detail() if callable(detail) else error.message
        return str(text)[:160]
    return str(error)


def trim(items: Sequence[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """The newest items that fit in `budget` tokens, starting at a user message (so no tool
    output or answer is left without what it answers); at least the last user turn."""
    kept: list[dict[str, Any]] = []
    total = 0
    for item in reversed(items):
        cost = item_tokens(item)
        if kept and total + cost > budget:
            break
        kept.append(item)
        total += cost
    kept.reverse()
    while len(kept) > 1 and not _is_user_message(kept[0]):
        kept.pop(0)
    if kept and not _is_user_message(kept[0]):
        users = [i for i in items if _is_user_message(i)]
        return users[-1:]
    return kept


def _is_user_message(item: dict[str, Any]) -> bool:
    return item.get("type", "message") == "message" and item.get("role") == "user"


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
