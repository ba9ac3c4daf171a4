"""The deterministic token stream of the streaming benchmark (perf-baseline.md §7, `token()`).

Code-ish pieces of 2.5 bytes on average with a line break every 12 tokens, so a 2,000-token
stream is ~5 KB in ~167 lines. Shared by `stream_lag.py` (the loopback's SSE deltas) and
`ref_server.py` (the reference server's producer), so both stream exactly the same text.
"""

WORDS = [
    "def",
    " foo",
    "(",
    "x",
    ",",
    " y",
    ")",
    ":",
    " return",
    " x",
    " +",
    " y",
    " *",
    " 2",
    " #",
    " note",
    " the",
    " value",
    " is",
    " ok",
]


def token(i: int) -> str:
    return "\n" if i % 12 == 11 else WORDS[(i * 7) % len(WORDS)]


def tokens(n: int) -> list[str]:
    return [token(i) for i in range(n)]
