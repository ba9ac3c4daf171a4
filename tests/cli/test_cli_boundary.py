"""The command line's one lazy boundary: a subcommand's module is imported when it runs.

An editor starting `responses-lsp` must not pay for the subcommands (startup is benchmarked
against a bare pygls server), and the subcommands must not pay for the language server they
start in a child process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from responses_lsp import cli

CLI_ONLY = (
    "responses_lsp.cli.apply",
    "responses_lsp.cli.buffer",
    "responses_lsp.cli.capabilities",
    "responses_lsp.cli.check",
    "responses_lsp.cli.console",
    "responses_lsp.cli.demo",
    "responses_lsp.cli.demo_serve",
    "responses_lsp.cli.lsp_client",
    "responses_lsp.loopback",
)

_PROBE = """
import json, sys
from responses_lsp.cli import main
main(sys.argv[1:])
print(json.dumps(sorted(m for m in sys.modules if m.startswith("responses_lsp"))))
"""


def _modules_after(*argv: str) -> set[str]:
    """The `responses_lsp` modules loaded after `responses-lsp ARGV` ran (stdin at EOF)."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("argv", [(), ("serve",), ("--stdio",), ("--log-level", "error")])
def test_serving_imports_no_subcommand(argv: tuple[str, ...]) -> None:
    loaded = _modules_after(*argv)
    assert "responses_lsp.language_server" in loaded  # it really served
    assert "responses_lsp.cli.serve" in loaded
    assert loaded.isdisjoint(CLI_ONLY), sorted(loaded & set(CLI_ONLY))


def test_a_subcommand_imports_itself_and_not_the_server() -> None:
    # `check --help` exits through argparse (SystemExit) before the probe prints
    probe = (
        "import json, sys\n"
        "from responses_lsp.cli import build_parser, _wanted\n"
        "build_parser(_wanted(['check', '--model', 'm']))\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert "responses_lsp.cli.check" in loaded
    assert "responses_lsp.cli.demo" not in loaded
    assert "responses_lsp.cli.apply" not in loaded
    assert "responses_lsp.language_server" not in loaded
    assert "responses_lsp.cli.serve" not in loaded


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        ([], ()),
        (["--tcp", "127.0.0.1:2087"], ()),
        (["demo", "--speed", "50"], ("demo",)),
        (["-v", "apply", "--action", "x", "f.py"], ("apply",)),
        (["check", "--help"], ("check",)),
        (["--help"], cli.SUBCOMMANDS),
        (["-h"], cli.SUBCOMMANDS),
    ],
)
def test_which_subcommand_modules_a_command_line_needs(
    argv: list[str], wanted: tuple[str, ...]
) -> None:
    assert cli._wanted(argv) == wanted


def test_top_level_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in ("serve", *cli.SUBCOMMANDS):
        assert name in out
