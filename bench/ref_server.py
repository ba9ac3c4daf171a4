"""The reference for the streaming benchmark: the baseline's `perf.stream`, ported.

A pygls 2.1.1 server (perf-baseline.md §7, `perfsrv.py`) with one command:

    perf.stream(uri, line, n_tokens, rate, strategy, flush_ms, vmode)

A producer makes token *i* (`tokens.token(i)`, the same text the loopback streams to our server)
available at `t0 + i / rate`; the sender inserts what has accumulated at the server-tracked end
of the region that starts at `(line, 0)`. Strategy "coalesce" (the baseline's recommendation, with
`flush_ms` = 16): at most one outstanding `workspace/applyEdit`, the first token at once, later
sends ≥ `flush_ms` apart. `vmode` "null" sends `version: null` (what the baseline used in
Neovim). Document sync is pygls' stock model, or the baseline's line-list patch with
`PERF_FASTDOC=1`. `perf.ping` is a round trip.

    python -m ref_server     (cwd = bench/)
"""

import asyncio
import logging
import os
import sys
import time

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer

from tokens import token

logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
server = LanguageServer(
    "ref-server", "0.1", text_document_sync_kind=t.TextDocumentSyncKind.Incremental
)

if os.environ.get("PERF_FASTDOC") == "1":
    # The baseline's experimental document model: a cached list of lines; an incremental change
    # splices only the touched lines (pygls 2.1.1 re-splits and rebuilds the whole text).
    from pygls.workspace.text_document import TextDocument as _TD

    _orig_source = _TD.source

    def _ll(self):
        ll = self.__dict__.get("_ll")
        if ll is None:
            ll = self.__dict__["_ll"] = _orig_source.fget(self).splitlines(True)
        return ll

    def _fast_incremental(self, change):
        ll = _ll(self)
        r = self._position_codec.range_from_client_units(ll, change.range)
        s, e = r.start, r.end
        head = ll[s.line][: s.character] if s.line < len(ll) else ""
        tail = ll[e.line][e.character :] if e.line < len(ll) else ""
        ll[s.line : e.line + 1] = (head + change.text + tail).splitlines(True)
        self._source = None

    def _fast_full(self, change):
        self.__dict__.pop("_ll", None)
        self._source = change.text

    def _fast_source(self):
        if self._source is None and self.__dict__.get("_ll") is not None:
            self._source = "".join(self.__dict__["_ll"])
        return _orig_source.fget(self)

    _TD._apply_incremental_change = _fast_incremental
    _TD._apply_full_change = _fast_full
    _TD.source = property(_fast_source)
    _TD.lines = property(_ll)


class Region:
    """Server-side model of the streamed region (starts empty at (line, 0))."""

    def __init__(self, ls, uri, line):
        self.ls, self.uri = ls, uri
        self.end_line, self.end_col = line, 0
        self.text = ""
        self.codec = ls.workspace.position_codec
        self.base_version = ls.workspace.get_text_document(uri).version or 0
        self.applied = 0

    def version(self, vmode):
        if vmode == "null":
            return None
        v = self.ls.workspace.get_text_document(self.uri).version or 0
        if vmode == "predict":
            return max(v, self.base_version + self.applied)
        return v

    def _advance(self, s):
        nl = s.count("\n")
        if nl:
            self.end_line += nl
            self.end_col = self.codec.client_num_units(s[s.rfind("\n") + 1 :])
        else:
            self.end_col += self.codec.client_num_units(s)

    def make_edit(self, s, vmode):
        p = t.Position(line=self.end_line, character=self.end_col)
        self.text += s
        self._advance(s)
        te = t.TextEdit(range=t.Range(start=p, end=p), new_text=s)
        return t.ApplyWorkspaceEditParams(
            edit=t.WorkspaceEdit(
                document_changes=[
                    t.TextDocumentEdit(
                        text_document=t.OptionalVersionedTextDocumentIdentifier(
                            uri=self.uri, version=self.version(vmode)
                        ),
                        edits=[te],
                    )
                ]
            )
        )


@server.command("perf.ping")
def ping(_ls: LanguageServer):
    return {"pid": os.getpid()}


@server.command("perf.stream")
async def stream(
    ls: LanguageServer,
    uri: str,
    line: int,
    n_tokens: int,
    rate: float,
    strategy: str,
    flush_ms: float,
    vmode: str,
):
    reg = Region(ls, uri, line)
    pending: list[str] = []
    pending_idx: list[int] = []
    produced = 0
    wake = asyncio.Event()
    edits = []  # [first_tok, last_tok, send_ns, ack_ns]
    cpu0 = time.process_time()
    t0_ns = time.monotonic_ns()
    period_ns = 1e9 / rate

    async def producer():
        nonlocal produced
        while produced < n_tokens:
            now = time.monotonic_ns()
            due = min(n_tokens, int((now - t0_ns) / period_ns) + 1)
            while produced < due:
                pending.append(token(produced))
                pending_idx.append(produced)
                produced += 1
            wake.set()
            if produced < n_tokens:
                next_ns = t0_ns + produced * period_ns
                await asyncio.sleep(max(0.0, (next_ns - time.monotonic_ns()) / 1e9))

    async def sender():
        last_send = 0
        done_tokens = 0
        while done_tokens < n_tokens:
            if not pending:
                wake.clear()
                await wake.wait()
                continue
            if strategy == "coalesce":
                gap = flush_ms * 1e6 - (time.monotonic_ns() - last_send)
                if gap > 0:
                    await asyncio.sleep(gap / 1e9)
                batch, idx = "".join(pending), list(pending_idx)
                pending.clear()
                pending_idx.clear()
            else:  # one token per edit, awaited
                batch, idx = pending.pop(0), [pending_idx.pop(0)]
            params = reg.make_edit(batch, vmode)
            rec = [idx[0], idx[-1], time.monotonic_ns(), 0]
            edits.append(rec)
            last_send = rec[2]
            done_tokens += len(idx)
            res = await ls.workspace_apply_edit_async(params)
            rec[3] = time.monotonic_ns()
            reg.applied += 1
            if not res.applied:
                raise RuntimeError("edit not applied")

    await asyncio.gather(producer(), sender())
    return {
        "t0_ns": t0_ns,
        "period_ns": period_ns,
        "edits": edits,
        "text_len": len(reg.text),
        "end_ns": time.monotonic_ns(),
        "cpu_s": time.process_time() - cpu0,
    }


if __name__ == "__main__":
    server.start_io()
