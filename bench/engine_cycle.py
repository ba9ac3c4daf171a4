"""Our own code's CPU per edit cycle, in process: the part of a stream's cost the engine owns.

    python bench/engine_cycle.py [SIZE] [--runs 7]

One cycle of the 8,301-char job of bench/unite.py (200 chunks/s, an edit every 34 ms: ~7
deltas a read) without the I/O: the SSE text of 7 OpenAI-shaped `output_text.delta` events
-> `SSEFrames` -> `_parse_frame` -> `StreamAssembler` -> `StreamFeed` (sanitizer, region,
driver pump) -> `workspace/applyEdit` (a stub) -> the didChange a VS Code-like client sends
for it (`EditDriver.change`, the echo engine) -> its answer (`applied: true`). A fake clock
moves 34 ms a cycle. Prints the best of `--runs` runs in us a cycle; the document must end
with the whole answer. What it leaves out (sockets, httpx, the event loop, the LSP wire)
is most of a real cycle's cost: see bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import Future
from types import SimpleNamespace as NS
from typing import Any

from common import SERVER_DIR
from unite import chunks_for

sys.path.insert(0, str(SERVER_DIR))
from responses_lsp.api.assembly import StreamAssembler
from responses_lsp.api.client import _parse_frame
from responses_lsp.api.events import OutputTextDelta
from responses_lsp.api.sse import SSEFrames
from responses_lsp.editing.driver import EditDriver
from responses_lsp.editing.live_region import OutgoingEdit
from responses_lsp.editing.sanitizer import SanitizerOptions
from responses_lsp.jobs.feed import StreamFeed

PER_READ = 7
CYCLE_S = 0.034
URI = "file:///bench.py"
DOC = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(60))


def reads(size: int) -> list[str]:
    tokens = chunks_for(size)

    def frame(seq: int, text: str) -> str:
        event = {
            "type": "response.output_text.delta",
            "sequence_number": seq,
            "item_id": "msg_67c9fdcecf488190bdd9a0ad5b3c0de7",
            "output_index": 0,
            "content_index": 0,
            "delta": text,
            "logprobs": [],
        }
        return f"event: response.output_text.delta\ndata: {json.dumps(event)}\n\n"

    return [
        "".join(frame(i + j, t) for j, t in enumerate(tokens[i : i + PER_READ]))
        for i in range(0, len(tokens), PER_READ)
    ]


def run(texts: list[str]) -> tuple[float, str, int]:
    """CPU seconds for all cycles, the region's text at the end, edits sent."""
    now = [1000.0]
    sent: list[tuple[OutgoingEdit, Future[Any]]] = []

    def send(edit: OutgoingEdit) -> Future[Any]:
        future: Future[Any] = Future()
        sent.append((edit, future))
        return future

    driver = EditDriver(send=send, clock=lambda: now[0])
    driver.open(URI, DOC, 1, "python")
    region = driver.start_region(URI, (30, 0), (36, 0), keep_partial=False)
    feed = StreamFeed(SanitizerOptions(language="python"), region, driver, URI)
    frames, assembler = SSEFrames(), StreamAssembler()
    version, edits = 1, 0
    started = time.process_time()
    for text in texts:
        for name, data in frames.feed(text):
            event = _parse_frame(name, data)
            assert event is not None
            for out in assembler.feed(event):
                if isinstance(out, OutputTextDelta):
                    feed.add(out.delta)
        feed.before_read()
        while sent:
            edit, future = sent.pop(0)
            (sl, sc), (el, ec) = edit.start, edit.end
            change = NS(
                range=NS(start=NS(line=sl, character=sc), end=NS(line=el, character=ec)),
                text=edit.new_text,
            )
            version += 1
            driver.change(URI, version, [change])  # VS Code: the didChange, then the answer
            future.set_result(NS(applied=True, failure_reason=None))
            edits += 1
        now[0] += CYCLE_S
    spent = time.process_time() - started
    feed.flush()
    doc = driver.get(URI)
    assert doc is not None
    return spent, doc.slice(region.start, region.mid), edits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", nargs="?", type=int, default=8301)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    texts = reads(args.size)
    answer = "".join(chunks_for(args.size))
    best = float("inf")
    for _ in range(args.runs):
        spent, written, edits = run(texts)
        if written != answer:
            sys.exit("the document does not hold the answer")
        best = min(best, spent)
    print(f"{args.size} chars: {best / len(texts) * 1e6:.1f} us a cycle (best of {args.runs})")
    print(f"  {len(texts)} cycles, {edits} edits")


if __name__ == "__main__":
    main()
