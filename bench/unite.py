"""UniteAI 0.3.0 side by side with our server: the same stream, the same client (issue 16).

    python bench/unite.py [--runs 3] [--quick] [--no-typing] [--profile] [--from-json PATH]

UniteAI (PyPI `uniteai`, the other pygls server that streams an answer into the buffer) runs
from its own virtualenv, `.cache/uniteai-venv`, which this script creates on first use (pinned:
`uniteai==0.3.0`, `pygls<2`, `openai<1` and the document extras its start-up imports (pypdf,
beautifulsoup4, nbformat); like the gateway tier's LiteLLM venv, it must not leak into the
product's environment). UniteAI speaks chat completions (`openai<1`'s
`ChatCompletion.create(stream=True)`, base URL from `OPENAI_API_BASE`); our server speaks the
Responses API. The bench's own stand-in, the project's loopback server plus a chat-completions
route of this file's own (the product never calls chat completions), streams **the same text in
the same chunks at the same pace** to both: 2,073 chars and 8,301 chars (the deterministic code
tokens of `bench/tokens.py`, ~2.5 chars each) at 200 chunks/s, one chunk per SSE event, each
event one HTTP chunk.

The client is this script (asyncio, JSON-RPC over the server's stdio) and behaves like VS Code:
utf-16 positions, `documentChanges` with versions, an edit whose version is not the buffer's
is answered `applied: false`, and an applied edit's `didChange` is written before the answer.
Every job is run again while a person types 8 keys/s at the start of the file (`--no-typing`:
not).
`--profile` then profiles our server (cProfile) on 2,000 tokens at 2,000 tok/s. Both servers are
started once per run, get one warm-up job, then the jobs alternate (who goes first rotates per
run), each on a freshly opened document.

Per job: server CPU = psutil `cpu_times()` user + system of the server process (and children)
from the `workspace/executeCommand` request to the job's end (ours: `responsesLsp/jobDone`;
UniteAI: its closing edit, the one that removes its block tags); applyEdit count, applyEdit
wire bytes (JSON-RPC header + body as read), `newText` bytes; the lag of chunk i = (when the
client had applied an edit after which the buffer holds the answer through chunk i) - (when the
stand-in wrote chunk i); final text correct = the buffer at the end is exactly what the server
means to produce (ours: the region replaced by the answer; UniteAI: its block, tags removed,
below the selection). Next to them, the floor: `bench/sse_floor.py` (httpx + httpx-sse alone,
its own process) reading the same Responses stream.

Targets (issue 16), each a PASS/FAIL row of the summary: server CPU per job ≤ 0.5x UniteAI's on
the same job (2,073 and 8,301 chars, no typing; ours / UniteAI per run, median over runs);
median lag ≤ 1/5 of UniteAI's, with and without typing (per-run ratio, median over runs);
applyEdit wire bytes per job ≤ UniteAI's on the 2,073-char job (per-run ratio, median); ≤ 30
applyEdit requests in any 1 s window of every job of ours (refused ones count); every job of
ours ends with exactly the right text. The metrics go to `unite.json` next to RESULTS.md;
`--from-json` writes the section again from such a file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from common import (
    PY,
    RESULTS,
    ROOT,
    SERVER_DIR,
    RawClient,
    Timer,
    command_line,
    cpu_model_of,
    machine_facts,
    med,
    mmm,
    most_in_window,
    now_stamp,
    pct,
    server_env,
    sse_floor,
    update_section,
    verdict,
)
from tokens import token

sys.path.insert(0, str(SERVER_DIR))
from responses_lsp.loopback import LoopbackServer, RecordedRequest, Reply
from responses_lsp.loopback.handler import LoopbackHandler

UNITE_VERSION = "0.3.0"
UNITE_PINS = [
    f"uniteai=={UNITE_VERSION}",
    "pygls<2",
    "openai<1",
    "pypdf",
    "beautifulsoup4",
    "nbformat",
]
"""UniteAI's `common.py` imports three of its `document-chat` extras at start-up (pypdf, bs4,
nbformat); the rest of that extra (sentence-transformers, i.e. torch) only its document module
uses, which this bench does not load."""
UNITE_VENV = ROOT / ".cache" / "uniteai-venv"
UNITE_STAMP = UNITE_VENV / f".installed-{UNITE_VERSION}"
UNITE_START, UNITE_END = ":START_OPENAI:", ":END_OPENAI:"
CHAT_PATH = "/v1/chat/completions"
RATE = 200  # chunks per second
UNITE_CLOSE_S = 3.0  # UniteAI's closing edit comes within 3 edit-loop ticks of the stream end
KEYS_PER_S = 8  # the person typing during the typing jobs
SIZES = (2073, 8301)  # chars of the answer
WARM_SIZE = 300
ACTION = "refactor-to-async"
HEAD = "import os\n\nvalue = os.getcwd()\n"
REGION = "@bench_decorator\ndef old_function(x, y):\n    return x + y\n"
TAIL = "\n\nprint(old_function(1, 2))\nprint(value)\n"
REGION_LINE = HEAD.count("\n")
REGION_LINES = REGION.count("\n")


# ---------------------------------------------------------------------------- UniteAI's venv


def ensure_unite() -> Path:
    """UniteAI's own virtualenv under .cache (created once; the stamp names the version)."""
    exe = UNITE_VENV / "bin" / "uniteai_lsp"
    if UNITE_STAMP.exists() and exe.exists():
        return exe
    print(f"installing UniteAI {UNITE_VERSION} into {UNITE_VENV} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(UNITE_VENV)], check=True)
    pip = [str(UNITE_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, *UNITE_PINS], check=True)
    UNITE_STAMP.write_text(" ".join(UNITE_PINS) + "\n", encoding="utf-8")
    return exe


def unite_versions() -> str:
    if not (UNITE_VENV / "bin" / "python").exists():
        return "uniteai ?"
    out = subprocess.run(
        [str(UNITE_VENV / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        have = {p["name"].lower(): p["version"] for p in json.loads(out.stdout)}
    except ValueError:
        return "?"
    return ", ".join(f"{n} {have.get(n, '?')}" for n in ("uniteai", "pygls", "openai"))


# ---------------------------------------------------------------------------- the stand-in


def chunks_for(n_chars: int) -> list[str]:
    """The first `n_chars` of the token stream, one token per chunk (the last one cut)."""
    out: list[str] = []
    total, i = 0, 0
    while total < n_chars:
        tok = token(i)[: n_chars - total]
        out.append(tok)
        total += len(tok)
        i += 1
    return out


class StandInHandler(LoopbackHandler):
    """The loopback's handler plus a chat-completions route (for UniteAI only)."""

    def _dispatch(self, owner: LoopbackServer, request: RecordedRequest) -> None:
        if request.method == "POST" and request.path == CHAT_PATH:
            assert isinstance(owner, StandIn)
            self._chat(owner, request)
            return
        super()._dispatch(owner, request)

    def _chunk(self, data: bytes) -> None:
        """One SSE frame as one HTTP chunk (as the loopback writes its Responses frames)."""
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def _chat(self, owner: StandIn, request: RecordedRequest) -> None:
        """`openai<1`'s stream: `data: {chat.completion.chunk}` frames, then `data: [DONE]`;
        paced as the loopback paces Responses deltas (one every 1/rate s, on a fixed grid)."""
        chunks, rate = owner.current
        owner._update(request, status=200, reply_kind="chat")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0}
        base["model"] = str((request.body or {}).get("model") or "gpt-3.5-turbo")

        def frame(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return b"data: " + json.dumps({**base, "choices": [choice]}).encode() + b"\n\n"

        self._chunk(frame({"role": "assistant", "content": ""}))
        interval, next_at = 1.0 / rate, None
        times = owner.chat_times
        for piece in chunks:
            if next_at is not None:
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            next_at = (time.monotonic() if next_at is None else next_at) + interval
            times.append(time.monotonic_ns())
            self._chunk(frame({"content": piece}))
        self._chunk(frame({}, "stop"))
        self._chunk(b"data: [DONE]\n\n")
        owner._update(request, completed=True)
        self.wfile.write(b"0\r\n\r\n")


class TimedEvents(list):  # type: ignore[type-arg]
    """`RecordedRequest.sent_events` recording when each Responses delta was written."""

    def __init__(self, times: list[int]) -> None:
        super().__init__()
        self.times = times

    def append(self, item: Any) -> None:
        if isinstance(item, dict) and item.get("type") == "response.output_text.delta":
            self.times.append(time.monotonic_ns())
        super().append(item)


class StandIn(LoopbackServer):
    """Serves the job set in `current` (chunks, rate) on both routes and records the write time
    of every chunk (`chat_times` / `responses_times`, cleared per job)."""

    handler_class = StandInHandler

    def __init__(self) -> None:
        super().__init__()
        self.current: tuple[list[str], float] = (chunks_for(WARM_SIZE), RATE)
        self.chat_times: list[int] = []
        self.responses_times: list[int] = []
        self.responder = self._respond

    def _respond(self, request: RecordedRequest) -> Reply:
        chunks, rate = self.current
        text = json.dumps(request.body or {})
        if "bench_sse_floor_warm" in text:
            chunks = chunks_for(WARM_SIZE)
        return Reply.text("".join(chunks), chunks=[len(c) for c in chunks], pace_tps=rate)

    def _record(self, request: RecordedRequest) -> None:
        request.sent_events = TimedEvents(self.responses_times)
        super()._record(request)

    def set_job(self, chunks: list[str], rate: float) -> None:
        self.current = (chunks, rate)
        self.chat_times.clear()
        self.responses_times.clear()


# ---------------------------------------------------------------------------- the client


def _offset(text: str, line: int, char: int) -> int:
    """utf-16 (line, character) -> str index (the bench's texts are ASCII)."""
    pos = 0
    for _ in range(line):
        nl = text.find("\n", pos)
        if nl < 0:
            return len(text)
        pos = nl + 1
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    return min(pos + char, end)


@dataclass
class Job:
    uri: str
    text: str
    version: int
    expected_answer: str  # the answer text the buffer should hold (for the lag)
    expected_final: str
    where: str  # "ours" | "unite": how to find the answer in the buffer
    applied: list[tuple[int, int]] = field(default_factory=list)  # (ns, answer chars present)
    received: list[int] = field(default_factory=list)  # ns of every applyEdit (refused too)
    edits: int = 0
    refused: int = 0
    wire_bytes: int = 0
    new_text_bytes: int = 0
    seen_tags: bool = False
    typed: int = 0  # keys the "person" typed at the start of line 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def answer_present(self) -> int:
        if self.where == "ours":
            start = self.typed + len(HEAD)
        else:
            i = self.text.find(UNITE_START)
            if i < 0:
                return -1
            self.seen_tags = True
            start = i + len(UNITE_START) + 1  # the block is "\n" + answer + "\n"
        have = self.text[start : start + len(self.expected_answer)]
        return len(os.path.commonprefix([have, self.expected_answer]))  # noqa: RUF071 (chars)


class Editor(RawClient):
    """A VS Code-like LSP client over a server's stdio (see the module docstring): common.py's
    raw JSON-RPC client, answering `workspace/applyEdit` as VS Code does."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.ps: psutil.Process | None = None
        self.job: Job | None = None
        self.jobs_done: dict[Any, asyncio.Event] = {}

    async def start(self, cmd: list[str], cwd: Path, env: dict[str, str]) -> Editor:
        await super().start(cmd, cwd, env)
        self.ps = psutil.Process(self.pid)
        await self.call(
            "initialize",
            {
                "processId": os.getpid(),
                "clientInfo": {"name": "Visual Studio Code", "version": "1.95.0"},
                "rootUri": cwd.as_uri(),
                "capabilities": {
                    "general": {"positionEncodings": ["utf-16"]},
                    "workspace": {
                        "applyEdit": True,
                        "workspaceEdit": {"documentChanges": True},
                        "executeCommand": {},
                    },
                    "textDocument": {"synchronization": {"didSave": True}, "codeAction": {}},
                },
                # no parse check: UniteAI has none, and the bench's answer is no valid Python
                # (with the default `restore` our server would take it back after a repair turn)
                "initializationOptions": {
                    "clientFeatures": {"jobDone": True},
                    "responsesLsp": {"syntaxCheck": "off"},
                },
            },
            wait_s=120,
        )
        self.notify("initialized", {})
        return self

    async def call(self, method: str, params: Any, wait_s: float = 30.0) -> Any:
        """A request's result (an error response raises)."""
        msg = await self.request(method, params, wait_s)
        if "error" in msg:
            raise RuntimeError(f"{self.name} {method}: {msg['error']}")
        return msg.get("result")

    def cpu(self) -> float:
        assert self.ps is not None
        total = 0.0
        for p in [self.ps, *self.ps.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def on_request(self, msg: dict[str, Any], wire: int) -> Any:
        if msg["method"] == "workspace/applyEdit":
            return self._apply(msg["params"], wire)
        return None

    def on_notification(self, msg: dict[str, Any]) -> None:
        if msg.get("method") == "responsesLsp/jobDone":
            job_id = (msg.get("params") or {}).get("jobId")
            self.jobs_done.setdefault(job_id, asyncio.Event()).set()

    def _apply(self, params: dict[str, Any], wire: int) -> dict[str, Any]:
        """VS Code: a stale version is refused; an applied edit's didChange goes out first."""
        job = self.job
        if job is None:
            return {"applied": False, "failureReason": "no document"}
        job.received.append(time.monotonic_ns())
        job.wire_bytes += wire
        changes = []
        for dc in params["edit"].get("documentChanges") or []:
            version = (dc.get("textDocument") or {}).get("version")
            if dc["textDocument"]["uri"] != job.uri or (
                version is not None and version != job.version
            ):
                job.refused += 1
                return {"applied": False, "failureReason": "document version changed"}
            changes += dc["edits"]
        for uri, edits in (params["edit"].get("changes") or {}).items():
            if uri == job.uri:
                changes += edits
        job.edits += 1
        # edits of one TextDocumentEdit refer to the text before any of them: apply last first
        spans = []
        for e in changes:
            r = e["range"]
            a = _offset(job.text, r["start"]["line"], r["start"]["character"])
            b = _offset(job.text, r["end"]["line"], r["end"]["character"])
            spans.append((a, b, e["newText"], r))
            job.new_text_bytes += len(e["newText"].encode())
        for a, b, new, _r in sorted(spans, key=lambda s: s[0], reverse=True):
            job.text = job.text[:a] + new + job.text[b:]
        job.version += 1
        self.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": job.uri, "version": job.version},
                "contentChanges": [
                    {"range": r, "text": new}
                    for _a, _b, new, r in sorted(spans, key=lambda s: s[0], reverse=True)
                ],
            },
        )
        job.applied.append((time.monotonic_ns(), job.answer_present()))
        if job.where == "unite" and job.seen_tags and UNITE_START not in job.text:
            job.done.set()  # its closing edit removed the block's tags
        return {"applied": True}

    def type_key(self) -> None:
        """The person types one character at the start of the file (line numbers unchanged)."""
        job = self.job
        if job is None:
            return
        job.text = "x" + job.text
        job.typed += 1
        job.version += 1
        at = {"line": 0, "character": 0}
        self.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": job.uri, "version": job.version},
                "contentChanges": [{"range": {"start": at, "end": at}, "text": "x"}],
            },
        )


def unite_final(text: str, answer: str) -> str:
    """What UniteAI 0.3.0 leaves when every edit applies: its tags inserted at the start of the
    line after the selection's end line (`init_block`: no line break after them), the block
    between them replaced by "\\n" + answer + "\\n", then the tags deleted (`cleanup_block`)."""
    lines = text.split("\n")
    at = REGION_LINE + REGION_LINES + 1  # the selection ends at (REGION_LINE + REGION_LINES, 0)
    lines[at] = UNITE_START + "\n" + UNITE_END + lines[at]
    text = "\n".join(lines)
    a = text.index(UNITE_START) + len(UNITE_START)
    b = text.index(UNITE_END)
    text = text[:a] + "\n" + answer + "\n" + text[b:]
    return text.replace(UNITE_START, "", 1).replace(UNITE_END, "", 1)


async def run_job(
    ed: Editor,
    kind: str,
    api: StandIn,
    root: Path,
    name: str,
    chunks: list[str],
    *,
    rate: float = RATE,
    typing: bool = False,
) -> dict[str, Any]:
    answer = "".join(chunks)
    path = root / f"{name}.py"
    text = HEAD + REGION + TAIL
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    if kind == "ours":
        ours_answer = answer if answer.endswith("\n") else answer + "\n"  # the sanitizer's
        job = Job(uri, text, 1, ours_answer, HEAD + ours_answer + TAIL, "ours")
    else:
        job = Job(uri, text, 1, answer, unite_final(text, answer), "unite")
    ed.job = job
    ed.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
    )
    rng = {
        "start": {"line": REGION_LINE, "character": 0},
        "end": {"line": REGION_LINE + REGION_LINES, "character": 0},
    }
    actions = await ed.call(
        "textDocument/codeAction",
        {"textDocument": {"uri": uri}, "range": rng, "context": {"diagnostics": []}},
    )
    command = None
    for a in actions or []:
        c = a.get("command") or {}
        args = c.get("arguments") or []
        if (
            kind == "ours"
            and args
            and isinstance(args[0], dict)
            and args[0].get("action") == ACTION
        ):
            command = c
        if kind == "unite" and a.get("title") == "OpenAI ChatGPT":
            command = c
    assert command, f"{kind}: action not offered: {actions}"
    api.set_job(chunks, rate)
    timeout = len(chunks) / rate + 60
    cpu0 = ed.cpu()
    t0 = time.monotonic()

    async def typist() -> None:
        while True:
            await asyncio.sleep(1 / KEYS_PER_S)
            ed.type_key()

    typing_task = asyncio.create_task(typist()) if typing else None
    res = await ed.call(
        "workspace/executeCommand",
        {"command": command["command"], "arguments": command["arguments"]},
        wait_s=timeout,
    )
    outcome = "?"
    try:
        if kind == "ours":
            job_id = (res or {}).get("jobId")
            await asyncio.wait_for(ed.jobs_done.setdefault(job_id, asyncio.Event()).wait(), timeout)
            outcome = "done"
        else:
            # UniteAI takes an `applied: false` for success: a refused closing edit is never
            # sent again and its tags stay. Its end is then "3 s after the stream, no close".
            deadline = time.monotonic() + timeout
            last = None
            while not job.done.is_set():
                if len(api.chat_times) >= len(chunks):
                    last = last or time.monotonic()
                    if time.monotonic() - last > UNITE_CLOSE_S:
                        outcome = "tags left"
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError
                await asyncio.sleep(0.02)
            else:
                outcome = "done"
    except TimeoutError:
        outcome = "timeout"
    if typing_task is not None:
        typing_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await typing_task
    cpu = ed.cpu() - cpu0
    wall = time.monotonic() - t0
    await asyncio.sleep(0.3)  # anything late (a stray edit) still counts for correctness
    ed.job = None
    ed.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    times = list(api.responses_times if kind == "ours" else api.chat_times)
    ends, total = [], 0
    for c in chunks:
        total += len(c)
        ends.append(total)
    lags: list[float] = []
    for end, sent in zip(ends, times, strict=False):
        seen = next((t for t, have in job.applied if have >= end), None)
        if seen is not None:
            lags.append((seen - sent) / 1e6)
    first = job.applied[0][0] if job.applied else None
    span = ((job.applied[-1][0] - first) / 1e9) if first is not None else 0.0
    return {
        "name": name,
        "server": kind,
        "chars": len(answer),
        "outcome": outcome,
        "cpu": cpu,
        "wall": wall,
        "edits": job.edits,
        "refused": job.refused,
        "edits_per_s": job.edits / span if span > 0 else float("nan"),
        "edits_1s": most_in_window(job.received),
        "requests": len(job.received),
        "wire_bytes": job.wire_bytes,
        "new_text_bytes": job.new_text_bytes,
        "lag_med": statistics.median(lags) if lags else float("nan"),
        "lag_p95": pct(lags, 95),
        "lags_n": len(lags),
        "chunks": len(chunks),
        "sent_n": len(times),
        "typing": typing,
        "typed": job.typed,
        "ok": job.text == "x" * job.typed + job.expected_final,
        "diff": _first_diff(job.text, "x" * job.typed + job.expected_final),
    }


