"""Clients that refuse our edits, and the engine's bounded, explained way out (issue 10)."""

from __future__ import annotations

import pytest

from responses_lsp.editing.streamer import MAX_REFUSALS, Outcome
from tests.fakes.editor_sim import Simulation, schedule_stream

TEXT = "a = 1\ndef f():\n    return 1\nprint(f())\n"
REGION = (6, 28)
OUTPUT = "async def f():\n    return 1\n"


def _sim(client: str, refuse: str) -> Simulation:
    sim = Simulation(
        client=client, text=TEXT, region=REGION, encoding="utf-16", seed=1, refuse=refuse
    )
    chunks = [OUTPUT[i : i + 2] for i in range(0, len(OUTPUT), 2)]
    schedule_stream(sim, chunks, start=0.05, rate=60, on_done=sim.job.finalize)
    sim.run()
    return sim


@pytest.mark.parametrize("client", ["vscode", "nvim", "eglot"])
@pytest.mark.parametrize("refuse", ["reject", "error"])
def test_a_refusing_client_gets_a_bounded_number_of_edits_and_a_reason(
    client: str, refuse: str
) -> None:
    sim = _sim(client, refuse)
    assert sim.job.outcome is Outcome.FAILED
    assert sim.rejected_edits == MAX_REFUSALS  # then it stops asking
    assert sim.buffer.text == TEXT  # untouched
    assert "refused" in sim.job.failure and "not changed" in sim.job.failure


def test_a_client_that_starts_refusing_midway_is_told_what_is_left() -> None:
    sim = Simulation(client="vscode", text=TEXT, region=REGION, encoding="utf-16", seed=1)
    chunks = [OUTPUT[i : i + 2] for i in range(0, len(OUTPUT), 2)]
    schedule_stream(sim, chunks, start=0.05, rate=60, on_done=sim.job.finalize)
    sim.at(0.2, lambda: setattr(sim, "refuse", "reject"))
    sim.run()
    assert sim.job.outcome is Outcome.FAILED
    assert sim.rejected_edits == MAX_REFUSALS
    assert "Part of the rewrite may be in the buffer" in sim.job.failure


def test_a_rejection_explained_by_a_didchange_is_retried_at_once() -> None:
    """VS Code sends the didChange before it answers: no waiting for it after a rejection."""
    sim = Simulation(
        client="vscode", text=TEXT, region=REGION, encoding="utf-16", seed=1, latency=(0.02, 0.02)
    )
    schedule_stream(sim, [OUTPUT[:5], OUTPUT[5:]], start=0.1, rate=20, on_done=sim.job.finalize)
    sim.at(0.16, lambda: sim.user_edit(0, 0, "b = 2\n"))
    sent: list[float] = []
    original = sim.server_pump

    def pump() -> None:
        before = sim.streamer.stats_edits
        original()
        if sim.streamer.stats_edits > before:
            sent.append(sim.now)

    sim.server_pump = pump  # type: ignore[method-assign]
    sim.run()
    assert sim.job.outcome is Outcome.APPLIED
    assert sim.rejected_edits == 1
    assert sim.buffer.text == "b = 2\n" + TEXT.replace("def f():\n    return 1\n", OUTPUT)
    # the resend follows the rejection's answer (t=0.19) by well under the old 50 ms hold
    assert any(0.19 <= t < 0.2 for t in sent), sent
