"""The HTTP side of our server alone: the same SSE stream read by httpx at our server's pace —
one socket read per 34 ms edit window (`responses_lsp.api.pacing`, as a streaming job reads
it), split into events by `responses_lsp.api.sse`, each event parsed with `json.loads` — in its
own process, with no LSP, no editing, no sanitizer.

    python bench/paced_floor.py BASE_URL      (run by unite.py against its stand-in)

It bounds what any server on this HTTP stack can reach at the edit rate the lag targets need
(issue 16): whatever the rest costs comes on top. Prints one JSON line like
`bench/sse_floor.py`: CPU seconds (`time.process_time()`), wall seconds, events, socket reads.
"""

import asyncio
import json
import sys
import time

import httpx

from responses_lsp.api.pacing import make_paceable, paced_stream
from responses_lsp.api.sse import SSEFrames

WINDOW = 0.034
"""The edit window of the server (`flushIntervalMs` default): one read per window."""

EARLY = 0.001
"""The server reads this long before the window opens (`jobs.feed.READ_EARLY`)."""


class GridPace:
    """`api.pacing.ReadPace`: the next read just before the next window of a 34 ms grid."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.window = 0
        self.reads = 0

    def before_read(self) -> float:
        self.reads += 1
        now = time.monotonic()
        self.window = max(int((now - self.start) / WINDOW) + 1, self.window + 1)
        return self.start + self.window * WINDOW - EARLY - now


async def stream(client: httpx.AsyncClient, url: str, marker: str) -> tuple[int, int]:
    body = {"model": "m", "stream": True, "input": [{"role": "user", "content": marker}]}
    events, pace = 0, GridPace()
    async with client.stream("POST", url + "/v1/responses", json=body) as response:
        response.raise_for_status()
        network = paced_stream(response)
        if network is None:
            raise RuntimeError("the default transport could not be paced")
        network.pace = pace
        frames = SSEFrames()
        async for text in response.aiter_text():
            for _event, data in frames.feed(text):
                json.loads(data)
                events += 1
        network.pace = None
    return events, pace.reads


async def main(url: str) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        if not make_paceable(client):
            raise RuntimeError("httpx's default transport could not be made paceable")
        await stream(client, url, "bench_sse_floor_warm")  # connection, first-time paths
        c0, t0 = time.process_time(), time.perf_counter()
        events, reads = await stream(client, url, "bench_sse_floor")
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    print(json.dumps({"cpu_s": cpu, "wall_s": wall, "events": events, "reads": reads}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
