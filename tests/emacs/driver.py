"""A terminal Emacs under tmux, driven with real keys, observed through `harness.el`'s log.

`EmacsSession` starts `emacs -nw` in a private tmux server (its own socket, no user config)
with HOME in the test's directory: `~/.emacs.d/init.el` holds the README's eglot
configuration verbatim, and `~/.local/bin/responses-lsp` (the path the
README uses) starts this checkout's server. Keys go in with `tmux send-keys`, so Emacs reads
them from its terminal like typed keys: they are handled only when Emacs' command loop is free.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
EMACS30 = REPO / ".cache" / "emacs-tier" / "bin" / "emacs30"
NO_EMACS30 = REPO / ".cache" / "emacs-tier" / "no-emacs30"  # install.sh: why there is none

# Where the README's configuration expects the server (relative to HOME).
SERVER_PATH = ".local/bin/responses-lsp"

# early-init.el: test-machine settings only. Native compilation of the libraries Emacs loads
# would start compiler subprocesses on a 2-core CI machine in the middle of the timing checks.
EARLY_INIT = """\
(setq native-comp-jit-compilation nil native-comp-deferred-compilation nil)
(setq make-backup-files nil create-lockfiles nil auto-save-default nil)
"""


def elisp_blocks(markdown: str, heading: str) -> list[str]:
    """The ```elisp blocks of the section that starts at the line `heading` (up to the next
    heading of the same or a higher level, or the next bold label)."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == heading)
    section: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("#") or (line.startswith("**") and line.rstrip().endswith(":")):
            break
        section.append(line)
    return re.findall(r"```elisp\n(.*?)```", "\n".join(section) + "\n", re.S)


def readme_config() -> str:
    """README "Other editors" → "Emacs (eglot)": the snippet a new user copies."""
    [block] = elisp_blocks((REPO / "README.md").read_text(encoding="utf-8"), "**Emacs (eglot)**:")
    return block


def docs_config_and_helpers() -> tuple[str, str]:
    """docs/editors.md "Emacs (eglot)": the configuration and the cancel/instruction helpers."""
    config, helpers = elisp_blocks(
        (REPO / "docs" / "editors.md").read_text(encoding="utf-8"), "## Emacs (eglot)"
    )
    return config, helpers


def emacs_binary(version: str) -> Path | None:
    """The Emacs binary for major `version` ("28": Debian's, "30": backports, unpacked)."""
    if version == "30":
        return EMACS30 if EMACS30.exists() else None
    found = shutil.which("emacs")
    if not found:
        return None
    out = subprocess.run([found, "--version"], capture_output=True, text=True, check=False)
    return Path(found) if out.stdout.startswith(f"GNU Emacs {version}.") else None


@dataclass
class Event:
    event: str
    t: float  # Emacs' clock (float-time)
    seen: float  # when the test read it (time.monotonic())
    data: dict[str, Any]


class EmacsSession:
    """One terminal Emacs visiting `file`, its log, and the keys the test sends it."""

    def __init__(
        self,
        emacs: Path,
        root: Path,
        file: str,
        init_el: str,
        env: dict[str, str],
    ) -> None:
        self.root = root
        self.file = root / file
        self.home = root / ".home"
        self.log = root / "emacs-log.jsonl"
        # a short path: a unix socket's path is limited to ~100 bytes
        self._socket_dir = Path(tempfile.mkdtemp(prefix="rlsp-tmux-"))
        self.socket = self._socket_dir / "sock"
        self.events: list[Event] = []
        self._offset = 0
        self._dumps = 0
        self._server_pid: int | None = None
        emacs_d = self.home / ".emacs.d"
        emacs_d.mkdir(parents=True)
        (emacs_d / "early-init.el").write_text(EARLY_INIT, encoding="utf-8")
        (emacs_d / "init.el").write_text(init_el, encoding="utf-8")
        server = self.home / SERVER_PATH
        server.parent.mkdir(parents=True)
        server.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m responses_lsp "$@"\n')
        server.chmod(0o755)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TMUX"))},
            **env,
            "HOME": str(self.home),
            "RLSP_LOG": str(self.log),
            "RLSP_FILE": str(self.file),
            "PYTHONPATH": str(REPO / "server"),
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",  # CI machines may have no locale set
            "LC_ALL": "C.UTF-8",
        }
        self.log.write_text("", encoding="utf-8")
        # remain-on-exit: if Emacs dies, its pane (and last words) stay for the diagnostics
        self.tmux(
            "-f",
            "/dev/null",
            "start-server",
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "--",
            str(emacs),
            "-nw",
            "-l",
            str(HERE / "harness.el"),
            str(self.file),
        )
        self.wait_for("ready", timeout=30)

    # --------------------------------------------------------------------- plumbing

    def tmux(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        return out.stdout

    def keys(self, *keys: str) -> None:
        """Key names as tmux knows them (`M-x`, `Enter`, `C-Space`, `F5`, `Escape`)."""
        self.tmux("send-keys", *keys)

    def type(self, text: str) -> None:
        """Literal characters (self-inserting keys)."""
        self.tmux("send-keys", "-l", text)

    def command(self, name: str) -> None:
        """M-x NAME RET (M-x through the harness's single-byte binding C-^)"""
        self.keys("C-^")
        self.type(name)
        self.keys("Enter")

    def goto_line(self, line: int) -> None:
        self.keys("M-g", "g")
        self.type(str(line))
        self.keys("Enter")

    def screen(self) -> str:
        try:
            dead = self.tmux("display-message", "-p", "#{pane_dead} #{pane_dead_status}").split()
            status = f"(Emacs exited, status {dead[1:]})\n" if dead and dead[0] == "1" else ""
            return status + self.tmux("capture-pane", "-p", "-S", "-50")
        except Exception as exc:  # the session may already be gone
            return f"(no screen: {exc})"

    def poll(self) -> list[Event]:
        """Read new log lines."""
        with self.log.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        now = time.monotonic()
        new = []
        for line in data[:end].splitlines():
            record = json.loads(line)
            new.append(Event(record.pop("event"), record.pop("t"), now, record))
        self.events.extend(new)
        for event in new:
            if event.event == "managed":
                self._server_pid = int(event.data["pid"])
        return new

    def wait_for(
        self,
        name: str,
        predicate: Callable[[Event], bool] = lambda _e: True,
        timeout: float = 20.0,
    ) -> Event:
        """The first event `name` (already logged or arriving) that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        checked = 0
        while True:
            self.poll()
            for event in self.events[checked:]:
                if event.event == name and predicate(event):
                    return event
                if event.event == "question" and name != "question":
                    raise AssertionError(f"eglot asked y-or-n:\n{self.diagnostics()}")
            checked = len(self.events)
            if time.monotonic() > deadline:
                raise AssertionError(f"no {name!r} event within {timeout} s\n{self.diagnostics()}")
            time.sleep(0.02)

    def named(self, name: str) -> list[Event]:
        self.poll()
        return [e for e in self.events if e.event == name]

    def dump(self, timeout: float = 20.0) -> Event:
        """Press C-\\; the buffer text as Emacs has it when it handles the key."""
        self._dumps += 1
        n = self._dumps
        self.keys("C-\\")
        return self.wait_for("dump", lambda e: e.data["n"] == n, timeout=timeout)

    def job_result(self) -> dict[str, Any]:
        """C-x j: the server's `responses-lsp.jobResult` for the last job eglot started."""
        before = len(self.named("job-result"))
        self.keys("C-x", "j")
        self.wait_for("job-result", lambda _e: len(self.named("job-result")) > before)
        return self.named("job-result")[-1].data

    def text(self) -> str:
        return str(self.dump().data["text"])

    def wait_text(self, want: str, timeout: float, every: float = 1.0) -> str:
        """Poll the buffer (one C-\\ per poll) until it equals `want`; the last text seen.

        Polls at most once a second: eglot sends its didChange only after 0.5 s without input
        (`eglot-send-changes-idle-time`), so faster key presses would hold the echo of the
        server's edits back, as a user typing without pause does."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.text()
            if got == want or time.monotonic() > deadline:
                return got
            time.sleep(every)

    def diagnostics(self) -> str:
        tail = [f"{e.event} {json.dumps(e.data)[:300]}" for e in self.events[-25:]]
        messages = next(
            (str(e.data.get("messages", "")) for e in reversed(self.events) if e.event == "dump"),
            "",
        )
        return (
            "--- screen ---\n"
            + self.screen()
            + "\n--- last events ---\n"
            + "\n".join(tail)
            + "\n--- *Messages* (last dump) ---\n"
            + messages[-1500:]
        )

    def close(self) -> None:
        try:
            self.tmux("kill-server")
        except Exception:
            pass
        shutil.rmtree(self._socket_dir, ignore_errors=True)
        if self._server_pid:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and _alive(self._server_pid):
                time.sleep(0.05)
            if _alive(self._server_pid):
                os.kill(self._server_pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
