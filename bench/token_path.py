"""The token path: sanitizer + region over a long output, time per KB at 40 KB and 400 KB.

    python bench/token_path.py [--rounds 3]

In-process (no I/O, a virtual clock): a model output of N KB (Python code, ~4-character
tokens) is fed token by token to `StreamSanitizer.feed`, each delta appended to the job's
region (`RegionJob.append`, what `jobs._consume` does) and the document's `DocStreamer`
polled as the driver does on every token; each edit it sends is applied by a client that
answers at once and echoes it (`apply_did_change`), every 16 ms of virtual time. At the end
the final text is committed and the document must equal the sanitized output. Next to it,
the old path (the whole output re-joined by `StreamSanitizer.emitted` and handed to
`set_target` on every token) on the same tokens. Target (issue 14): linear, the time per KB
at 400 KB within 1.5x of the time per KB at 40 KB.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable

from common import SERVER_DIR, Timer, mmm, update_section, verdict

sys.path.insert(0, str(SERVER_DIR))
from responses_lsp.editing.document import Document, Encoding
from responses_lsp.editing.echo import apply_did_change
from responses_lsp.editing.sanitizer import SanitizerOptions, StreamSanitizer
from responses_lsp.editing.streamer import DocStreamer, Outcome, RegionJob

SIZES_KB = (40, 400)
TOKEN_S = 0.004  # virtual seconds between tokens (250 tokens/s); edits every 16 ms
TARGET_RATIO = 1.5
SOURCE = "import os\n\n\ndef f(x):\n    return x\n\n\nprint(f(1))\n"
REGION = ((3, 0), (5, 0))


def make_output(kb: int) -> str:
    lines: list[str] = []
    size, i = 0, 0
    while size < kb * 1000:
        line = f"    value_{i} = compute(value_{i - 1}, {i}) + offset  # step {i}\n"
        lines.append(line)
        size += len(line)
        i += 1
    return "def f(x):\n" + "".join(lines) + "    return x\n"


def tokens(text: str) -> list[str]:
    return [text[i : i + 4] for i in range(0, len(text), 4)]


def run(output: str, feed: Callable[[StreamSanitizer, RegionJob, str], None]) -> float:
    """Seconds to stream `output` through sanitizer, region and streamer (one job)."""
    now = [0.0]
    doc = Document("file:///bench/tok.py", SOURCE, version=1)
    encoding = Encoding("utf-16")
    streamer = DocStreamer(doc, encoding, clock=lambda: now[0], open_version_is_real=True)
    job = streamer.add_job(*REGION)
    sanitizer = StreamSanitizer(SanitizerOptions(language="python"))

    def pump() -> None:
        edit = streamer.poll()
        if edit is None:
            return
        streamer.on_ack(edit.sent_id, True)  # the client applies it and echoes it at once
        event = ((edit.start, edit.end), edit.new_text)
        apply_did_change(doc, streamer, encoding, [event], doc.version + 1)

    with Timer() as tm:
        for token in tokens(output):
            now[0] += TOKEN_S
            feed(sanitizer, job, token)
            pump()
        job.finalize(sanitizer.finish())
        for _ in range(1000):
            now[0] += 0.05
            pump()
            if job.done:
                break
    assert job.outcome is Outcome.APPLIED, job.outcome
    assert doc.text == SOURCE.replace("def f(x):\n    return x\n", sanitizer.finish()), "text"
    return tm.seconds


def straight(sanitizer: StreamSanitizer, job: RegionJob, token: str) -> None:
    delta = sanitizer.feed(token)
    if delta:
        job.append(delta)


def rejoined(sanitizer: StreamSanitizer, job: RegionJob, token: str) -> None:
    if sanitizer.feed(token):
        job.set_target(sanitizer.emitted)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    outputs = {kb: make_output(kb) for kb in SIZES_KB}
    per_kb: dict[str, dict[int, list[float]]] = {"straight": {}, "rejoined": {}}
    with Timer() as tm:
        for _ in range(args.rounds):
            for kb, output in outputs.items():
                for name, feed in (("straight", straight), ("rejoined", rejoined)):
                    seconds = run(output, feed)
                    per_kb[name].setdefault(kb, []).append(seconds * 1e3 / (len(output) / 1e3))
    small, large = SIZES_KB
    rows, ratios = [], {}
    for name, label in (("straight", "appended delta (now)"), ("rejoined", "re-joined (before)")):
        ratio = statistics.median(per_kb[name][large]) / statistics.median(per_kb[name][small])
        ratios[name] = ratio
        rows.append(
            f"| {label} | {mmm(per_kb[name][small], '{:.3f}')} | "
            f"{mmm(per_kb[name][large], '{:.3f}')} | {ratio:.2f}x | "
            f"{verdict(ratio <= TARGET_RATIO) if name == 'straight' else '-'} |"
        )
    ok = ratios["straight"] <= TARGET_RATIO
    checks = [
        (
            f"token path linear: ms/KB at {large} KB ≤ {TARGET_RATIO}x ms/KB at {small} KB",
            f"{ratios['straight']:.2f}x (re-joined: {ratios['rejoined']:.2f}x)",
            ok,
        )
    ]
    body = "\n".join(
        [
            "## 7. The token path: sanitizer + region over a long output",
            "",
            f"In-process, virtual clock, {args.rounds} rounds: a Python output of {small} KB and "
            f"{large} KB streamed in 4-character tokens through `StreamSanitizer.feed`, the "
            "region and the document's `DocStreamer` (polled on every token; a client that "
            "applies and echoes each edit at once, an edit every 16 ms of virtual time), then "
            "committed; the document is checked against the output. Cells: min / median / max "
            "over rounds of the milliseconds per KB of output. Target (issue 14): linear, "
            f"ms/KB at {large} KB within {TARGET_RATIO}x of ms/KB at {small} KB.",
            "",
            f"| path | ms/KB at {small} KB | ms/KB at {large} KB | ratio | result |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    print(body)
    update_section("token_path", body, elapsed_s=tm.seconds, checks=checks)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
