"""A reference for the server's CPU during a stream: the same SSE stream read by httpx + httpx-sse
alone (the HTTP stack our server uses), in its own process, with no LSP and no editing.

    python bench/sse_floor.py BASE_URL      (run by stream_lag.py against its loopback)

Prints one JSON line: CPU seconds (`time.process_time()`) and wall seconds of reading the stream,
and the number of events (each parsed with `json.loads`, as any client must).
"""

import asyncio
import json
import sys
import time

import httpx
import httpx_sse


async def stream(client: httpx.AsyncClient, url: str, marker: str) -> int:
    body = {"model": "m", "stream": True, "input": [{"role": "user", "content": marker}]}
    n = 0
    async with httpx_sse.aconnect_sse(client, "POST", url + "/v1/responses", json=body) as es:
        es.response.raise_for_status()
        async for ev in es.aiter_sse():
            json.loads(ev.data)
            n += 1
    return n


async def main(url: str) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        await stream(client, url, "bench_sse_floor_warm")  # connection, first-time paths
        c0, t0 = time.process_time(), time.perf_counter()
        n = await stream(client, url, "bench_sse_floor")
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    print(json.dumps({"cpu_s": cpu, "wall_s": wall, "events": n}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
