"""The hostile inputs of issue 12, each against a code tree: how long it takes and what it does.

    python bench/hostile_inputs.py                  # this checkout's server/
    python bench/hostile_inputs.py --tree /tmp/old  # another checkout (e.g. `git archive main`)

Every probe runs in a subprocess of its own with a time limit, so an input that blocks the
code (a FIFO read, a backtracking regex) shows as BLOCKED instead of hanging this script.
Its seconds include starting Python and importing the code (0.2-1 s).
Not part of `run_all.py`: it compares code versions rather than measuring one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SESSION = "905d26388c4b4ed0c9a267c2.json"  # file_name("file:///ws")

TOOLS = """
import json
from pathlib import Path
from responses_lsp.tools.changes import ChangeSet
from responses_lsp.tools.definitions import run_tool
from responses_lsp.tools.workspace import WorkspaceFiles
files = WorkspaceFiles([Path({ws!r})])
"""
STORE = """
from pathlib import Path
from responses_lsp.sessions.manager import SessionManager
from responses_lsp.sessions.store import SessionStore
problems = []
store = SessionStore(Path({state!r}), on_problem=problems.append)
sessions = SessionManager(store, scope=lambda: "workspace", folders=lambda: ["file:///ws"])
session = sessions.session_for("file:///ws/a.py")
"""
PROBES: list[tuple[str, str, str]] = [
    ("FIFO: read_file", TOOLS, "print(run_tool(files, 'read_file', '{{\"path\": \"pipe.py\"}}'))"),
    (
        "FIFO: apply_patch",
        TOOLS,
        "try:\n ChangeSet(files).apply('*** Begin Patch\\n*** Update File: pipe.py\\n@@\\n-x\\n+y"
        "\\n*** End Patch\\n')\nexcept Exception as exc:\n print('error:', exc)",
    ),
    (
        "search (a+)+$ on a* lines",
        TOOLS,
        "print(run_tool(files, 'search', json.dumps({{'pattern': '(a+)+$', 'regex': True}})))",
    ),
    (
        "list_files 25 x **/",
        TOOLS,
        "print(run_tool(files, 'list_files', json.dumps({{'glob': '**/' * 25 + 'no.py'}})))",
    ),
    ("session nested 100k deep", STORE, "print('loaded;', len(problems), 'message(s)')"),
    (
        "session last_action: str",
        STORE,  # what codeAction asks of it
        "last = session.last_action\nprint('follow-up offered:', bool(last and last.get('uri')))",
    ),
    ("session last_usage: list", STORE, "print('estimate:', sessions.estimate(session))"),
    (
        "save 6.5 MB (bound 4 MB)",
        STORE,
        "item = {{'type': 'message', 'role': 'user', 'content': 'x' * 560}}\n"
        "session.items += [item, {{'type': 'message', 'role': 'assistant'}}] * 11000\n"
        "store.save(session); print('saved')",
    ),
    (
        "state dir not creatable, 3 jobs",
        STORE.replace("{state!r}", "{state!r} + '/file/sessions'"),
        "last = {{'action': 'a', 'uri': 'file:///ws/a.py', 'start_line': 0, 'end_line': 1}}\n"
        "for _ in range(3):\n sessions.record(session, [], [], None)\n"
        " sessions.remember(session, last)\nprint(len(problems), 'message(s)')",
    ),
    (
        "save on a full disk",
        STORE,
        "import resource, signal\n"
        "session.items.append({{'type': 'message', 'content': 'y' * 200000}})\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))\nstore.save(session)\n"
        "print('left:', [p.name for p in Path({state!r}).iterdir() if p.suffix == '.tmp'])",
    ),
]


def prepare(state: Path, name: str) -> None:
    """The state dir as the probe `name` needs it."""
    for leftover in state.iterdir():
        leftover.unlink()
    base = {"format": 1, "key": "file:///ws", "id": "abc", "items": [], "turns": 0}
    if "100k" in name:
        (state / SESSION).write_bytes(b"[" * 100_000 + b"]" * 100_000)
    elif "last_action" in name:
        (state / SESSION).write_text(json.dumps({**base, "last_action": "refactor"}))
    elif "last_usage" in name:
        (state / SESSION).write_text(json.dumps({**base, "last_usage": [1, 2]}))
    elif "not creatable" in name:
        (state / "file").write_text("a file where the state dir should be")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose server/ to run")
    parser.add_argument("--limit", type=float, default=20.0, help="seconds before BLOCKED")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.tree.resolve() / "server")}
    with tempfile.TemporaryDirectory() as tmp:
        ws, state = Path(tmp) / "ws", Path(tmp) / "state"
        state.mkdir()
        (ws / "data").mkdir(parents=True)
        (ws / "data" / "a.txt").write_text(("a" * 40 + "!\n") * 100)
        os.mkfifo(ws / "pipe.py")
        deep = ws.joinpath("src", *["pkg"] * 12)
        deep.mkdir(parents=True)
        (deep / "x.py").write_text("x = 1\n")
        print(f"code: {args.tree}\n")
        print(f"| {'input':32} | {'seconds':>7} | result")
        print(f"|{'-' * 34}|{'-' * 9}|{'-' * 60}")
        for name, setup, body in PROBES:
            prepare(state, name)
            script = textwrap.dedent(setup.format(ws=str(ws), state=str(state))) + body.format(
                state=str(state)
            )
            started = time.monotonic()
            try:
                done = subprocess.run(
                    [sys.executable, "-c", script],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=args.limit,
                )
                lines = (done.stdout.strip() or done.stderr.strip() or "(nothing)").splitlines()
                result = lines[0] if done.returncode == 0 else "FAILED: " + lines[-1]
            except subprocess.TimeoutExpired:
                result = f"BLOCKED (still running after {args.limit:g} s)"
            seconds = time.monotonic() - started
            print(f"| {name:32} | {seconds:7.2f} | {result[:100]}")


if __name__ == "__main__":
    main()
