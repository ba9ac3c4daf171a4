"""eglot 1.17 (Emacs 30): its version grows only when it sends a didChange (issue 10).

The Emacs tier's instruction test, replayed against the engine: eglot applies our first
edit without bumping its version, so a guessed "last version + 1" was refused four times,
the engine fell back to unversioned edits, and the one didChange that covered edit 1 and
the next insert was read as the user's ("you edited the text being rewritten") while
edit 2 was "acknowledged but never applied" and sent again: the function came out twice.
"""

from __future__ import annotations

from responses_lsp.editing.document import Document, Encoding
from responses_lsp.editing.echo import apply_did_change
from responses_lsp.editing.streamer import DocStreamer, Outcome
from tests.fakes.editor_sim import Simulation, schedule_stream

TEXT = "import os\n\n\n# TODO: a function f returning 1\nprint(f())\n"


def _streamer() -> tuple[Document, DocStreamer]:
    doc = Document("file:///mod.py", TEXT, version=0)
    clock = iter(float(i) for i in range(1000))
    streamer = DocStreamer(
        doc,
        Encoding("utf-16"),
        clock=lambda: next(clock),
        open_version_is_real=True,  # eglot counts from its didOpen version
        version_late=True,  # what _initialize sets for clientInfo "Eglot"
    )
    return doc, streamer


def test_eglot17_merged_echo_of_a_versioned_and_an_unversioned_edit_is_ours() -> None:
    doc, streamer = _streamer()
    job = streamer.add_job((3, 0), (4, 0))
    job.set_target("def ")
    first = streamer.poll()
    assert first is not None and first.new_text == "def \n"
    assert (first.start, first.version) == ((3, 0), 0)  # the version eglot has now
    streamer.on_ack(first.sent_id, True)  # applied; eglot 1.17 is still at version 0
    job.set_target("def f():\n    return 1\n")
    second = streamer.poll()
    assert second is not None and second.start == (3, 4)
    # eglot's version after applying edit 1 is not known until it flushes: no guess
    assert second.version is None
    streamer.on_ack(second.sent_id, True)
    # eglot flushes once: version 1, one content change covering both of our edits
    apply_did_change(
        doc,
        streamer,
        Encoding("utf-16"),
        [(((3, 0), (3, 0)), "def f():\n    return 1\n\n")],
        1,
    )
    notes = " | ".join(job.notes)
    assert "resending" not in notes and "stopping" not in notes, notes
    assert streamer.pending == [] and not job.done, notes
    job.finalize("def f():\n    return 1\n")
    last = streamer.poll()
    assert last is not None and last.intent == "delete-original"
    assert last.version == 1  # nothing of ours unechoed: the version eglot reported
    streamer.on_ack(last.sent_id, True)
    apply_did_change(doc, streamer, Encoding("utf-16"), [((last.start, last.end), "")], 2)
    assert streamer.poll() is None
    assert job.outcome is Outcome.APPLIED, job.notes
    assert doc.text == "import os\n\n\ndef f():\n    return 1\nprint(f())\n"


def test_eglot17_stream_with_typing_gets_no_refusals_and_one_copy() -> None:
    """A whole stream against the eglot 1.17 model: nothing refused, nothing re-sent."""
    text = "import os\ndef f():\n    return 1\nprint(f())\n"
    sim = Simulation(
        client="eglot",
        late_bump=True,
        text=text,
        region=(10, 32),
        encoding="utf-16",
        seed=5,
        flush_delay=(0.5, 0.5),
    )
    output = "async def f():\n    return 1\n"
    chunks = [output[i : i + 2] for i in range(0, len(output), 2)]
    schedule_stream(sim, chunks, start=0.05, rate=60, on_done=sim.job.finalize)
    sim.at(0.2, lambda: sim.user_edit(0, 0, "# typed\n"))  # above the region, unflushed
    sim.run()
    assert sim.job.outcome is Outcome.APPLIED, sim.job.notes
    assert sim.buffer.text == "# typed\nimport os\n" + output + "print(f())\n"
    assert sim.rejected_edits == 0
    assert not [note for note in sim.job.notes if "resending" in note], sim.job.notes
    assert sim.did_changes < sim.applied_edits  # the echo really was merged
