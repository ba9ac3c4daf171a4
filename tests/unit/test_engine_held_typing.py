"""A user who keeps typing while eglot holds its changes (issue 10, the Emacs 28 tier).

eglot sends didChange only after an idle moment, so while the user types key after key
above a streaming job, every versioned edit we send is refused (its version is stale) and
no didChange explains why. The engine must neither stall until it gives up ("the editor
refused 8 edits in a row") nor send an unprotected deletion: the streamed inserts go
unversioned (a misplaced insert is moved back), the deletion waits for the user's pause.
"""

from __future__ import annotations

from responses_lsp.editing.streamer import Outcome
from tests.fakes.editor_sim import PREFIX, USER, Simulation, schedule_stream

TEXT = "import os\ndef f():\n    return 1\nprint(f())\n"
OUTPUT = "async def f():\n    return 1\n"
TYPED = "# typed while streaming (kept)"


def test_typing_through_eglot_held_changes_keeps_every_key_and_applies() -> None:
    sim = Simulation(
        client="eglot",  # eglot 1.9: the version grows with every change, flushed when idle
        text=TEXT,
        region=(10, 32),
        encoding="utf-16",
        seed=7,
        flush_delay=(0.5, 0.5),  # eglot-send-changes-idle-time
    )
    chunks = [OUTPUT[i : i + 2] for i in range(0, len(OUTPUT), 2)]
    schedule_stream(sim, chunks, start=0.05, rate=8, on_done=sim.job.finalize)
    sim.at(0.2, lambda: sim.user_edit(0, 0, "\n"))
    for i, char in enumerate(TYPED):  # one key every 80 ms for 2.4 s: eglot never idles
        sim.at(0.3 + 0.08 * i, lambda i=i, char=char: sim.user_edit(i, i, char))
    sim.run()
    assert sim.job.outcome is Outcome.APPLIED, (sim.job.failure, sim.job.notes)
    assert sim.buffer.text == TYPED + "\n" + TEXT.replace("def f():\n    return 1\n", OUTPUT)
    assert sim.violations == []
    assert sim.rejected_edits >= 4  # the situation really arose
    assert sim.chars_with(USER) == TYPED + "\n"
    assert sim.chars_with(PREFIX) == "import os\n"
