"""Where log records go: stderr always, the editor's log (window/logMessage) once connected.

Nothing is ever written to stdout: on stdio it carries the protocol. Every handler masks
secrets (`RedactingFilter`). pygls logs every JSON message at INFO, which is both noise
and cost on a streaming hot path, so its loggers are kept at WARNING.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from responses_lsp.redaction import RedactingFilter

LOGGER_NAME = "responses_lsp"
LEVELS = {
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}


def setup_stderr_logging(level: str | None = None) -> None:
    """Log to stderr at `level` (or $RESPONSES_LSP_LOG, default warning)."""
    name = (level or os.environ.get("RESPONSES_LSP_LOG") or "warning").lower()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    # The editor's log may want more of our records than stderr does: the level is the
    # handler's, so raising our logger for the editor never floods stderr.
    handler.setLevel(LEVELS.get(name, logging.WARNING))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LEVELS.get(name, logging.WARNING))
    for noisy in ("pygls", "httpx", "httpcore", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class EditorLogHandler(logging.Handler):
    """Sends our own records (not pygls') to the editor as window/logMessage."""

    def __init__(self, send: Callable[[int, str], None], level: int = logging.INFO) -> None:
        super().__init__(level)
        self._send = send
        self.addFilter(RedactingFilter())
        self._busy = False

    def emit(self, record: logging.LogRecord) -> None:
        if self._busy or not record.name.startswith(LOGGER_NAME):
            return
        self._busy = True  # sending may log; never recurse
        try:
            self._send(record.levelno, self.format(record))
        except Exception:  # the editor went away: stderr still has it
            pass
        finally:
            self._busy = False


def attach_editor_log(send: Callable[[int, str], None], level: str) -> EditorLogHandler:
    handler = EditorLogHandler(send, LEVELS.get(level, logging.INFO))
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(LOGGER_NAME)
    for old in [h for h in logger.handlers if isinstance(h, EditorLogHandler)]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(min(handler.level, logging.getLogger().level or logging.WARNING))
    return handler
