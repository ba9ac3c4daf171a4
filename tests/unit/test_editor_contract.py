"""The strings the server shares with the editor code, pinned on both sides.

`responses_lsp.contract` holds them once for the server. The editor code spells them in its own
language: the VS Code extension (TypeScript), the Neovim module (Lua), the eglot recipe in
`docs/editors.md` and the Emacs tier's harness (elisp), the READMEs. These tests read those
sources and compare; the last one runs a real job and checks that the server really sends what
the constants say (the apply-edit label matched by both one-undo implementations, the progress
token the VS Code jobs view recognises, the job-end notification, the advertised commands).
Change a string on one side only and a test here fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from responses_lsp import contract
from tests.e2e.conftest import open_session
from tests.loopback import LoopbackServer, Reply

ROOT = Path(__file__).resolve().parents[2]
VSCODE = ROOT / "editors" / "vscode" / "src"
NVIM = ROOT / "editors" / "nvim" / "lua" / "responses_lsp"
DOCS = [
    ROOT / "README.md",
    ROOT / "docs" / "editors.md",
    ROOT / "editors" / "nvim" / "README.md",
    ROOT / "editors" / "vscode" / "README.md",
]
ELISP = [ROOT / "tests" / "emacs" / "harness.el"]


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def ts_const(source: str, name: str) -> str:
    """The value of `const NAME = '...'` (or `export const`) in TypeScript."""
    found = re.search(rf"\bconst {name} = '([^']*)';", source)
    assert found, f"no string constant {name} in the TypeScript source"
    return found.group(1)


def ts_regex(source: str, name: str) -> re.Pattern[str]:
    """`const NAME = /.../;` in TypeScript, as a Python pattern (the subset both share)."""
    found = re.search(rf"\bconst {name} = /(.+)/[a-z]*;", source)
    assert found, f"no regex constant {name} in the TypeScript source"
    return re.compile(found.group(1))


def lua_const(source: str, name: str) -> str:
    found = re.search(rf"\blocal {name} = '([^']*)'", source)
    assert found, f"no string local {name} in the Lua source"
    return found.group(1)


def lua_pattern(source: str, name: str) -> re.Pattern[str]:
    """`local NAME = '<Lua pattern>'` as a Python pattern (`%x` escapes, `%d` class)."""
    pattern = lua_const(source, name)
    python = re.sub(
        r"%(.)", lambda m: r"\d" if m.group(1) == "d" else re.escape(m.group(1)), pattern
    )
    return re.compile(python)


def job_of(label: str, pattern: re.Pattern[str]) -> str | None:
    """The job id the editor code extracts from an apply-edit `label` (None: not ours)."""
    found = pattern.search(label)
    return found.group(1) if found else None


# ---- the one-undo-step code matches the apply-edit label ---------------------------------------


@pytest.mark.parametrize("intent", ["insert", "delete-original", "revert", "edit-across-files"])
def test_both_undo_implementations_recognise_the_servers_edit_label(intent: str) -> None:
    vscode = ts_regex(read(VSCODE / "undo.ts"), "LABEL")
    nvim = lua_pattern(read(NVIM / "undo.lua"), "LABEL")
    for job_id in (1, 7, 12, 4096):
        label = contract.edit_label(job_id, intent)
        assert label.startswith(contract.EDIT_LABEL_PREFIX)
        assert job_of(label, vscode) == str(job_id), (label, vscode.pattern)
        assert job_of(label, nvim) == str(job_id), (label, nvim.pattern)


def test_other_labels_are_left_to_the_editors_default_handler() -> None:
    vscode = ts_regex(read(VSCODE / "undo.ts"), "LABEL")
    nvim = lua_pattern(read(NVIM / "undo.lua"), "LABEL")
    for label in ("Rename symbol", "AI: Refactor to async", "responses-lsp: job 3", ""):
        assert job_of(label, vscode) is None
        assert job_of(label, nvim) is None


# ---- progress token, job-end notification, client features ------------------------------------


def test_the_vscode_jobs_view_recognises_the_progress_token() -> None:
    prefix = ts_const(read(VSCODE / "jobs.ts"), "JOB_TOKEN")
    assert prefix == contract.PROGRESS_TOKEN_PREFIX
    assert contract.progress_token(42) == prefix + "42"


def test_both_editors_listen_for_the_job_end_notification_they_ask_for() -> None:
    client_ts = read(VSCODE / "client.ts")
    init_lua = read(NVIM / "init.lua")
    assert ts_const(client_ts, "JOB_DONE") == contract.JOB_DONE
    assert lua_const(init_lua, "JOB_DONE") == contract.JOB_DONE
    # both ask for it under initializationOptions.clientFeatures.jobDone
    vscode_features = re.search(rf"\b{contract.CLIENT_FEATURES}: \{{([^}}]*)\}}", client_ts)
    assert vscode_features, "client.ts sends no clientFeatures"
    assert f"{contract.FEATURE_JOB_DONE}: true" in vscode_features.group(1)
    assert re.search(rf"\blocal features = \{{ {contract.FEATURE_JOB_DONE} = true \}}", init_lua)
    assert f"init_options = {{ {contract.CLIENT_FEATURES} = features }}" in init_lua


# ---- command names ------------------------------------------------------------------------------


def test_the_editors_command_constants_are_server_commands() -> None:
    client_ts = read(VSCODE / "client.ts")
    init_lua = read(NVIM / "init.lua")
    assert ts_const(client_ts, "RUN") == contract.RUN
    assert ts_const(client_ts, "CANCEL") == contract.CANCEL
    assert ts_const(client_ts, "JOBS") == contract.JOBS
    assert lua_const(init_lua, "RUN") == contract.RUN
    assert lua_const(init_lua, "CANCEL") == contract.CANCEL
    assert lua_const(init_lua, "JOB_RESULT") == contract.JOB_RESULT
    session = re.search(r"local SESSION = \{(.*?)\}", init_lua, re.DOTALL)
    assert session, "init.lua has no SESSION command table"
    named = dict(re.findall(r"(\w+) = '([^']*)'", session.group(1)))
    assert named == {
        "show": contract.SESSION_SHOW,
        "reset": contract.SESSION_RESET,
        "compact": contract.SESSION_COMPACT,
    }


COMMAND_MENTION = re.compile(r"responses-lsp\.(?:[a-z][A-Za-z]*)(?:\.[a-z][A-Za-z]*)*")
NOTIFICATION_MENTION = re.compile(r"responsesLsp/[A-Za-z]+")


@pytest.mark.parametrize(
    "path",
    [*DOCS, *ELISP, *sorted(VSCODE.glob("*.ts")), *sorted(NVIM.glob("*.lua"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_command_and_notification_the_editor_code_names_exists(path: Path) -> None:
    text = read(path)
    # `responses-lsp.<x>` in prose can be a settings path of another editor, a file name, ...:
    # only the names in a command position count (quoted, or backticked alone)
    quoted = re.findall(r"""["'`](responses-lsp\.[A-Za-z.]+?)["'`]""", text)
    unknown = sorted({name for name in quoted if COMMAND_MENTION.fullmatch(name)})
    unknown = [name for name in unknown if name not in contract.COMMANDS]
    assert not unknown, f"{path.name} names commands the server does not have: {unknown}"
    notifications = set(NOTIFICATION_MENTION.findall(text))
    assert notifications <= {contract.JOB_DONE}, notifications


def test_the_readme_lists_every_command() -> None:
    readme = read(ROOT / "README.md")
    for command in contract.COMMANDS:
        short = command.removeprefix("responses-lsp.session")
        assert command in readme or (short and f"`{short}`" in readme), command


# ---- the server sends what the constants say ---------------------------------------------------


async def test_a_real_job_uses_the_contract_strings(tmp_path: Path) -> None:
    source = "def fetch(url):\n    return url\n"
    with LoopbackServer() as api:
        api.script(Reply.text("async def fetch(url):\n    return url\n", chunks=6))
        async with open_session("vscode", api, tmp_path) as lsp:
            caps = lsp.init_result.capabilities if lsp.init_result else None
            assert caps is not None and caps.execute_command_provider is not None
            assert sorted(caps.execute_command_provider.commands) == sorted(contract.COMMANDS)
            uri = lsp.open("app.py", source)
            answer = await lsp.execute(
                contract.RUN,
                {"action": "refactor-to-async", "uri": uri, "range": lsp.span(uri, 0, len(source))},
            )
            assert answer["outcome"] == "started"
            job_id = answer["jobId"]
            assert answer["token"] == contract.progress_token(job_id)
            result = await lsp.editor.job_result(answer, 30)  # arrives only as JOB_DONE
            tokens = set(lsp.client.progress_reports)
    assert result["outcome"] == "applied"
    assert contract.progress_token(job_id) in tokens
    labels = [edit.label for edit in lsp.editor.applied]
    assert labels, "the job sent no edit"
    vscode = ts_regex(read(VSCODE / "undo.ts"), "LABEL")
    nvim = lua_pattern(read(NVIM / "undo.lua"), "LABEL")
    for label in labels:
        assert label is not None and label.startswith(contract.edit_label(job_id, ""))
        assert job_of(label, vscode) == job_of(label, nvim) == str(job_id)
