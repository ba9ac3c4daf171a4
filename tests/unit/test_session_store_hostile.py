"""Broken state and shared sessions: the store never freezes, never raises, never loses a turn.

Malformed session files (deep nesting, wrong types, oversize) are moved aside once with one
message; a state directory that cannot be used is reported once per server; a failed save leaves
no temporary file; several stores — in this process or in others — appending to one session
keep every turn.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from responses_lsp.sessions.manager import SessionManager
from responses_lsp.sessions.schema import Session
from responses_lsp.sessions.store import SessionStore, file_name

KEY = "file:///ws"
SERVER_DIR = str(Path(__file__).resolve().parents[2] / "server")


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def answer(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


def manager(store: SessionStore) -> SessionManager:
    return SessionManager(store, scope=lambda: "workspace", folders=lambda: [KEY])


def valid_file(**overrides: Any) -> dict[str, Any]:
    session = Session(key=KEY, items=[user("hello")], turns=1).to_json()
    session.update(overrides)
    return session


def texts(session: Session) -> list[str]:
    return [i["content"][0]["text"] for i in session.items if i.get("role") == "user"]


# ----------------------------------------------------------------- malformed files


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (deep(100_000), "nested deeper"),
        (json.dumps(valid_file(items=[{"type": "x", "v": json.loads(deep(200))}])), "nested"),
        (json.dumps(valid_file(last_action="refactor-to-async")), "last_action"),
        (json.dumps(valid_file(last_action={"uri": 3})), "last_action"),
        (json.dumps(valid_file(last_usage=[1, 2, 3])), "last_usage"),
        (json.dumps(valid_file(items={"a": 1})), "items"),
        (json.dumps(valid_file(items=["text"])), "items.0"),
        (json.dumps(valid_file(turns=-1)), "turns"),
        (json.dumps(valid_file(id=None)), "id"),
    ],
    ids=[
        "100k-deep",
        "deep-item",
        "action-str",
        "action-types",
        "usage-list",
        "items-obj",
        "item-str",
        "negative",
        "no-id",
    ],
)
def test_a_malformed_file_is_moved_aside_once_and_the_session_starts_fresh(
    tmp_path: Path, content: str | bytes, why: str
) -> None:
    path = tmp_path / file_name(KEY)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    problems: list[str] = []
    store = SessionStore(tmp_path, on_problem=problems.append)
    sessions = manager(store)

    session = sessions.session_for(KEY + "/a.py")  # what codeAction does
    assert session is not None and session.items == [] and session.last_action is None
    assert sessions.estimate(session) == 0  # what every job does
    sessions.record(session, [user("next")], [answer("ok")], {"total_tokens": 5})
    sessions.session_for(KEY + "/a.py")

    assert len(problems) == 1 and "moved aside" in problems[0] and why in problems[0], problems
    assert len(list(tmp_path.glob("*.corrupt-*"))) == 1
    assert texts(SessionStore(tmp_path).get(KEY)) == ["next"]


def test_an_oversized_file_is_moved_aside_quickly(tmp_path: Path) -> None:
    items = [user("x" * 300) for _ in range(22_000)]  # ~6.5 MB, over the 4 MB bound
    (tmp_path / file_name(KEY)).write_text(json.dumps(valid_file(items=items)))
    assert (tmp_path / file_name(KEY)).stat().st_size > 6_000_000
    problems: list[str] = []
    started = time.monotonic()
    session = SessionStore(tmp_path, on_problem=problems.append).get(KEY)
    assert time.monotonic() - started < 1.0
    assert session.items == []
    assert len(problems) == 1 and "over the bound" in problems[0]


def test_trimming_to_the_size_bound_is_linear(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    session = store.get(KEY)
    for n in range(11_000):  # ~6.5 MB of turns; dropping them one by one is quadratic
        session.items += [user(f"turn {n} " + "x" * 280), answer("y" * 280)]
    started = time.monotonic()
    json.dumps(session.to_json())
    one_dump = time.monotonic() - started  # the unit of work: serializing the session once
    started = time.monotonic()
    store.save(session)
    elapsed = time.monotonic() - started
    size = (tmp_path / file_name(KEY)).stat().st_size
    assert size <= store.max_bytes and size > store.max_bytes * 0.95
    assert texts(session)[-1].startswith("turn 10999 ")
    assert elapsed < 10 * one_dump + 0.5, (elapsed, one_dump)  # quadratic: ~10,000 dumps
    again = SessionStore(tmp_path).get(KEY)
    assert texts(again) == texts(session)


# ----------------------------------------------------------------- the state directory


def run_jobs(store: SessionStore, jobs: int) -> None:
    sessions = manager(store)
    for n in range(jobs):  # a job records its turn and remembers its edit
        session = sessions.session_for(KEY + "/a.py")
        assert session is not None
        sessions.record(session, [user(f"job {n}")], [answer("ok")], {"total_tokens": n})
        last = {"action": "a", "uri": KEY + "/a.py", "start_line": 0, "end_line": 1}
        sessions.remember(session, last)


def test_a_state_dir_that_cannot_be_created_is_reported_once(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file where the state dir should be")
    problems: list[str] = []
    store = SessionStore(tmp_path / "file" / "sessions", on_problem=problems.append)
    run_jobs(store, 3)
    assert len(problems) == 1 and "reported once" in problems[0], problems
    assert texts(store.get(KEY)) == ["job 0", "job 1", "job 2"]  # kept in memory


def test_a_session_path_that_is_a_folder_is_reported_once(tmp_path: Path) -> None:
    (tmp_path / file_name(KEY)).mkdir()
    problems: list[str] = []
    store = SessionStore(tmp_path, on_problem=problems.append)
    run_jobs(store, 3)
    assert len(problems) == 1 and "Is a directory" in problems[0], problems
    assert texts(store.get(KEY)) == ["job 0", "job 1", "job 2"]


def test_a_fifo_where_the_session_file_should_be_does_not_block(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / file_name(KEY))
    problems: list[str] = []
    store = SessionStore(tmp_path, on_problem=problems.append)
    started = time.monotonic()
    run_jobs(store, 2)  # a save renames over the FIFO: the session is a file again
    assert time.monotonic() - started < 2
    assert len(problems) == 1 and "not a regular file" in problems[0], problems
    assert texts(SessionStore(tmp_path).get(KEY)) == ["job 0", "job 1"]


def test_a_failed_save_leaves_no_temporary_file(tmp_path: Path) -> None:
    """A real short write: the file size limit (RLIMIT_FSIZE) stops the write midway."""
    store = SessionStore(tmp_path)
    session = store.get(KEY)
    session.items.append(user("first"))
    store.save(session)
    before = (tmp_path / file_name(KEY)).read_bytes()
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        from pathlib import Path
        from responses_lsp.sessions.store import SessionStore
        problems = []
        store = SessionStore(Path({str(tmp_path)!r}), on_problem=problems.append)
        session = store.get({KEY!r})
        session.items.append({{"type": "message", "role": "user", "content": "y" * 200000}})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
        store.save(session)
        store.save(session)
        print(len(problems), problems[0] if problems else "")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": SERVER_DIR},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    count, message = done.stdout.split(" ", 1)
    assert count == "1" and "could not save" in message, done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        file_name(KEY),
        file_name(KEY).removesuffix(".json") + ".lock",
    ]
    assert (tmp_path / file_name(KEY)).read_bytes() == before


def test_temporary_files_of_killed_saves_are_swept_once_old(tmp_path: Path) -> None:
    import os

    old = tmp_path / f".{file_name(KEY)}.abc123.tmp"
    old.write_text('{"format": 1, "key"')  # a save killed midway, long ago
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    recent = tmp_path / f".{file_name(KEY)}.def456.tmp"
    recent.write_text('{"format": 1')  # maybe another process's save under way: kept
    assert SessionStore(tmp_path).get(KEY).items == []
    assert not old.exists() and recent.exists()


# ----------------------------------------------------------------- several writers


def test_two_stores_interleaving_keep_every_turn(tmp_path: Path) -> None:
    first, second = manager(SessionStore(tmp_path)), manager(SessionStore(tmp_path))
    for n in range(10):
        sessions = first if n % 2 == 0 else second
        session = sessions.session_for(KEY + "/a.py")
        assert session is not None
        sessions.record(session, [user(f"turn {n}")], [answer("ok")], {"total_tokens": n})
    merged = SessionStore(tmp_path).get(KEY)
    assert texts(merged) == [f"turn {n}" for n in range(10)]
    assert merged.turns == 10
    seen = first.session_for(KEY + "/a.py")  # the other store's turns show up on read
    assert seen is not None and len(texts(seen)) == 10


def test_a_compaction_keeps_the_turns_another_process_added_meanwhile(tmp_path: Path) -> None:
    from responses_lsp.sessions.compaction import CompactionResult

    first, second = manager(SessionStore(tmp_path)), manager(SessionStore(tmp_path))
    a = first.session_for(KEY)
    assert a is not None
    for n in range(3):
        first.record(a, [user(f"turn {n}")], [answer("ok")], None)

    class Compactor:
        async def compact(self, *_args: Any, **kwargs: Any) -> CompactionResult:
            b = second.session_for(KEY)  # another process appends while the summary is made
            assert b is not None
            second.record(b, [user("turn 3")], [answer("ok")], None)
            return CompactionResult([user("summary")], "summary", 100, 10)

    first.compactor = Compactor()  # type: ignore[assignment]
    import asyncio

    asyncio.run(
        first.compact(a, client=None, base_url="", model="m", instructions=None, threshold=1)
    )
    merged = SessionStore(tmp_path).get(KEY)
    assert texts(merged) == ["summary", "turn 3"]
    assert merged.compactions == 1 and merged.turns == 4


WRITER = """
import sys
from pathlib import Path
from responses_lsp.sessions.manager import SessionManager
from responses_lsp.sessions.store import SessionStore
directory, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sessions = SessionManager(SessionStore(directory), scope=lambda: "workspace",
                          folders=lambda: ["file:///ws"])
