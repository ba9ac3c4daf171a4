"""Server RSS: idle after initialize, and with ten 1 MB documents open, next to a bare pygls server.

    python bench/memory.py [--runs 3]

A raw JSON-RPC client (no pygls on the client side) starts each server over stdio with Neovim's
capabilities shape reduced to `{}` plus `workspace.configuration`, sends initialize + initialized
and waits for a round trip (a request the server does not know: the error answer proves every
earlier message was handled; for ours, after it asked for `workspace/configuration`, so the
settings are loaded). VmRSS / VmHWM come from `/proc/<pid>/status` after: initialize
(idle), ten didOpen of a 14,000-line (~1.04 MB) document, 20 incremental 1-character changes per
document, and one codeAction per document. Runs alternate between the servers.
Targets (ours): ≤ 60 MB idle, ≤ 85 MB with the ten documents open.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from common import (
    BARE_CMD,
    BENCH,
    OURS_CMD,
    ROOT,
    RawClient,
    Timer,
    bare_env,
    make_doc,
    mmm,
    rss_kb,
    server_env,
    update_section,
    verdict,
)

IDLE_MB, DOCS_MB = 60.0, 85.0
STAGES = ["idle", "warm", "open", "changed", "code_action", "hwm"]


async def sync(c: RawClient) -> None:
    """A round trip: everything sent before has been handled."""
    msg = await c.request("bench/ping", {}, wait_s=60)
    assert "error" in msg, msg


def ca_params(uri: str, line: int) -> dict[str, Any]:
    return {
        "textDocument": {"uri": uri},
        "range": {
            "start": {"line": line, "character": 0},
            "end": {"line": line + 5, "character": 0},
        },
        "context": {"diagnostics": [], "triggerKind": 1},
    }


async def one_run(which: str, root: Path, text: str) -> dict[str, float]:
    cmd, cwd, env = (
        (OURS_CMD, ROOT, server_env()) if which == "ours" else (BARE_CMD, BENCH, bare_env())
    )
    c = await RawClient().start(cmd, cwd, env)
    out: dict[str, float] = {}
    try:
        init = await c.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri(),
                "capabilities": {"workspace": {"configuration": True}},
            },
            wait_s=60,
        )
        assert "result" in init, init
        c.notify("initialized", {})
        if which == "ours":  # `initialized` pulls the configuration, then loads the settings
            await asyncio.wait_for(c.server_request("workspace/configuration").wait(), 30)
        await sync(c)
        out["idle"] = rss_kb(c.pid)["VmRSS"] / 1024
        # the first codeAction (on a small document) loads what a real session always has
        small = (root / "small.py").as_uri()
        c.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": small,
                    "languageId": "python",
                    "version": 1,
                    "text": "x = 1\n",
                }
            },
        )
        res = await c.request("textDocument/codeAction", ca_params(small, 0), wait_s=60)
        assert res.get("result"), res
        out["warm"] = rss_kb(c.pid)["VmRSS"] / 1024
        uris = [(root / f"doc{k}.py").as_uri() for k in range(10)]
        for k, uri in enumerate(uris):
            c.notify(
                "textDocument/didOpen",
                {
                    "textDocument": {
                        "uri": uri,
                        "languageId": "python",
                        "version": 1,
                        "text": text + f"# doc {k}\n",
                    }
                },
            )
        await sync(c)
        out["open"] = rss_kb(c.pid)["VmRSS"] / 1024
        for uri in uris:
            for j in range(20):
                line = 100 + j * 500
                c.notify(
                    "textDocument/didChange",
                    {
                        "textDocument": {"uri": uri, "version": 2 + j},
                        "contentChanges": [
                            {
                                "range": {
                                    "start": {"line": line, "character": 4},
                                    "end": {"line": line, "character": 4},
                                },
                                "text": "x",
                            }
                        ],
                    },
                )
        await sync(c)
        out["changed"] = rss_kb(c.pid)["VmRSS"] / 1024
        for uri in uris:
            res = await c.request("textDocument/codeAction", ca_params(uri, 7000), wait_s=60)
            assert res.get("result"), res
        status = rss_kb(c.pid)
        out["code_action"] = status["VmRSS"] / 1024
        out["hwm"] = status["VmHWM"] / 1024
        return out
    finally:
        await c.stop()


async def main_async(runs: int) -> dict[str, list[dict[str, float]]]:
    import tempfile

    text = make_doc(14_000)
    res: dict[str, list[dict[str, float]]] = {"ours": [], "bare": []}
    with tempfile.TemporaryDirectory(prefix="bench-mem-") as tmp:
        for r in range(runs):
            for which in ("ours", "bare") if r % 2 == 0 else ("bare", "ours"):
                res[which].append(await one_run(which, Path(tmp), text))
                print(
                    f"run {r + 1} {which}: "
                    + ", ".join(f"{k} {v:.1f}" for k, v in res[which][-1].items())
                )
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with Timer() as tm:
        res = asyncio.run(main_async(args.runs))
    ours, bare = res["ours"], res["bare"]
    idle = statistics.median(max(r["idle"], r["warm"]) for r in ours)
    docs = statistics.median(max(r["open"], r["changed"], r["code_action"]) for r in ours)
    worst_docs = max(max(r["open"], r["changed"], r["code_action"]) for r in ours)

    def row(name: str, rs: list[dict[str, float]]) -> str:
        return f"| {name} | " + " | ".join(mmm([r[k] for r in rs]) for k in STAGES) + " |"

    body = "\n".join(
        [
            "## 5. Server memory (RSS, MB)",
            "",
            f"{args.runs} runs per server, alternating. Ten documents of 14,000 lines "
            f"(~1.04 MB each, 10.4 MB of text).",
            "",
            "| server | after initialize (idle) | + first codeAction (small doc) "
            "| + 10 x 1 MB didOpen | + 20 incremental "
            "changes each | + one codeAction each | peak (VmHWM) |",
            "|---|---|---|---|---|---|---|",
            row("**responses-lsp**", ours),
            row("bare pygls server (reference)", bare),
            "",
            "| target | measured (median over runs) | result |",
            "|---|---|---|",
            f"| idle ≤ {IDLE_MB:g} MB (after initialize, and after the first codeAction) "
            f"| {idle:.1f} MB | {verdict(idle <= IDLE_MB)} |",
            f"| with ten 1 MB documents open ≤ {DOCS_MB:g} MB (highest of the three "
            f"document stages) | {docs:.1f} MB (worst run {worst_docs:.1f}) | "
            f"{verdict(docs <= DOCS_MB)} |",
            "",
            "Our server loads its settings (pydantic), the action catalog and the session store on "
            "the first codeAction, hence the step in the second column; the Responses client "
            "(httpx) is only created by the first job, so it is in none of these numbers.",
        ]
    )
    print(body)
    checks = [
        (f"RSS idle ≤ {IDLE_MB:g} MB", f"{idle:.1f} MB", idle <= IDLE_MB),
        (f"RSS with ten 1 MB documents open ≤ {DOCS_MB:g} MB", f"{docs:.1f} MB", docs <= DOCS_MB),
    ]
    update_section("memory", body, elapsed_s=tm.seconds, checks=checks)


if __name__ == "__main__":
    sys.exit(main())
