"""Real Neovim, a real-length stream: >= 10 s of token-sized deltas (the loopback's ~4-character
chunks, as a model streams them) while the user types during it. Reuses the Neovim tier's
helpers (`tests/editors/test_neovim.py`); kept in its own file because it takes ~15 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.editors.test_neovim import FETCH_LINES, NVIM, assert_passed, run_scenario, write_case
from tests.fakes.long_stream import (
    LONG_ASYNC,
    LONG_PACE,
    LONG_REFACTORED,
    MAX_DELTA_CHARS,
    MIN_STREAM_SECONDS,
)
from tests.fakes.samples import SOURCE
from tests.loopback import LoopbackServer, Reply

pytestmark = pytest.mark.editors

TYPED = "# typed while streaming, key by key"


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


def test_typing_during_a_long_token_sized_stream_keeps_every_character(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    if not NVIM.exists():
        pytest.skip("no nvim next to this interpreter: pip install -e '.[editors]'")
    loopback.script(Reply.text(LONG_ASYNC, pace_tps=LONG_PACE))
    write_case(tmp_path, SOURCE, f"{TYPED}\n{LONG_REFACTORED}", typed=TYPED, **FETCH_LINES)
    assert_passed(run_scenario(NVIM, "long_stream_typing.lua", tmp_path, loopback))
    [request] = [r for r in loopback.requests if r.path.endswith("/responses")]
    assert request.completed and request.finished_at is not None
    assert request.finished_at - request.received_at >= MIN_STREAM_SECONDS
    deltas = [e for e in request.sent_events if e.get("type") == "response.output_text.delta"]
    assert len(deltas) >= 100
    assert max(len(e["delta"]) for e in deltas) <= MAX_DELTA_CHARS