PROFILED = """
import cProfile, runpy, signal, sys, time
out = sys.argv.pop(1)
prof = cProfile.Profile(time.process_time)  # CPU time: a wait in select() costs nothing
on = [False]
def toggle(*_):
    if on[0]:
        prof.disable()
        prof.dump_stats(out)
    else:
        prof.enable()
    on[0] = not on[0]
signal.signal(signal.SIGUSR1, toggle)
sys.argv[0] = "responses_lsp"
runpy.run_module("responses_lsp", run_name="__main__", alter_sys=True)
"""
"""`python -c PROFILED OUT`: our server, with cProfile (CPU clock) on the main thread between
two SIGUSR1s, its stats dumped to OUT at the second."""


def _profile_category(filename: str, func: str) -> str:
    """The category of one profiled function (the taxonomy of stream_lag.py's py-spy pass)."""
    from stream_lag import _category

    if "site-packages/" in filename:
        cat = _category(filename.split("site-packages/", 1)[1])
    elif "/server/responses_lsp/" in filename:
        cat = _category("responses_lsp/" + filename.split("/server/responses_lsp/", 1)[1])
    else:
        cat = None
    if cat is not None:
        return cat
    name = f"{filename} {func}"
    if "json" in name:
        return "json (stdlib)"
    if any(k in name for k in ("asyncio", "selectors", "epoll", "select")):
        return "event loop (asyncio, selectors; stdlib)"
    if any(k in name for k in ("socket", "recv", "send", "ssl")):
        return "sockets (stdlib)"
    return "other stdlib and builtins"