for n in range(count):
    session = sessions.session_for("file:///ws/a.py")
    text = f"{name} {n}"
    sessions.record(session, [{"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": text}]}], [], {"total_tokens": n})
"""


def test_processes_appending_at_once_keep_every_turn(tmp_path: Path) -> None:
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), f"p{k}", "25"],
            env={"PYTHONPATH": SERVER_DIR},
        )
        for k in range(4)
    ]
    for writer in writers:
        assert writer.wait(timeout=120) == 0
    merged = SessionStore(tmp_path).get(KEY)
    assert sorted(texts(merged)) == sorted(f"p{k} {n}" for k in range(4) for n in range(25))
    assert merged.turns == 100
    for k in range(4):  # each process's own turns stay in its order
        own = [t for t in texts(merged) if t.startswith(f"p{k} ")]
        assert own == [f"p{k} {n}" for n in range(25)]
    assert not list(tmp_path.glob("*.tmp"))


def test_what_is_written_always_loads_again(tmp_path: Path) -> None:
    """A gateway's odd usage or a bad edit record is dropped, not written to break the file."""
    problems: list[str] = []
    sessions = manager(SessionStore(tmp_path, on_problem=problems.append))
    session = sessions.session_for(KEY)
    assert session is not None
    sessions.record(session, [user("a")], [answer("b")], {"total_tokens": -5})
    sessions.remember(session, {"action": "x", "uri": 3})
    again = SessionStore(tmp_path, on_problem=problems.append).get(KEY)
    assert texts(again) == ["a"] and again.last_usage is None and again.last_action is None
    assert problems == []
