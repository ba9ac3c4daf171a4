"""Keeps secrets out of every string the server emits.

The API key is registered here once it is known; `redact()` replaces every registered
secret (and anything that looks like a bearer token for it) with a mask. Logging
handlers, error messages and user-facing messages all pass through it, so a key
that a gateway echoes back in an error body never reaches a log line or the editor.
"""

from __future__ import annotations

import logging
import re
import threading

_MASK = "****"
_lock = threading.Lock()
_secrets: set[str] = set()
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{8,}")


def register_secret(value: str | None) -> None:
    """Remember `value` so that it is masked wherever it appears later."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def mask(value: str | None) -> str:
    """A display form of a key: its first 3 and last 4 characters, or nothing."""
    if not value:
        return "(none)"
    if len(value) <= 10:
        return _MASK
    return f"{value[:3]}{_MASK}{value[-4:]}"


def redact(text: str) -> str:
    """Return `text` with every registered secret and every bearer token masked."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    return _BEARER.sub(lambda m: m.group(1) + _MASK, text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the final message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, redacted, so the formatter does not re-render it.
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True