def profile_summary(path: Path, top: int = 15) -> tuple[list[tuple[str, float]], list[str]]:
    """(CPU seconds per category, the `top` functions by own time) of a cProfile dump."""
    import pstats

    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    cats: dict[str, float] = {}
    rows = []
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in stats.items():
        cat = _profile_category(filename, func)
        cats[cat] = cats.get(cat, 0.0) + tt
        short = filename.split("site-packages/")[-1].split("/server/")[-1]
        rows.append(
            (tt, f"`{short}:{line}({func})` — own {tt:.3f} s, cum {ct:.3f} s, {nc:,} calls")
        )
    rows.sort(reverse=True)
    return sorted(cats.items(), key=lambda kv: -kv[1]), [r for _, r in rows[:top]]


async def profile_pass(api: StandIn, root: Path, n_tokens: int, rate: float) -> dict[str, Any]:
    """Our server under cProfile streaming `n_tokens` tokens at `rate` tok/s (one warm-up job
    first, not profiled), next to the floor reading the same stream."""
    out = root / "ours.prof"
    ed = Editor("ours")
    chunks = [token(i) for i in range(n_tokens)]
    try:
        await ed.start([PY, "-c", PROFILED, str(out)], root, server_env(api.base_url))
        await run_job(ed, "ours", api, root, "prof_warm", chunks_for(WARM_SIZE))
        assert ed.proc is not None
        ed.proc.send_signal(signal.SIGUSR1)
        await asyncio.sleep(0.2)
        r = await run_job(ed, "ours", api, root, "prof_job", chunks, rate=rate)
        ed.proc.send_signal(signal.SIGUSR1)
        for _ in range(100):
            if out.exists():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # the dump is written at once, but let it finish
    finally:
        await ed.stop()
    api.set_job(chunks, rate)
    floor = await asyncio.to_thread(floor_of, api.base_url)
    cats, top = profile_summary(out)
    return {"job": r, "floor": floor, "cats": cats, "top": top, "n": n_tokens, "rate": rate}


