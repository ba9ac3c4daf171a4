"""Shared helpers for the benchmark scripts: paths, statistics, documents, machine facts and
the `bench/RESULTS.md` sections each script writes.

Every script prints its table and replaces its own section of RESULTS.md (between
`<!-- bench:NAME -->` markers), with the command that produced it, the date and the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SERVER_DIR = ROOT / "server"
RESULTS = Path(os.environ.get("BENCH_RESULTS") or BENCH / "RESULTS.md")
"""$BENCH_RESULTS: write somewhere else (smoke tests)."""
PY = sys.executable
DUMMY_KEY = "sk-bench-dummy-0123456789"

TITLES = {
    "startup": "1. Startup",
    "code_action": "2. codeAction latency",
    "stream_lag": "3. Streaming lag in Neovim",
    "did_change": "4. didChange on a 1 MB document",
    "memory": "5. Memory",
    "compaction": "6. Session compaction",
    "token_path": "7. Token path (sanitizer + region)",
    "cache": "8. Prompt caching",
    "unite": "9. Side by side with UniteAI 0.3.0",
}
"""Names of the benches in the summary table."""

SECTIONS = [
    "summary",
    "startup",
    "code_action",
    "stream_lag",
    "did_change",
    "memory",
    "compaction",
    "token_path",
    "cache",
    "unite",
]
"""Order of the sections in RESULTS.md."""

HEADER = """# responses-lsp — benchmark results

Reproducible benchmarks of the language server against the targets of issue 3 (`bench/` item) and
the method of `shared/reference/perf-baseline.md`. Each section below was written by the script
named in it, with the exact command, the date and the machine it ran on. `make bench` (which runs
`python bench/run_all.py`) rewrites this file; each script can also be run alone and replaces only
its own section.

