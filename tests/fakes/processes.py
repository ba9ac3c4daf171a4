"""Running an editor (or a client) as a subprocess group that is always cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def run_group(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float
) -> tuple[int, str]:
    """Run `command` in its own process group (it and what it starts: the language server),
    kill the whole group after `timeout` seconds; returns (exit code or -1, output)."""
    proc = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        return -1, output.decode("utf-8", "replace") + f"\n[killed after {timeout} s]"
    return proc.returncode, output.decode("utf-8", "replace")
