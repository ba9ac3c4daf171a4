"""Which session a document belongs to, and a session's turns: prepare, compact, record.

`prepare()` returns the input of the next request (history + the new items), compacting
first when the estimate crosses the threshold — but never while another job of the same
session is streaming (its turn would then be recorded against a history it never saw).
`record()` appends a finished turn: the user items sent, the model's output items as they
arrived (replayable form), and the usage. Every change goes through `SessionStore.update`, a
read-merge-write under a lock, so servers sharing the session keep each other's turns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from responses_lsp.sessions.compaction import (
    CompactionResult,
    Compactor,
    estimate_tokens,
    replayable,
    should_compact,
)
from responses_lsp.sessions.schema import Session, clean_last_action, clean_usage
from responses_lsp.sessions.store import SessionStore
from responses_lsp.usage import UsageTotals

log = logging.getLogger(__name__)


class SessionManager:
    def __init__(
        self,
        store: SessionStore,
        *,
        scope: Callable[[], str],
        folders: Callable[[], Sequence[str]],
    ) -> None:
        self.store = store
        self.compactor = Compactor()
        self._scope = scope
        self._folders = folders
        self._streaming: dict[str, int] = {}

    # ------------------------------------------------------------------ which session

    def key_for(self, uri: str) -> str | None:
        scope = self._scope()
        if scope == "off":
            return None
        if scope == "document":
            return uri
        folders = sorted((f.rstrip("/") for f in self._folders()), key=len, reverse=True)
        for folder in folders:
            if uri == folder or uri.startswith(folder + "/"):
                return folder
        return "workspace:" + uri.rsplit("/", 1)[0]

    def session_for(self, uri: str) -> Session | None:
        key = self.key_for(uri)
        return self.store.get(key) if key is not None else None

    # ------------------------------------------------------------------ turns

    def estimate(self, session: Session, new_items: Sequence[dict[str, Any]] = ()) -> int:
        total = session.last_usage.get("total_tokens") if session.last_usage else None
        return estimate_tokens(
            session.items,
            last_total=int(total) if total is not None else None,
            measured_items=session.items_at_usage,
            new_items=new_items,
        )

    async def prepare(
        self,
        session: Session,
        new_items: list[dict[str, Any]],
        *,
        client: Any,
        base_url: str,
        model: str,
        instructions: str | None,
        threshold: int,
        on_compact: Callable[[], None] | None = None,
        force: bool = False,
    ) -> list[dict[str, Any]]:
        """The input for the next request, compacting the history first when needed."""
        self.store.refresh(session)  # with the turns other processes added meanwhile
        estimate = self.estimate(session, new_items)
        if force or should_compact(estimate, threshold, history_items=len(session.items)):
            if self._streaming.get(session.key, 0) and not force:
                log.info(
                    "session %s: over the threshold but a job is streaming; compacting later",
                    session.id,
                )
            elif session.items:
                if on_compact is not None:
                    on_compact()
                await self.compact(
                    session,
                    client=client,
                    base_url=base_url,
                    model=model,
                    instructions=instructions,
                    threshold=threshold,
                    tokens_before=estimate,
                )
        return [*session.items, *new_items]

    async def compact(
        self,
        session: Session,
        *,
        client: Any,
        base_url: str,
        model: str,
        instructions: str | None,
        threshold: int,
        tokens_before: int | None = None,
    ) -> CompactionResult:
        before = tokens_before if tokens_before is not None else self.estimate(session)
        compacted = list(session.items)
        basis = (session.id, session.epoch, len(compacted))
        result = await self.compactor.compact(
            client,
            base_url=base_url,
            model=model,
            items=compacted,
            instructions=instructions,
            cache_key=session.cache_key,
            tokens_before=before,
            threshold=threshold,
        )

        def replace_history(current: Session) -> None:
            if (current.id, current.epoch) != basis[:2] or len(current.items) < basis[2]:
                log.info("session %s: rewritten by another process meanwhile; kept", current.id)
                return
            current.items = [*result.items, *current.items[basis[2] :]]  # + turns added since
            current.last_usage = None  # measured again by the next response
            current.items_at_usage = 0
            current.compactions += 1
            current.epoch += 1

        self.store.update(session, replace_history)
        log.info(
            "session %s compacted (%s): ~%d tokens before, ~%d after",
            session.id,
            result.strategy,
            result.tokens_before,
            result.tokens_after,
        )
        return result

    def streaming(self, session: Session, delta: int) -> None:
        self._streaming[session.key] = max(0, self._streaming.get(session.key, 0) + delta)

    def record(
        self,
        session: Session,
        sent: Sequence[dict[str, Any]],
        output: Sequence[dict[str, Any]],
        usage: dict[str, Any] | None,
        last_action: dict[str, Any] | None = None,
        *,
        spent: UsageTotals | None = None,
    ) -> None:
        """Append a turn; `spent` (what its responses cost) joins the session's totals."""
        items = [*sent, *replayable(output)]
        usage, last_action = clean_usage(usage), clean_last_action(last_action)

        def append_turn(current: Session) -> None:
            current.items.extend(items)
            if usage is not None:
                current.last_usage = usage
                current.items_at_usage = len(current.items)
            current.turns += 1
            if spent is not None and spent.any:
                totals = UsageTotals.from_record(current.spent)
                totals.merge(spent)
                current.spent = totals.to_record()
            if last_action is not None:
                current.last_action = last_action

        self.store.update(session, append_turn)
        if usage is not None:
            cached = (usage.get("input_tokens_details") or {}).get("cached_tokens", 0)
            log.info(
                "session %s: %s input tokens (%s cached), %s output tokens",
                session.id,
                usage.get("input_tokens"),
                cached,
                usage.get("output_tokens"),
            )

    def remember(self, session: Session, last_action: dict[str, Any]) -> None:
        """Where the session's last applied edit is (for refine / retry)."""
        cleaned = clean_last_action(last_action)

        def set_last_action(current: Session) -> None:
            current.last_action = cleaned

        self.store.update(session, set_last_action)

    def reset(self, uri: str) -> Session | None:
        key = self.key_for(uri)
        return self.store.reset(key) if key is not None else None

    def summary(self, session: Session) -> dict[str, Any]:
        return {
            "sessionId": session.id,
            "key": session.key,
            "turns": session.turns,
            "items": len(session.items),
            "estimatedTokens": self.estimate(session),
            "lastUsage": session.last_usage,
            "compactions": session.compactions,
            "promptCacheKey": session.cache_key,
            "usage": UsageTotals.from_record(session.spent).as_json(),
        }
