"""Incremental didChange on a 1 MB document: our document model next to pygls 2.1.1's.

    python bench/did_change.py [--rounds 3] [--changes 1000]

In-process (no I/O): the server-side cost of applying one `TextDocumentContentChangePartial`
(a 1-character insert) to a 14,000-line (~1.1 MB) document, at the start, the middle and the end.
Ours is `EditDriver.change` (the path every didChange takes: position conversion, the
document's line-list splice, the streamer hook); the reference is pygls 2.1.1's stock
`TextDocument.apply_change`. Each round runs `--changes` inserts per location for both, one block
after the other in alternating order; the texts are compared after each block. A fourth row
measures ours while a job's region is tracked at the end of the document (the user typing above a
running job: every change is mapped through the region). Target: ≤ 0.5 ms per change.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import Future
from typing import Any

from lsprotocol import types as t
from pygls.workspace.position_codec import PositionCodec
from pygls.workspace.text_document import TextDocument

from common import SERVER_DIR, Timer, make_doc, mmm, pct, update_section, verdict

sys.path.insert(0, str(SERVER_DIR))
from responses_lsp.editing.document import Encoding
from responses_lsp.editing.driver import EditDriver

TARGET_MS = 0.5
LINES = 14_000
URI = "file:///bench/big.py"
LOCATIONS = {"start (line 10)": 10, "middle (line 7,000)": 7000, "end (line 13,990)": 13990}


def _never_send(_edit: Any) -> Future[Any]:
    raise AssertionError("no edit expected in this benchmark")


def change(line: int) -> t.TextDocumentContentChangePartial:
    pos = t.Position(line=line, character=4)
    return t.TextDocumentContentChangePartial(range=t.Range(start=pos, end=pos), text="x")


def time_ours(driver: EditDriver, line: int, n: int, version: list[int]) -> list[float]:
    out = []
    ev = [change(line)]
    for _ in range(n):
        version[0] += 1
        t0 = time.perf_counter_ns()
        driver.change(URI, version[0], ev)
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def time_pygls(doc: TextDocument, line: int, n: int) -> list[float]:
    out = []
    ev = change(line)
    for _ in range(n):
        t0 = time.perf_counter_ns()
        doc.apply_change(ev)
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--changes", type=int, default=1000)
    args = ap.parse_args()
    n = args.changes
    text = make_doc(LINES)
    # per location: per round: (median, p95, max) for each implementation
    stats: dict[str, dict[str, list[tuple[float, float, float]]]] = {
        loc: {"ours": [], "pygls": []} for loc in [*LOCATIONS, "region"]
    }
    with Timer() as tm:
        for r in range(args.rounds):
            driver = EditDriver(send=_never_send)
            driver.encoding = Encoding("utf-16")
            driver.open(URI, text, 1, "python")
            doc = TextDocument(
                URI, text, version=1, language_id="python", position_codec=PositionCodec()
            )
            version = [1]
            for loc, line in LOCATIONS.items():
                order = ("ours", "pygls") if r % 2 == 0 else ("pygls", "ours")
                for which in order:
                    if which == "ours":
                        lat = time_ours(driver, line, n, version)
                    else:
                        lat = time_pygls(doc, line, n)
                    stats[loc][which].append((statistics.median(lat), pct(lat, 95), max(lat)))
                ours_doc = driver.get(URI)
                assert ours_doc is not None and ours_doc.text == doc.source, "texts differ"
                print(
                    f"round {r + 1} {loc}: ours {stats[loc]['ours'][-1][0] * 1e3:.1f} µs, "
                    f"pygls {stats[loc]['pygls'][-1][0]:.2f} ms"
                )
            # ours with a job's region tracked at the end (user typing above a running job)
            ours_doc = driver.get(URI)
            assert ours_doc is not None
            end = ours_doc.line_count - 1
            driver.start_region(URI, (end - 3, 0), (end, 0), keep_partial=False)
            lat = time_ours(driver, 10, n, version)
            stats["region"]["ours"].append((statistics.median(lat), pct(lat, 95), max(lat)))
            driver.close(URI)

    rows = []
    checks = []
    worst = 0.0
    for loc in LOCATIONS:
        o, p = stats[loc]["ours"], stats[loc]["pygls"]
        m = statistics.median(x[0] for x in o)
        worst = max(worst, m)
        ratio = statistics.median(x[0] for x in p) / m
        rows.append(
            f"| 1-char insert, {loc} | {mmm([x[0] * 1e3 for x in o])} | "
            f"{mmm([x[1] * 1e3 for x in o])} | {mmm([x[2] * 1e3 for x in o])} | "
            f"{mmm([x[0] for x in p], '{:.2f}')} | {mmm([x[1] for x in p], '{:.2f}')} | "
            f"{ratio:,.0f}x | {verdict(m <= TARGET_MS)} |"
        )
        checks.append(
            (
                f"incremental didChange on a 1 MB document ≤ {TARGET_MS} ms — {loc}",
                f"{m * 1e3:.1f} µs (pygls {statistics.median(x[0] for x in p):.2f} ms)",
                m <= TARGET_MS,
            )
        )
    o = stats["region"]["ours"]
    rows.append(
        "| same at the start, a job's region tracked at the end | "
        f"{mmm([x[0] * 1e3 for x in o])} | "
        f"{mmm([x[1] * 1e3 for x in o])} | {mmm([x[2] * 1e3 for x in o])} | - | - | - | "
        f"{verdict(statistics.median(x[0] for x in o) <= TARGET_MS)} |"
    )
    body = "\n".join(
        [
            "## 4. Incremental didChange on a 1 MB document (server-side cost per change)",
            "",
            f"In-process, {LINES:,} lines ({len(text.encode()) / 1e6:.2f} MB), "
            f"{args.rounds} rounds x "
            f"{n:,} changes per location and implementation, interleaved; texts verified equal "
            "after every block. Ours: `EditDriver.change` (µs); reference: pygls 2.1.1 "
            "`TextDocument.apply_change` (**ms**). Cells: min / median / max over rounds of the "
            f"per-round median, p95 and max. Target: ≤ {TARGET_MS} ms per change.",
            "",
            "| change | ours median µs | ours p95 µs | ours max µs | pygls median ms "
            "| pygls p95 ms | pygls / ours | result |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(body)
    update_section("did_change", body, elapsed_s=tm.seconds, checks=checks)


if __name__ == "__main__":
    sys.exit(main())
