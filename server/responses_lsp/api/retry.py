"""When to retry a failed request, and how long to wait: named constants and pure functions.

Retried: 429 (unless `insufficient_quota`), 5xx, 408, connection errors and timeouts, and
stream failures (closed before `response.completed`, idle stall, `response.incomplete`,
`response.failed` with a transient code). Never retried: 400, 401, 403, 404 and other 4xx.
The wait is the server's hint when it gives one (`retry-after-ms`, `retry-after` in seconds
or as an HTTP date, or "try again in N s" in the error message), capped; otherwise capped
exponential backoff with jitter. A hint above `MAX_RETRY_AFTER` means "do not retry".
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Mapping

from responses_lsp.errors import ApiError

INITIAL_BACKOFF = 0.5
"""Seconds before the first retry when the server gives no hint."""
MAX_BACKOFF = 8.0
"""Upper bound of the computed backoff."""
JITTER = 0.25
"""The backoff is multiplied by a random factor in [1 - JITTER, 1]."""
MAX_RETRY_AFTER = 120.0
"""A server hint longer than this is not waited for: the request fails instead."""
MAX_ATTEMPTS_CAP = 11
"""Hard bound on attempts, whatever the settings say."""

_TRY_AGAIN = re.compile(r"(?i)try again in\s*(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|sec|seconds?)\b")


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait according to `retry-after-ms` / `retry-after`, or None."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def parse_try_again_hint(message: str) -> float | None:
    """Seconds from a "Please try again in 11.054s" style message, or None."""
    match = _TRY_AGAIN.search(message or "")
    if not match:
        return None
    value = float(match.group(1))
    return value / 1000.0 if match.group(2).lower().startswith("m") else value


def should_retry_header(headers: Mapping[str, str]) -> bool | None:
    """The server's explicit `x-should-retry: true|false`, if it sent one."""
    value = {k.lower(): v for k, v in headers.items()}.get("x-should-retry")
    if value == "true":
        return True
    if value == "false":
        return False
    return None


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Capped exponential backoff with jitter for retry number `attempt` (1-based)."""
    base: float = min(INITIAL_BACKOFF * 2.0 ** (max(attempt, 1) - 1), MAX_BACKOFF)
    factor: float = 1.0 - JITTER * (rng or random).random()
    return base * factor


def retry_delay(error: ApiError, attempt: int, rng: random.Random | None = None) -> float | None:
    """Seconds to wait before retry number `attempt` (1-based), or None: do not retry."""
    if not error.retryable:
        return None
    hint = getattr(error, "retry_after", None)
    if hint is None:
        hint = parse_try_again_hint(error.message)
    if hint is not None:
        if hint > MAX_RETRY_AFTER:
            return None
        return hint
    return backoff(attempt, rng)


def max_attempts(max_retries: int) -> int:
    """Total attempts allowed for a setting of `max_retries` retries."""
    return max(1, min(max_retries + 1, MAX_ATTEMPTS_CAP))
