"""Startup: spawn → `initialize` result, our server next to a bare pygls server, interleaved.

    python bench/startup.py [--rounds 30] [--importtime 7]

A small asyncio client spawns each variant, writes `initialize`, stops the clock when the result
is parsed, then sends shutdown + exit (as in perf-baseline.md §1). One warm-up spawn per variant,
then `--rounds` interleaved rounds. Variants:

* `python -c pass` — the interpreter floor;
* bare pygls server (`python -m bare_server`) — the reference;
* `python -m responses_lsp` from this checkout — the target (≤ 1.15 x bare, median);
* both again with their bytecode cached (PYTHONPYCACHEPREFIX, prepared first): this environment
  sets PYTHONDONTWRITEBYTECODE=1 and the checkout has no `__pycache__`, so as run from source our
  ~30 modules are compiled on every start, while a `pip install`ed server has its `.pyc`.

Then `python -X importtime -m responses_lsp </dev/null` (`--importtime` runs) for the top import
costs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from common import (
    BARE_CMD,
    BENCH,
    OURS_CMD,
    PY,
    ROOT,
    Timer,
    bare_env,
    frame,
    mmm,
    read_msg,
    server_env,
    update_section,
    verdict,
    wait_calm,
)

TARGET_RATIO = 1.15


def init_msg() -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"processId": os.getpid(), "rootUri": ROOT.as_uri(), "capabilities": {}},
    }


async def spawn_once(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    """ms from spawn to the parsed `initialize` result (or to exit, for `-c pass`)."""
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        cwd=str(cwd),
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        if cmd[1] == "-c":
            await asyncio.wait_for(proc.wait(), 30)
            return (time.perf_counter() - t0) * 1e3
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(frame(init_msg()))
        await proc.stdin.drain()
        for _ in range(1000):  # the result, after any notifications the server sends first
            msg = await asyncio.wait_for(read_msg(proc.stdout), 30)
            if msg.get("id") == 1:
                break
        dt = (time.perf_counter() - t0) * 1e3
        assert "result" in msg, msg
        proc.stdin.write(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
        await proc.stdin.drain()
        with contextlib.suppress(Exception):
            for _ in range(1000):
                if (await asyncio.wait_for(read_msg(proc.stdout), 10)).get("id") == 2:
                    break
        proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
        await proc.stdin.drain()
        await asyncio.wait_for(proc.wait(), 10)
        return dt
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


_PRIME = r"""
import importlib.util, py_compile, runpy, sys
which = sys.argv[1]
sys.argv = [which]
if which == "ours":
    from responses_lsp.cli import main
    main([])  # stdin is at EOF: the server starts and stops at once
    import responses_lsp.settings, responses_lsp.actions.catalog  # after `initialized`
else:
    runpy.run_module("bare_server", run_name="__main__")
n = 0
for mod in list(sys.modules.values()):
    path = getattr(mod, "__file__", None) or ""
    if path.endswith(".py"):
        try:
            py_compile.compile(path, cfile=importlib.util.cache_from_source(path), doraise=True)
            n += 1
        except Exception:
            pass
