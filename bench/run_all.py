"""Run every benchmark in sequence and rewrite bench/RESULTS.md (what `make bench` does).

    python bench/run_all.py [--quick] [--only startup,stream_lag,...] [--no-profile]

Order: startup, codeAction, streaming lag (real headless Neovim), didChange, memory, then the
session-compaction benchmark (`bench/compaction.py`, its printed tables go into their own
section), the prompt-caching benchmark (`bench/cache.py`) and UniteAI 0.3.0 side by side
(`bench/unite.py`; it creates UniteAI's own venv under .cache on first use). RESULTS.md
starts over with the header; each script writes its own section; a summary of every target
(PASS/FAIL) goes on top. A script that fails does not stop the others: its section says so.
`--quick` runs fewer rounds (a smoke test, not for the record).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (
    BENCH,
    PY,
    RESULTS,
    ROOT,
    TITLES,
    machine_facts,
    now_stamp,
    summary_count_line,
    summary_row,
    update_section,
    write_header,
)

FULL = {
    "startup": ["--rounds", "30", "--importtime", "7"],
    "code_action": ["--runs", "5", "--requests", "500"],
    "stream_lag": ["--runs", "3"],
    "did_change": ["--rounds", "3", "--changes", "1000"],
    "memory": ["--runs", "3"],
    "compaction": [],
    "token_path": ["--rounds", "3"],
    "cache": [],
    "unite": ["--runs", "3"],
}
QUICK = {
    "startup": ["--rounds", "5", "--importtime", "2"],
    "code_action": ["--runs", "1", "--requests", "200"],
    "stream_lag": ["--runs", "1", "--quick"],
    "did_change": ["--rounds", "1", "--changes", "200"],
    "memory": ["--runs", "1"],
    "compaction": ["--turns", "60"],
    "token_path": ["--rounds", "1"],
    "cache": [],
    "unite": ["--runs", "1", "--quick"],
}
TIMEOUT_S = {
    "startup": 900,
    "code_action": 900,
    "stream_lag": 1800,
    "did_change": 900,
    "memory": 600,
    "compaction": 900,
    "token_path": 600,
    "cache": 600,
    "unite": 1200,
}


def run_one(name: str, args: list[str], summary_dir: str) -> tuple[int, str, float]:
    script = BENCH / f"{name}.py"
    env = dict(os.environ, BENCH_SUMMARY_DIR=summary_dir)
    t0 = time.perf_counter()
    print(f"=== {name}: {script.name} {' '.join(args)}", flush=True)
    try:
        proc = subprocess.run(
            [PY, str(script), *args],
            cwd=str(ROOT),
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S[name],
        )
        rc, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:  # subprocess.run kills the child
        rc, out = -1, f"timed out after {exc.timeout} s\n{exc.stdout or ''}{exc.stderr or ''}"
    print(out[-3000:], flush=True)
    return rc, out, time.perf_counter() - t0


def compaction_section(out: str, args: list[str], seconds: float) -> None:
    """compaction.py prints markdown; keep its tables and totals in a section of our own."""
    keep = [line for line in out.splitlines() if line.strip() and not line.startswith("plot:")]
    cmd = " ".join(
        [
            os.path.relpath(PY, ROOT) if PY.startswith(str(ROOT)) else PY,
            "bench/compaction.py",
            *args,
        ]
    )
    body = "\n".join(
        [
            "## 6. Session compaction (bench/compaction.py)",
            "",
            "Tokens sent per request over a long session, with and without automatic compaction "
            "(written by `bench/compaction.py`, captured here by run_all; plot: "
            "`bench/compaction.png`).",
            "",
            *keep,
            "",
            f"<sub>Output of `{cmd}` — {now_stamp()} — took {seconds:.0f} s.</sub>",
        ]
    )
    update_section("compaction", body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds: a smoke test")
    ap.add_argument("--only", default="", help="comma-separated subset of " + ",".join(FULL))
    ap.add_argument("--no-profile", action="store_true", help="skip the py-spy pass")
    args = ap.parse_args()
    plan = QUICK if args.quick else FULL
    names = [n for n in plan if not args.only or n in args.only.split(",")]
    write_header()
    status: dict[str, tuple[int, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-summary-") as summary_dir:
        for name in names:
            bench_args = list(plan[name])
            if (
                name == "stream_lag"
                and not args.no_profile
                and (Path(PY).parent / "py-spy").exists()
            ):
                bench_args.append("--profile")
            if name == "compaction":
                if not (BENCH / "compaction.py").exists():
                    continue
                bench_args += ["--png", str(RESULTS.with_name("compaction.png"))]
            rc, out, seconds = run_one(name, bench_args, summary_dir)
            status[name] = (rc, seconds)
            if name == "compaction" and rc == 0:
                compaction_section(out, bench_args, seconds)
            elif rc != 0:
                tail = "\n".join(out.strip().splitlines()[-25:])
                update_section(
                    name,
                    f"## {TITLES[name]}\n\n**The benchmark failed** (exit status {rc}); the "
                    f"last lines of its output:\n\n```\n{tail}\n```",
                )
        checks = []
        for name in names:
            f = Path(summary_dir, f"{name}.json")
            if f.exists():
                checks += [(name, *c) for c in json.loads(f.read_text())["checks"]]
    rows = [summary_row(n, target, measured, ok) for n, target, measured, ok in checks]
    failed_runs = [f"{TITLES[n]} (exit {rc})" for n, (rc, _) in status.items() if rc != 0]
    body = "\n".join(
        [
            "## Summary",
            "",
            f"`make bench` / `python bench/run_all.py{' --quick' if args.quick else ''}` — "
            f"{now_stamp()}. Machine: {machine_facts()}.",
            "",
            "| bench | target | measured | result |",
            "|---|---|---|---|",
            *rows,
            "",
            summary_count_line(rows)
            + (f" Benchmarks that did not finish: {', '.join(failed_runs)}." if failed_runs else "")
            + " Details, references and analysis in the sections below.",
        ]
    )
    update_section("summary", body)
    print(body)
    sys.exit(1 if failed_runs else 0)


if __name__ == "__main__":
    main()
