"""Tokens and cost per action (issue 15, item 3), through the real server and the loopback
endpoint: the usage of the completed response in the progress end message, the job result and
`responses-lsp.session.show` (totals, kept in the session file); an endpoint that reports no
usage says "usage not reported", never 0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.conftest import open_session
from tests.e2e.test_replayed_streams_e2e import replay
from tests.loopback import LoopbackServer, Reply

SOURCE = "def fetch(url):\n    return get(url)\n"
CODE = "async def fetch(url):\n    return await get(url)\n"
MODEL = "gpt-test-priced"
PRICES = {MODEL: {"input": 2.0, "cachedInput": 0.5, "output": 10.0}}
USAGE = {
    "input_tokens": 12_000,
    "input_tokens_details": {"cached_tokens": 10_240},
    "output_tokens": 700,
    "output_tokens_details": {"reasoning_tokens": 300},
}
# (1,760 * 2 + 10,240 * 0.5 + 700 * 10) / 1e6 = 0.01564 USD
COST = 0.01564


def end_message(s: Any, token: str) -> str:
    ends = [v for v in s.client.progress_reports.get(token, []) if v.kind == "end"]
    assert len(ends) == 1, s.client.progress_reports.get(token)
    return str(ends[0].message)


async def test_usage_and_cost_in_progress_result_and_session_view(
    profile: str, loopback: LoopbackServer, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    settings = {"model": MODEL, "prices": PRICES}
    loopback.script(Reply.text(CODE, usage=USAGE), Reply.text(CODE, usage=USAGE))
    async with open_session(profile, loopback, tmp_path, settings=settings, state_dir=state) as s:
        uri = s.open("app.py", SOURCE)
        result = await s.run(uri, "refactor-to-async", s.span(uri, 0, len(SOURCE)))
        assert result["outcome"] == "applied", result
        usage = result["usage"]
        assert usage["reported"] is True
        assert (usage["inputTokens"], usage["cachedInputTokens"]) == (12_000, 10_240)
        assert (usage["outputTokens"], usage["reasoningTokens"]) == (700, 300)
        assert usage["costUsd"] == COST
        line = "12,000 input tokens (10,240 cached), 700 output (300 reasoning), $0.0156"
        assert usage["text"] == line
        token = f"responses-lsp/job/{result['jobId']}"
        assert end_message(s, token) == f"done: {result['tokens']} tokens; checked · {line}"

        text = s.editor.text(uri)
        second = await s.run(uri, "add-type-hints", s.span(uri, 0, len(text)))
        assert second["outcome"] == "applied", second
        shown = await s.execute("responses-lsp.session.show", {"uri": uri})
        totals = shown["usage"]
        assert (totals["inputTokens"], totals["cachedInputTokens"]) == (24_000, 20_480)
        assert (totals["outputTokens"], totals["reasoningTokens"]) == (1_400, 600)
        assert totals["responses"] == 2 and totals["responsesWithoutUsage"] == 0
        assert abs(totals["costUsd"] - 2 * COST) < 1e-9
        assert any("spent: 24,000 input tokens (20,480 cached)" in m for m in s.messages())
    # the totals are kept with the session: a new server shows them
    (record,) = [json.loads(p.read_text()) for p in state.glob("*.json")]
    assert record["spent"]["input_tokens"] == 24_000 and record["spent"]["reported"] == 2
    async with open_session(profile, loopback, tmp_path, settings=settings, state_dir=state) as s:
        uri = s.open("app.py", SOURCE)
        shown = await s.execute("responses-lsp.session.show", {"uri": uri})
        assert shown["usage"]["inputTokens"] == 24_000


async def test_without_a_price_the_usage_is_shown_without_a_cost(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(Reply.text(CODE, usage=USAGE))
    async with open_session("neovim", loopback, tmp_path, settings={"model": MODEL}) as s:
        uri = s.open("app.py", SOURCE)
        result = await s.run(uri, "refactor-to-async", s.span(uri, 0, len(SOURCE)))
    assert result["usage"]["costUsd"] is None
    assert result["usage"]["text"] == (
        f"12,000 input tokens (10,240 cached), 700 output (300 reasoning), no price for {MODEL}"
    )


async def test_an_endpoint_without_usage_says_usage_not_reported(
    profile: str, loopback: LoopbackServer, tmp_path: Path
) -> None:
    # llama-stack's shape: created, deltas, completed with no `usage` at all
    loopback.script(replay("llama_stack_text.sse"))
    settings = {"model": MODEL, "prices": PRICES}
    async with open_session(profile, loopback, tmp_path, settings=settings) as s:
        uri = s.open("app.py", SOURCE)
        result = await s.run(uri, "refactor-to-async", s.span(uri, 0, len(SOURCE)))
        assert result["outcome"] == "applied", result
        usage = result["usage"]
        assert usage["reported"] is False and usage["responsesWithoutUsage"] == 1
        assert usage["inputTokens"] is None and usage["outputTokens"] is None  # not 0
        assert usage["costUsd"] is None and usage["text"] == "usage not reported"
        token = f"responses-lsp/job/{result['jobId']}"
        assert end_message(s, token).endswith(" · usage not reported")
        shown = await s.execute("responses-lsp.session.show", {"uri": uri})
        assert shown["usage"]["text"] == "usage not reported"
        assert shown["usage"]["inputTokens"] is None