print(n)
"""


def prime_cache(prefix: str) -> dict[str, int]:
    """Compile every module each server imports into the PYTHONPYCACHEPREFIX tree."""
    counts = {}
    for which, cwd, env in (
        ("ours", ROOT, server_env()),
        ("bare", BENCH, bare_env()),
    ):
        env = dict(env, PYTHONPYCACHEPREFIX=prefix)
        out = subprocess.run(
            [PY, "-c", _PRIME, which],
            cwd=str(cwd),
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError(f"priming the bytecode cache failed: {out.stderr[-2000:]}")
        counts[which] = int(out.stdout.strip().splitlines()[-1])
    return counts


def importtime(
    runs: int, cmd: list[str], cwd: Path, env: dict[str, str]
) -> tuple[list[tuple[str, float, float]], float, float]:
    """Median self / cumulative ms per module over `runs` of `python -X importtime -m ...`."""
    selfs: dict[str, list[float]] = defaultdict(list)
    cums: dict[str, list[float]] = defaultdict(list)
    totals, owns = [], []
    for _ in range(runs):
        out = subprocess.run(
            [PY, "-X", "importtime", *cmd[1:]],
            cwd=str(cwd),
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        total = own = 0.0
        for line in out.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
            if not m:
                continue
            s, c, name = int(m[1]) / 1e3, int(m[2]) / 1e3, m[4]
            selfs[name].append(s)
            cums[name].append(c)
            total += s
            if name.startswith("responses_lsp"):
                own += s
        totals.append(total)
        owns.append(own)
    rows = [
        (name, statistics.median(selfs[name]), statistics.median(cums[name]))
        for name in selfs
        if len(selfs[name]) == runs
    ]
    return rows, statistics.median(totals), statistics.median(owns)


async def main_async(rounds: int, calm_s: float) -> tuple[dict[str, list[float]], list[float]]:
    prefix = tempfile.mkdtemp(prefix="bench-pycache-")
    try:
        primed = prime_cache(prefix)
        print(f"bytecode cache primed in {prefix}: {primed}")
        variants = {
            "`python -c pass` (interpreter floor)": ([PY, "-c", "pass"], ROOT, bare_env()),
            "bare pygls server (`python -m bare_server`)": (BARE_CMD, BENCH, bare_env()),
            "**responses-lsp** (`python -m responses_lsp`, from source)": (
                OURS_CMD,
                ROOT,
                server_env(),
            ),
            "bare pygls server, bytecode cached": (
                BARE_CMD,
                BENCH,
                bare_env(PYTHONPYCACHEPREFIX=prefix),
            ),
            "**responses-lsp**, bytecode cached (as installed)": (
                OURS_CMD,
                ROOT,
                server_env(PYTHONPYCACHEPREFIX=prefix),
            ),
        }
        res: dict[str, list[float]] = {k: [] for k in variants}
        for cmd, cwd, env in variants.values():  # warm-up
            await spawn_once(cmd, cwd, env)
        busy: list[float] = []
        budget = 300.0
        for r in range(rounds):
            if calm_s > 0 and budget > 0:  # a round on a calm machine (bounded wait)
                b, waited = wait_calm(min(calm_s, budget), window_s=1.0)
                budget -= waited
                busy.append(b)
            for k, (cmd, cwd, env) in variants.items():
                res[k].append(await spawn_once(cmd, cwd, env))
            print(f"round {r + 1}/{rounds}: " + ", ".join(f"{v[-1]:.0f}" for v in res.values()))
        return res, busy
    finally:
        import shutil

        shutil.rmtree(prefix, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--importtime", type=int, default=7)
    ap.add_argument(
        "--wait-calm",
        type=float,
        default=20,
        metavar="S",
        help="before each round, wait up to S s for the machine to be < 25%% busy (0: don't)",
    )
    args = ap.parse_args()
    with Timer() as tm:
        res, busy = asyncio.run(main_async(args.rounds, args.wait_calm))
        rows, total_imp, own_imp = importtime(args.importtime, OURS_CMD, ROOT, server_env())
        bare_rows, bare_total, _ = importtime(args.importtime, BARE_CMD, BENCH, bare_env())
    bare_names = {r[0] for r in bare_rows}
    extra = [r for r in rows if r[0] not in bare_names]
    keys = list(res)
    _floor, bare, ours, bare_c, ours_c = keys
    n = args.rounds

    def line(k: str) -> str:
        v = res[k]
        return (
            f"| {k} | {n} | {min(v):.0f} | {statistics.median(v):.0f} | "
            f"{statistics.quantiles(v, n=20)[18]:.0f} | {max(v):.0f} |"
        )

    m = {k: statistics.median(v) for k, v in res.items()}
    ratio = statistics.median(res[ours]) / statistics.median(res[bare])
    ratio_c = statistics.median(res[ours_c]) / statistics.median(res[bare_c])
    per_round = [o / b for o, b in zip(res[ours], res[bare], strict=True)]
    per_round_c = [o / b for o, b in zip(res[ours_c], res[bare_c], strict=True)]
    out = [
        "## 1. Startup: spawn → `initialize` result",
        "",
        f"Interleaved, {n} rounds after one warm-up spawn per variant (ms). "
        + (
            f"Before each round the bench waited (up to {args.wait_calm:.0f} s) for the machine "
            f"to be < 25 % busy: {sum(b < 25 for b in busy)} of {len(busy)} rounds started calm."
            if busy
            else ""
        ),
        "",
        "| variant | n | min ms | median ms | p95 ms | max ms |",
        "|---|---|---|---|---|---|",
        *(line(k) for k in keys),
        "",
        "| target | measured | per-round ratio min / median / max | ratio of the minima | result |",
        "|---|---|---|---|---|",
        f"| median(ours) / median(bare) ≤ {TARGET_RATIO} — from source (this environment) "
        f"| **{ratio:.3f}x** (+{m[ours] - m[bare]:.0f} ms) "
        f"| {mmm(per_round, '{:.2f}')} | {min(res[ours]) / min(res[bare]):.3f}x "
        f"| {verdict(ratio <= TARGET_RATIO)} |",
        f"| same, bytecode cached on both sides (a `pip install`ed server) "
        f"| **{ratio_c:.3f}x** (+{m[ours_c] - m[bare_c]:.0f} ms) "
        f"| {mmm(per_round_c, '{:.2f}')} | {min(res[ours_c]) / min(res[bare_c]):.3f}x "
        f"| {verdict(ratio_c <= TARGET_RATIO)} |",
        "",
        f"`python -X importtime -m responses_lsp </dev/null`, {args.importtime} runs, median ms "
        f"(importtime inflates; a shared dependency is charged to whoever imports it first). "
        f"All imports: **{total_imp:.0f} ms** self time in total, of which `responses_lsp.*` "
        f"modules **{own_imp:.0f} ms** (compiled from source on every start here).",
        "",
        f"The bare server's imports total {bare_total:.0f} ms. Modules our server imports at "
        f"startup that the bare one does not: {len(extra)}, {sum(r[1] for r in extra):.0f} ms "
        "self time in total; the top 12 of them by self time:",
        "",
        "| module | self ms | cumulative ms |",
        "|---|---|---|",
        *(
            f"| `{name}` | {s:.1f} | {c:.1f} |"
            for name, s, c in sorted(extra, key=lambda r: -r[1])[:12]
        ),
        "",
        "Top 12 of all imports by self time:",
        "",
        "| module | self ms | cumulative ms |",
        "|---|---|---|",
        *(
            f"| `{name}` | {s:.1f} | {c:.1f} |"
            for name, s, c in sorted(rows, key=lambda r: -r[1])[:12]
        ),
        "",
        "Our own modules and the heavy dependencies (cumulative):",
        "",
        "| module | self ms | cumulative ms |",
        "|---|---|---|",
        *(
            f"| `{name}` | {s:.1f} | {c:.1f} |"
            for name, s, c in sorted(rows, key=lambda r: -r[2])
            if name.startswith("responses_lsp")
            or name in ("lsprotocol.types", "pygls.lsp.server", "httpx", "pydantic", "httpx_sse")
        ),
        "",
        "Not imported at startup (checked): "
        + ", ".join(
            f"`{m}`"
            for m in ("httpx", "httpx_sse", "pydantic", "responses_lsp.api.client")
            if m not in {r[0] for r in rows}
        )
        + ".",
    ]
    text = "\n".join(out)
    print(text)
    checks = [
        (
            f"startup ≤ {TARGET_RATIO}x bare pygls (median spawn → initialize), from source",
            f"{ratio:.3f}x ({m[ours]:.0f} vs {m[bare]:.0f} ms)",
            ratio <= TARGET_RATIO,
        ),
        (
            f"startup ≤ {TARGET_RATIO}x bare pygls, bytecode cached (as installed)",
            f"{ratio_c:.3f}x ({m[ours_c]:.0f} vs {m[bare_c]:.0f} ms)",
            ratio_c <= TARGET_RATIO,
        ),
    ]
    update_section("startup", text, elapsed_s=tm.seconds, checks=checks)


if __name__ == "__main__":
    sys.exit(main())