def _first_diff(got: str, want: str) -> str:
    """Where the final text differs from the expected one (for the JSON), or ""."""
    if got == want:
        return ""
    i = len(os.path.commonprefix([got, want]))  # noqa: RUF071 (chars)
    return f"at {i}: got {got[max(0, i - 40) : i + 80]!r}, want {want[max(0, i - 40) : i + 80]!r}"


def floor_of(base_url: str, script: str = "sse_floor.py") -> dict[str, Any]:
    """The floor on the loopback's current job (it must have run: every ratio needs it)."""
    floor = sse_floor(base_url, script=script)
    if "error" in floor:
        raise RuntimeError(f"bench/{script} failed: {floor['error']}")
    return floor


# ---------------------------------------------------------------------------- main


async def measure(args: argparse.Namespace, unite_exe: Path) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    floors: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-unite-") as tmp, StandIn() as api:
        root = Path(tmp)
        (root / ".uniteai.yml").write_text(
            "modules:\n  - uniteai.openai\n"
            "openai:\n  completion_engine: text-davinci-003\n  chat_engine: gpt-3.5-turbo\n"
            "  max_length: 4000\n  api_key: sk-bench-dummy-0123456789\n",
            encoding="utf-8",
        )
        unite_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
        unite_env["OPENAI_API_BASE"] = api.base_url + "/v1"
        unite_env.pop("OPENAI_API_KEY", None)
        sizes = SIZES[:1] if args.quick else SIZES
        modes = [False, True] if args.typing else [False]
        for run in range(args.runs):
            eds = {"ours": Editor("ours"), "unite": Editor("unite")}
            try:
                await eds["ours"].start([PY, "-m", "responses_lsp"], root, server_env(api.base_url))
                await eds["unite"].start([str(unite_exe), "--stdio"], root, unite_env)
                order = ["ours", "unite"] if run % 2 == 0 else ["unite", "ours"]
                for kind in order:  # warm-up (not reported)
                    await run_job(
                        eds[kind], kind, api, root, f"warm_{kind}_{run}", chunks_for(WARM_SIZE)
                    )
                for size, typing in [(z, t) for z in sizes for t in modes]:
                    for kind in order:
                        name = f"job_{kind}_{size}_{'typing' if typing else 'calm'}_{run}"
                        r = await run_job(
                            eds[kind], kind, api, root, name, chunks_for(size), typing=typing
                        )
                        r["run"] = run
                        results.append(r)
                        print(
                            f"  run {run + 1} {kind:5} {size:5} chars"
                            f"{' typing' if typing else ''}: cpu {r['cpu']:.2f} s, "
                            f"{r['edits']} edits ({r['refused']} refused), "
                            f"wire {r['wire_bytes']:,} B, "
                            f"newText {r['new_text_bytes']:,} B, lag med {r['lag_med']:.1f} / "
                            f"p95 {r['lag_p95']:.1f} ms, {r['outcome']}, ok={r['ok']}",
                            flush=True,
                        )
                    if typing:
                        continue
                    api.set_job(chunks_for(size), RATE)
                    f = await asyncio.to_thread(floor_of, api.base_url)
                    paced = await asyncio.to_thread(floor_of, api.base_url, "paced_floor.py")
                    f["chars"], f["run"], f["paced"] = size, run, paced
                    floors.append(f)
                    print(
                        f"  run {run + 1} floor {size:5} chars: cpu {f['cpu_s']:.2f} s; "
                        f"paced (httpx at our pace, no LSP) {paced['cpu_s']:.2f} s, "
                        f"{paced['reads']} reads",
                        flush=True,
                    )
            finally:
                for ed in eds.values():
                    await ed.stop()
        profile = None
        if args.profile:
            profile = await profile_pass(api, root, 2000, 2000)
            print(f"  profile: cpu {profile['job']['cpu']:.2f} s", flush=True)
    return {"results": results, "floors": floors, "profile": profile}


