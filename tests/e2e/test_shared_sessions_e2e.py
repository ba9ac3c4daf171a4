"""One workspace, several processes: two editor windows (two servers) and the CLI share a
session directory, and every turn of every action is kept.

The two servers alternate 20 actions on the same workspace session, some of them at the same
moment (each server saves its turn while the other does), and `responses-lsp apply` runs in
between, as a user would in a terminal next to the editors. The session file must end with
all 20 turns, in the order each server ran its own.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from responses_lsp.sessions.store import SessionStore
from tests.e2e.conftest import API_KEY, SERVER_DIR, Session, open_session
from tests.loopback import LoopbackServer, Reply

SOURCE = "def total(xs):\n    return sum(xs)\n"
CODE = "def total(xs):\n    return sum(x for x in xs)\n"
SETTINGS = {"session": "workspace"}
ACTION = "edit-with-instruction"


async def act(s: Session, uri: str, turn: int) -> None:
    result = await asyncio.wait_for(
        s.run(uri, ACTION, s.span(uri, 0, len(SOURCE)), instruction=f"turn {turn:02}"), 30
    )
    if isinstance(result, dict) and "outcome" in result:  # a run that answers at once says less
        assert result["outcome"] in ("applied", "unchanged"), result


async def recorded(s: Session, state: Path, root: Path, count: int) -> None:
    """Wait until the session file holds `count` turns (however the run command answers)."""
    await s.wait_for(lambda: len(recorded_turns(state, root)) >= count, 30)


def cli_apply(root: Path, api: LoopbackServer, state: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RESPONSES_LSP_"))}
    env.update(
        PYTHONPATH=SERVER_DIR,
        OPENAI_BASE_URL=api.base_url,
        OPENAI_API_KEY=API_KEY,
        RESPONSES_LSP_STATE_DIR=str(state),
    )
    return subprocess.run(
        [
            *(sys.executable, "-m", "responses_lsp", "apply", "--action", ACTION),
            *("--instruction", "from the terminal", "app.py:1-2"),
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def recorded_turns(state: Path, root: Path) -> list[str]:
    session = SessionStore(state).get(root.as_uri())
    return [
        line.removeprefix("Instruction: ")
        for item in session.items
        if item.get("role") == "user"
        for line in item["content"][0]["text"].splitlines()
        if line.startswith("Instruction: ")
    ]


async def test_two_servers_and_the_cli_interleaving_20_actions_keep_every_turn(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    root, state = tmp_path / "ws", tmp_path / "state"
    root.mkdir()
    (root / "app.py").write_text(SOURCE)

    def reply(_request: Any) -> Reply:
        return Reply.text(CODE)

    loopback.responder = reply
    async with (
        open_session("vscode", loopback, root, settings=SETTINGS, state_dir=state) as first,
        open_session("neovim", loopback, root, settings=SETTINGS, state_dir=state) as second,
    ):
        uris = [first.open("app.py", SOURCE), second.open("app.py", SOURCE)]
        servers = [first, second]
        turn = 0
        while turn < 20:
            if turn % 6 == 4:  # both windows at the same moment
                await asyncio.gather(act(first, uris[0], turn), act(second, uris[1], turn + 1))
                turn += 2
            else:
                await act(servers[turn % 2], uris[turn % 2], turn)
                turn += 1
            await recorded(first, state, root, turn)
            if turn in (7, 14):  # the terminal, in between
                done = await asyncio.to_thread(cli_apply, root, loopback, state)
                assert done.returncode == 0, done.stderr
                assert "sum(x for x in xs)" in done.stdout
        # each server also sees the other's turns: its next request carries all 20
        kept = recorded_turns(state, root)
        assert sorted(kept) == [f"turn {n:02}" for n in range(20)], kept
        for parity in (0, 1):  # the first window ran the even turns, the second the odd ones
            own = [t for t in kept if int(t.split()[1]) % 2 == parity]
            assert own == sorted(own), kept
        await act(first, uris[0], 20)
        await recorded(first, state, root, 21)
        sent = loopback.requests[-1].body or {}
        history = [i["content"][0]["text"] for i in sent["input"][:-2] if i.get("role") == "user"]
        assert sum("Instruction: turn " in text for text in history) == 20
    assert len(recorded_turns(state, root)) == 21
    assert not list(state.glob("*.tmp")) and not list(state.glob("*.corrupt-*"))
