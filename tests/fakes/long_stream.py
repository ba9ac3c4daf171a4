"""A rewrite long enough to stream for over ten seconds in token-sized deltas, as a real model's
answer does: shared by the real-editor tiers' long-stream scenarios (Neovim, Emacs).

`LONG_ASYNC` replaces `FETCH` of `tests.fakes.samples.SOURCE`: ~640 characters, ~160 deltas of
~4 characters (the loopback's default chunking); at `LONG_PACE` deltas per second the stream lasts
~13 s.
"""

from __future__ import annotations

from tests.fakes.samples import FETCH, SOURCE

LONG_ASYNC = '''async def fetch(url, *, retries=3, timeout=10.0):
    """Fetch a URL without blocking the event loop.

    Retries transient failures (connection errors and 5xx answers) with a short backoff,
    and returns the body as text, like the synchronous version did.
    """
    last_error = None
    async with httpx.AsyncClient(timeout=timeout) as client:
        for attempt in range(retries):
            try:
                response = await client.get(url)
                if response.status_code < 500:
                    return response.text
                last_error = RuntimeError(f"server error {response.status_code}")
            except httpx.TransportError as error:
                last_error = error
            await asyncio.sleep(0.2 * (attempt + 1))
    raise last_error
'''
LONG_REFACTORED = SOURCE.replace(FETCH, LONG_ASYNC)
LONG_PACE = 12.0  # deltas per second
MIN_STREAM_SECONDS = 10.0
MAX_DELTA_CHARS = 8  # "token-sized": no delta longer than this