**Method.** Every target is measured *in the same run next to its reference*, interleaved, so a
noisy machine moves both: startup and RSS next to a bare pygls 2.x server (`bench/bare_server.py`),
codeAction latency next to the same bare server, didChange cost next to pygls 2.1.1's own
`TextDocument.apply_change`, and the streaming lag in real headless Neovim 0.11.4 next to a
reference pygls server (`bench/ref_server.py`, the baseline's `perf.stream`, "coalesce, 16 ms")
streaming the same tokens; the server's CPU next to httpx + httpx-sse alone reading the same
stream (`bench/sse_floor.py`) and next to UniteAI 0.3.0 on the same job (`bench/unite.py`), as
ratios that hold on any core (issue 16). Cells are **min / median / max over runs** unless a
column says otherwise; percentiles are nearest-rank. The machine is shared and can be noisy:
compare orders of magnitude and ratios, not the second digit.

**PASS/FAIL** compares the *median over runs* with the target (and says so where a target is on
the worst run instead). The lag of a token is measured end to end: from the moment the loopback
Responses server writes the SSE delta carrying it (our server) or the moment the reference server's
producer makes it available, to the moment Neovim has applied an edit after which the buffer
contains it (same CLOCK_MONOTONIC: `time.monotonic_ns()` in Python, `vim.uv.hrtime()` in Neovim).
"""


# ---------------------------------------------------------------------------- statistics


def pct(xs: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (as in the baseline)."""
    s = sorted(xs)
    if not s:
        return float("nan")
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def mmm(xs: Iterable[float], fmt: str = "{:.1f}") -> str:
    """ "min / median / max" of a list of per-run values."""
    v = [x for x in xs if x is not None]
    if not v:
        return "-"
    return " / ".join(fmt.format(x) for x in (min(v), statistics.median(v), max(v)))


def med(xs: Iterable[float]) -> float:
    v = [x for x in xs if x is not None]
    return statistics.median(v) if v else float("nan")


def verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


# ---------------------------------------------------------------------------- documents


def make_doc(n: int) -> str:
    """`n` lines of Python (5,000 lines ≈ 0.36 MB; 14,000 lines ≈ 1.1 MB), as in the baseline
    but at column 0 so the document parses."""
    return "".join(
        f"value_{i} = compute(value_{i - 1}, {i}) + offset  # line {i:06d} of the doc\n"
        for i in range(n)
    )


# ---------------------------------------------------------------------------- processes


_STATE_DIR: str | None = None


def state_dir() -> str:
    """A throw-away session state directory for the servers this process starts."""
    global _STATE_DIR
    if _STATE_DIR is None:
        import atexit
        import shutil
        import tempfile

        _STATE_DIR = tempfile.mkdtemp(prefix="bench-state-")
        atexit.register(shutil.rmtree, _STATE_DIR, True)
    return _STATE_DIR


def sse_floor(base_url: str, timeout: float = 300, script: str = "sse_floor.py") -> dict[str, Any]:
    """The floor of the CPU benches: `bench/sse_floor.py` (httpx + httpx-sse alone, its own
    process, none of our code on its path) reading the stream the loopback at `base_url`
    serves next; its JSON line, or {"error": ...} when it failed. `script="paced_floor.py"`:
    the same stream read by httpx at our server's pace, no LSP (`bench/paced_floor.py`)."""
    out = subprocess.run(
        [PY, str(BENCH / script), base_url],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    if out.returncode != 0:
        return {"error": out.stderr[-500:]}
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def server_env(base_url: str | None = None, **extra: str) -> dict[str, str]:
    """Environment for `python -m responses_lsp` from this checkout (sessions in a temp dir)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "PYTHONPATH")
    }
    env["PYTHONPATH"] = str(SERVER_DIR)
    env["OPENAI_API_KEY"] = DUMMY_KEY
    env["RESPONSES_LSP_LOG"] = "warning"
    env["RESPONSES_LSP_STATE_DIR"] = state_dir()
    if base_url:
        env["OPENAI_BASE_URL"] = base_url
    env.update(extra)
    return env


def bare_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(extra)
    return env


OURS_CMD = [PY, "-m", "responses_lsp"]
BARE_CMD = [PY, "-m", "bare_server"]  # cwd = bench/


def frame(obj: Any) -> bytes:
    b = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % len(b) + b


async def read_frame(r: asyncio.StreamReader) -> tuple[Any, int]:
    """One JSON-RPC message and its size on the wire (header lines + body, as read)."""
    n, head = 0, 0
    while True:
        line = await r.readline()
        if line == b"":
            raise EOFError("server closed stdout")
        head += len(line)
        if line == b"\r\n":
            break
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    return json.loads(await r.readexactly(n)), head + n


async def read_msg(r: asyncio.StreamReader) -> Any:
    return (await read_frame(r))[0]


class RawClient:
    """A minimal JSON-RPC client over a subprocess's stdio (no pygls on the client side).

    Server requests (workspace/configuration, progress create, ...) are answered with what
    `on_request` returns (null here); notifications go to `on_notification` (ignored here).
    """

    name = "server"

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self._id = 0
        self._waiters: dict[int, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.server_requests: dict[str, asyncio.Event] = {}

    def server_request(self, method: str) -> asyncio.Event:
        """Set once the server has sent a request `method` (and it was answered)."""
        return self.server_requests.setdefault(method, asyncio.Event())

    async def start(self, cmd: list[str], cwd: Path, env: dict[str, str]) -> RawClient:
        self.proc = await asyncio.create_subprocess_exec(
            *cmd,
            cwd=str(cwd),
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=2**24,
        )
        self._reader = asyncio.create_task(self._read())
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def on_request(self, msg: dict[str, Any], wire: int) -> Any:
        """The result for a request from the server (`wire`: its bytes on the wire)."""
        del msg, wire
        return None

    def on_notification(self, msg: dict[str, Any]) -> None:
        """A notification from the server."""

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            try:
                msg, wire = await read_frame(self.proc.stdout)
            except (EOFError, asyncio.IncompleteReadError):
                for fut in self._waiters.values():
                    if not fut.done():
                        fut.set_exception(EOFError(f"{self.name} exited"))
                return
            if "id" in msg and "method" in msg:  # a request from the server
                result = self.on_request(msg, wire)
                self._send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
                self.server_request(msg["method"]).set()
            elif "id" in msg:
                fut = self._waiters.pop(msg["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
            else:
                self.on_notification(msg)

    def _send(self, obj: Any) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(frame(obj))

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    async def request(self, method: str, params: Any, wait_s: float = 30.0) -> Any:
        self._id += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters[self._id] = fut
        self._send({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        assert self.proc is not None and self.proc.stdin is not None
        await self.proc.stdin.drain()
        return await asyncio.wait_for(fut, wait_s)

    async def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        try:
            if proc.returncode is None:
                with contextlib.suppress(Exception):
                    await self.request("shutdown", None, wait_s=5)
                    self.notify("exit", None)
                    await asyncio.wait_for(proc.wait(), 5)
        finally:
            if proc.returncode is None:
                import psutil

                with contextlib.suppress(psutil.Error):  # a server's own children first
                    for child in psutil.Process(proc.pid).children(recursive=True):
                        child.kill()
                proc.kill()
                await proc.wait()
            if self._reader is not None:
                self._reader.cancel()
                with contextlib.suppress(BaseException):
                    await self._reader


def rss_kb(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


# ---------------------------------------------------------------------------- machine facts


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def _versions() -> str:
    from importlib.metadata import version

    parts = []
    for dist in ("pygls", "lsprotocol", "pytest-lsp", "httpx", "pydantic", "psutil"):
        with contextlib.suppress(Exception):
            parts.append(f"{dist} {version(dist)}")
    return ", ".join(parts)


def git_revision() -> str:
    """The commit the benchmarked code is at, and whether the working tree differs from it."""
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--abbrev=10"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() or "?"
    except Exception:
        return "?"


def machine_facts() -> str:
    mem_gb = "?"
    with contextlib.suppress(Exception):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = f"{int(line.split()[1]) / 1024 / 1024:.0f} GB"
    load = "?"
    with contextlib.suppress(OSError):
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f'{_os_name()}, nproc {os.cpu_count()}, CPU "{_cpu_model()}", RAM {mem_gb}, '
        f"Python {platform.python_version()}, {_versions()}; "
        f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!s}; "
        f"load average {load}; code at `{git_revision()}`"
    )


def cpu_model_of(machine: str) -> str:
    """The CPU model in a `machine_facts()` line."""
    m = re.search(r'CPU "([^"]*)"', machine)
    return m.group(1) if m else "?"


def nvim_version(nvim: str) -> str:
    try:
        out = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.splitlines()[0]
    except Exception as exc:
        return f"? ({exc})"


def command_line() -> str:
    """The command that ran this script, relative to the repository root."""
    args = [os.path.relpath(PY, ROOT) if PY.startswith(str(ROOT)) else PY]
    script = Path(sys.argv[0]).resolve()
    args.append(os.path.relpath(script, ROOT))
    args += sys.argv[1:]
    return shlex.join(args)


def now_stamp() -> str:
    return _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")


# ---------------------------------------------------------------------------- RESULTS.md


def _marker(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def write_header() -> None:
    """Start a fresh RESULTS.md (run_all): the header only."""
    RESULTS.write_text(HEADER, encoding="utf-8")


def update_section(
    name: str,
    body: str,
    *,
    elapsed_s: float | None = None,
    checks: Sequence[tuple[str, str, bool]] = (),
    produced: tuple[str, str, str] | None = None,
) -> None:
    """Replace (or add, in SECTIONS order) the section `name` of RESULTS.md.

    `checks` (target, measured, passed) also go to $BENCH_SUMMARY_DIR/NAME.json when run_all
    collects them for the summary. `produced` = (command, date, machine) of an earlier
    measurement that this section is re-rendered from.
    """
    summary_dir = os.environ.get("BENCH_SUMMARY_DIR")
    if summary_dir and checks:
        Path(summary_dir, f"{name}.json").write_text(
            json.dumps({"name": name, "checks": [list(c) for c in checks]}), encoding="utf-8"
        )
    elif checks:
        _refresh_summary(name, checks)
    begin, end = _marker(name)
    command, date, machine = produced or (command_line(), now_stamp(), machine_facts())
    stamp = f"`{command}` — {date}"
    if elapsed_s is not None:
        stamp += f" — took {elapsed_s:.0f} s"
    if produced:
        stamp += f" (rendered again by `{command_line()}` — {now_stamp()})"
    text = (
        f"{begin}\n{body.rstrip()}\n\n<sub>Produced by {stamp}. Machine: {machine}.</sub>\n{end}\n"
    )
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    if pattern.search(current):
        current = pattern.sub(lambda _m: text, current)
    else:
        # insert before the first section that comes after `name` in SECTIONS
        later = SECTIONS[SECTIONS.index(name) + 1 :] if name in SECTIONS else []
        pos = len(current)
        for other in later:
            i = current.find(_marker(other)[0])
            if i >= 0:
                pos = min(pos, i)
        sep = (
            ""
            if current[:pos].endswith("\n\n")
            else ("\n" if current[:pos].endswith("\n") else "\n\n")
        )
        current = current[:pos] + sep + text + "\n" + current[pos:]
    RESULTS.write_text(current, encoding="utf-8")


def summary_row(name: str, target: str, measured: str, ok: bool) -> str:
    return f"| {TITLES.get(name, name)} | {target} | {measured} | {verdict(ok)} |"


def summary_count_line(rows: Sequence[str]) -> str:
    passed = sum("**PASS**" in r for r in rows)
    return f"{passed} of {len(rows)} checks pass."


def _refresh_summary(name: str, checks: Sequence[tuple[str, str, bool]]) -> None:
    """A bench run alone: replace its rows in the summary table (if there is one)."""
    if not RESULTS.exists():
        return
    text = RESULTS.read_text(encoding="utf-8")
    begin, end = _marker("summary")
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < 0:
        return
    lines = text[i:j].split("\n")
    title = f"| {TITLES.get(name, name)} |"
    rows_at = [k for k, line in enumerate(lines) if line.startswith("| ")]
    if not rows_at:
        return
    first, last = rows_at[0], rows_at[-1]
    new_rows = [summary_row(name, *c) for c in checks]
    table: list[str] = []
    if any(lines[k].startswith(title) for k in rows_at):
        for line in lines[first : last + 1]:
            if line.startswith(title):
                if not any(r.startswith(title) for r in table):
                    table += new_rows
            else:
                table.append(line)
    else:  # a bench new to this summary: its rows after those of the benches before it
        order = {f"| {TITLES.get(n, n)} |": k for k, n in enumerate(SECTIONS)}
        mine = SECTIONS.index(name) if name in SECTIONS else len(SECTIONS)
        at = 2  # after the header and the |---| line
        table = lines[first : last + 1]
        for k, line in enumerate(table[2:], 2):
            if order.get(line[: line.find(" |", 2) + 2], -1) < mine:
                at = k + 1
        table[at:at] = new_rows
    rest = [line for line in lines[last + 1 :] if not line.startswith("(Rows of ")]
    notes = [line for line in lines[last + 1 :] if line.startswith("(Rows of ")]
    notes = [n for n in notes if not n.startswith(f"(Rows of {TITLES.get(name, name)} ")]
    notes.append(
        f"(Rows of {TITLES.get(name, name)} updated by `{command_line()}` — {now_stamp()}.)"
    )
    while rest and not rest[0].strip():
        rest.pop(0)
    results = [r for r in table if "**PASS**" in r or "**FAIL**" in r]
    rest = [re.sub(r"^\d+ of \d+ checks pass\.", summary_count_line(results), x) for x in rest]
    out = [*lines[:first], *table, "", *notes, "", *rest]
    RESULTS.write_text(text[:i] + "\n".join(out) + text[j:], encoding="utf-8")


def most_in_window(times_ns: Sequence[int], window_ns: float = 1e9) -> int:
    """The most of the sorted `times_ns` that fall in any window of `window_ns` (half-open:
    two events exactly `window_ns` apart are not in one window)."""
    most, j = 0, 0
    for i in range(len(times_ns)):
        while times_ns[i] - times_ns[j] >= window_ns:
            j += 1
        most = max(most, i - j + 1)
    return most


def wait_calm(limit_s: float, busy_pct: float = 25.0, window_s: float = 2.0) -> tuple[float, float]:
    """Wait (at most `limit_s`) until the whole machine is less than `busy_pct` busy over
    `window_s`. Returns (last busy %, seconds waited). Polling is the only way to observe the
    load other processes put on a shared machine."""
    import psutil

    t0 = time.monotonic()
    while True:
        busy = float(psutil.cpu_percent(interval=window_s))
        waited = time.monotonic() - t0
        if busy < busy_pct or waited >= limit_s:
            return busy, waited


class Timer:
    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
