"""The README's "Testing your actions" example, run as a user runs it: the block is
extracted verbatim and run by pytest in a fresh directory (no project conftest, no
project settings), with only the installed package and its pytest plugin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- testing-example -->\n```python\n(.*?)```", text, re.DOTALL)
    assert found, "README.md has no <!-- testing-example --> python block"
    return found.group(1)


def test_the_readme_testing_example_passes_as_written(tmp_path: Path) -> None:
    example = readme_example()
    assert "def test_" in example and "lsp.run(" in example and "ADD_LOGGING" in example
    (tmp_path / "test_readme_example.py").write_text(example, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PYTEST"))}

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_readme_example.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout, result.stdout  # both client profiles ran


def test_the_example_fails_when_the_action_sends_something_else(tmp_path: Path) -> None:
    """The example's assertions bite: a different prompt template makes it fail."""
    example = readme_example().replace(
        "Add structured logging to this {language}", "Log {language}"
    )
    (tmp_path / "test_changed.py").write_text(example, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PYTEST"))}

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_changed.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 failed" in result.stdout, result.stdout
    assert "Add structured logging to this Python code" in result.stdout