CPU_VS_UNITE, LAG_VS_UNITE, WIRE_VS_UNITE, EDITS_PER_S = 0.5, 0.2, 1.0, 30
"""Issue 16's targets against UniteAI in the same run, and the edit-rate ceiling."""


def job_label(size: int, typing: bool) -> str:
    return f"{size:,} chars" + (f", typing {KEYS_PER_S} keys/s" if typing else "")


def report(
    data: dict[str, Any],
    seconds: float | None,
    produced: tuple[str, str, str] | None = None,
) -> None:
    """Section 9 of RESULTS.md and its PASS/FAIL rows (`produced`: the command, date and
    machine of the measurement, when it is rendered again from unite.json)."""
    rs, floors = data["results"], data["floors"]
    versions = data.get("unite_versions") or unite_versions()
    cpu_name = cpu_model_of(produced[2] if produced else machine_facts())
    runs = sorted({r["run"] for r in rs})
    lines = [
        "## 9. Side by side with UniteAI 0.3.0 (bench/unite.py)",
        "",
        f"The same answer streamed to our server (Responses API) and to UniteAI "
        f"({versions}; chat completions) by the bench's own stand-in: same chunks, "
        f"{RATE} chunks/s, one chunk per SSE event; one VS Code-like client (stale versions "
        "refused, didChange before the answer); runs interleaved, who goes "
        f"first rotates per run. {len(runs)} run(s); cells are min / median / max over runs. "
        "Floor = `bench/sse_floor.py` (httpx + httpx-sse alone, its own process) reading the "
        "same Responses stream in the same run. Paced floor = `bench/paced_floor.py`: the HTTP "
        "side of our server alone — httpx reading the same stream at our pace (one socket read "
        "per 34 ms edit window, through `api.pacing`), split by `api.sse`, `json.loads` per "
        "event — no LSP, no editing: what any server on this HTTP stack pays at the edit rate "
        "the lag targets need, before it does anything else. Lag of our server includes the "
        "sanitizer holding each line break until the next chunk (one chunk interval, 5 ms). "
        f"The typing jobs: a person types {KEYS_PER_S} keys/s at the start of the file for the "
        "whole job (a didChange per key; our edits refused while stale). applyEdits counts the "
        "edits applied; 'most in any 1 s' counts every applyEdit request (refused ones too).",
        "",
        "| answer | server | server CPU (s) | applyEdits | applyEdits/s | most in any 1 s "
        "| applyEdit wire bytes | newText bytes | lag median (ms) | lag p95 (ms) "
        "| final text correct |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups = sorted({(r["chars"], r["typing"]) for r in rs})
    for size, typing in groups:
        label_job = job_label(size, typing)
        for kind, label in (("ours", "responses-lsp"), ("unite", "UniteAI 0.3.0")):
            sel = [r for r in rs if (r["chars"], r["typing"], r["server"]) == (size, typing, kind)]
            ok = sum(r["ok"] for r in sel)
            lines.append(
                f"| {label_job} | {label} | {mmm([r['cpu'] for r in sel], '{:.2f}')} | "
                f"{mmm([r['edits'] for r in sel], '{:.0f}')} | "
                f"{mmm([r['edits_per_s'] for r in sel], '{:.0f}')} | "
                f"{mmm([r.get('edits_1s') for r in sel], '{:.0f}')} | "
                f"{mmm([r['wire_bytes'] for r in sel], '{:,.0f}')} | "
                f"{mmm([r['new_text_bytes'] for r in sel], '{:,.0f}')} | "
                f"{mmm([r['lag_med'] for r in sel])} | {mmm([r['lag_p95'] for r in sel])} | "
                f"{ok}/{len(sel)} |"
            )
        if not typing:
            fl = [f["cpu_s"] for f in floors if f["chars"] == size]
            lines.append(
                f"| {label_job} | floor (httpx + httpx-sse) | {mmm(fl, '{:.2f}')} | | | | | | | | |"
            )
            pl = [f["paced"]["cpu_s"] for f in floors if f["chars"] == size and "paced" in f]
            if pl:
                lines.append(
                    f"| {label_job} | paced floor (httpx at our pace, no LSP) | "
                    f"{mmm(pl, '{:.2f}')} | | | | | | | | |"
                )
    lines += [
        "",
        "Ratios (per run, ours / the reference of the same run; median over runs, the runs in "
        f"brackets; CPU on {cpu_name}):",
        "",
    ]

    def one(run: int, size: int, typing: bool, kind: str) -> dict[str, Any] | None:
        key = (run, size, typing, kind)
        return next(
            (r for r in rs if (r["run"], r["chars"], r["typing"], r["server"]) == key), None
        )

    def ratios(xs: list[tuple[float, float]]) -> tuple[float, str]:
        v = [a / b for a, b in xs if b > 0]
        return (statistics.median(v) if v else float("nan")), mmm(v, "{:.2f}")

    checks: list[tuple[str, str, bool]] = []
    for size, typing in groups:
        label_job = job_label(size, typing)
        pairs = []
        for run in runs:
            o, u = one(run, size, typing, "ours"), one(run, size, typing, "unite")
            f = next((f for f in floors if f["run"] == run and f["chars"] == size), None)
            if o and u:
                pairs.append((o, u, f))
        if not pairs:
            continue
        cpu_u, cpu_u_runs = ratios([(o["cpu"], u["cpu"]) for o, u, _ in pairs])
        cpu_f, _ = ratios([(o["cpu"], f["cpu_s"]) for o, _, f in pairs if f])
        wire, wire_runs = ratios([(o["wire_bytes"], u["wire_bytes"]) for o, u, _ in pairs])
        lag, lag_runs = ratios([(o["lag_med"], u["lag_med"]) for o, u, _ in pairs])
        ours_cpu = statistics.median(o["cpu"] for o, _, _ in pairs)
        unite_cpu = statistics.median(u["cpu"] for _, u, _ in pairs)
        floor_cpu = med([f["cpu_s"] for _, _, f in pairs if f])
        paced_u, paced_u_runs = ratios(
            [(f["paced"]["cpu_s"], u["cpu"]) for _, u, f in pairs if f and "paced" in f]
        )
        has_paced = not math.isnan(paced_u)  # runs measured with the paced floor
        paced_txt = (
            f"; the HTTP side alone at our pace (paced floor) {paced_u:.2f}x UniteAI's whole job "
            f"({paced_u_runs})"
            if has_paced
            else ""
        )
        lines.append(
            f"- {label_job}: server CPU {cpu_u:.2f}x UniteAI's ({cpu_u_runs}), "
            f"{cpu_f:.2f}x the floor ({ours_cpu:.2f} vs {unite_cpu:.2f} s; the floor "
            f"{floor_cpu:.2f} s"
            + (", read without typing" if typing else "")
            + paced_txt
            + f"); applyEdit wire bytes {wire:.2f}x UniteAI's ({wire_runs}); median lag "
            f"{lag:.2f}x UniteAI's ({lag_runs})."
        )
        checks.append(
            (
                f"median lag ≤ 1/5 of UniteAI 0.3.0's in the same run (per-run ratio, median "
                f"over runs) — {label_job}",
                f"{lag:.2f}x (runs {lag_runs}; ours "
                f"{statistics.median(o['lag_med'] for o, _, _ in pairs):.1f} ms, UniteAI "
                f"{statistics.median(u['lag_med'] for _, u, _ in pairs):.1f} ms)",
                lag <= LAG_VS_UNITE,
            )
        )
        if not typing:
            checks.append(
                (
                    f"server CPU per job ≤ {CPU_VS_UNITE:g}x UniteAI 0.3.0's on the same job "
                    f"(per-run ratio, median over runs) — {label_job} at {RATE} chunks/s",
                    f"{cpu_u:.2f}x (runs {cpu_u_runs}; ours {ours_cpu:.2f} s, UniteAI "
                    f"{unite_cpu:.2f} s on {cpu_name}; ours {cpu_f:.2f}x the floor"
                    + (
                        f"; httpx alone at our pace, no LSP: {paced_u:.2f}x UniteAI's"
                        if has_paced
                        else ""
                    )
                    + ")",
                    cpu_u <= CPU_VS_UNITE,
                )
            )
        if size == SIZES[0] and not typing:
            checks.append(
                (
                    f"applyEdit wire bytes per job ≤ UniteAI 0.3.0's (per-run ratio, median over "
                    f"runs) — {label_job}",
                    f"{wire:.2f}x (runs {wire_runs}; ours "
                    f"{statistics.median(o['wire_bytes'] for o, _, _ in pairs):,.0f} B, UniteAI "
                    f"{statistics.median(u['wire_bytes'] for _, u, _ in pairs):,.0f} B)",
                    wire <= WIRE_VS_UNITE,
                )
            )
    ours = [r for r in rs if r["server"] == "ours"]
    windows = [r.get("edits_1s") for r in ours]
    if ours:
        worst = max((w for w in windows if w is not None), default=None)
        per_job = [
            f"{job_label(z, t)}: "
            + mmm(
                [r.get("edits_1s") for r in ours if (r["chars"], r["typing"]) == (z, t)], "{:.0f}"
            )
            for z, t in groups
        ]
        checks.append(
            (
                f"≤ {EDITS_PER_S} applyEdits per second: the most in any 1 s window of a job, "
                "every job of ours (worst)",
                f"{worst} (runs per job — {'; '.join(per_job)})"
                if worst is not None
                else "not recorded in this data",
                worst is not None and None not in windows and worst <= EDITS_PER_S,
            )
        )
    bad = [r for r in rs if not r["ok"] or r["outcome"] != "done"]
    bad_ours = [r for r in bad if r["server"] == "ours"]
    unite = [r for r in rs if r["server"] == "unite"]
    if ours:
        checks.append(
            (
                "every job's final text exactly right and the job ended — ours, with and "
                "without typing",
                f"{len(ours) - len(bad_ours)}/{len(ours)} (UniteAI 0.3.0: "
                f"{len(unite) - len(bad) + len(bad_ours)}/{len(unite)})",
                not bad_ours,
            )
        )
    kinds = ("server CPU", "median lag", "applyEdit wire", f"≤ {EDITS_PER_S} applyEdits", "every")
    checks.sort(key=lambda c: next((k for k, w in enumerate(kinds) if c[0].startswith(w)), 9))
    lines += [
        "",
        f"Jobs whose final text was not exact or that did not end: {len(bad)} of {len(rs)}"
        + (": " + ", ".join(f"{r['name']} ({r['outcome']})" for r in bad) if bad else "."),
        "",
        "Server CPU is psutil user + system of the server process and its children from the "
        "executeCommand request to the job's end; UniteAI's 0.2 s edit loop and its DEBUG log "
        "file (`log_file.log` in its working directory, its default) are part of it, as they are "
        "for its users. Raw numbers: `bench/unite.json`.",
        "",
        "Targets of issue 16 (ours against UniteAI 0.3.0 in the same run):",
        "",
        "| target | measured | result |",
        "|---|---|---|",
        *(f"| {name} | {value} | {verdict(ok)} |" for name, value, ok in checks),
    ]
    prof = data.get("profile")
    if prof:
        job, floor = prof["job"], prof["floor"]
        stream_s = prof["n"] / prof["rate"]
        total = sum(v for _, v in prof["cats"]) or float("nan")
        lines += [
            "",
            f"### Where our server's CPU goes at {prof['rate']:,} tok/s",
            "",
            f"One job of {prof['n']:,} tokens ({len(''.join(token(i) for i in range(prof['n']))):,}"
            f" chars) at {prof['rate']:,} tok/s, our server under cProfile (CPU clock, main "
            "thread, between two SIGUSR1s; `--profile`). "
            f"psutil CPU of the job under the profiler {job['cpu']:.2f} s "
            f"({job['cpu'] / stream_s:.2f} CPU-s per stream-second; the profiler inflates it); "
            f"the floor (httpx + httpx-sse alone) on the same stream {floor['cpu_s']:.2f} s. "
            f"{job['edits']} applyEdits, final text correct: {job['ok']}. Own time per "
            f"category (sum {total:.2f} s):",
            "",
            "| category | own CPU (s) | share |",
            "|---|---|---|",
            *[f"| {c} | {v:.3f} | {v / total:.0%} |" for c, v in prof["cats"]],
            "",
            "The functions with the most own time:",
            "",
            *[f"{i}. {row}" for i, row in enumerate(prof["top"], 1)],
        ]
    update_section("unite", "\n".join(lines), elapsed_s=seconds, checks=checks, produced=produced)
    print("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="the 2,073-char job only")
    ap.add_argument(
        "--typing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"each job also while a person types {KEYS_PER_S} keys/s (default: yes; the "
        "issue's lag target is with and without typing)",
    )
    ap.add_argument(
        "--profile", action="store_true", help="then profile our server at 2,000 tok/s (cProfile)"
    )
    ap.add_argument(
        "--from-json",
        metavar="PATH",
        help="do not measure: write the section from a unite.json saved by an earlier run",
    )
    args = ap.parse_args()
    saved = RESULTS.with_name("unite.json")  # next to RESULTS.md ($BENCH_RESULTS moves both)
    if args.from_json:
        data = json.loads(Path(args.from_json).read_text())
        produced = (
            data.get("command", "bench/unite.py (command not recorded)"),
            data.get("date", "?"),
            data.get("machine", "? (not recorded)"),
        )
        report(data, data.get("elapsed_s"), produced)
        return 0
    exe = ensure_unite()
    with Timer() as tm:
        data = asyncio.run(measure(args, exe))
    data.update(
        command=command_line(),
        date=now_stamp(),
        machine=machine_facts(),
        elapsed_s=tm.seconds,
        unite_versions=unite_versions(),
    )
    saved.write_text(json.dumps(data, indent=1), encoding="utf-8")
    report(data, tm.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
