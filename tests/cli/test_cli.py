"""The command line end to end: `demo`, `apply` and `check`, each run as a real subprocess
(`python -m responses_lsp ...`) against a loopback Responses endpoint started by the test.

Each scenario reads: the file, what the endpoint answers, the command, and what the
command must print, write and exit with.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.samples import ASYNC_FETCH, FETCH, REFACTORED, SOURCE
from tests.loopback import LoopbackServer, Reply

SERVER_DIR = str(Path(__file__).resolve().parents[2] / "server")
KEY = "sk-test-cli-0123456789abcdef"
MASKED = "sk-****cdef"
WRONG_KEY = "sk-wrong-key-9876543210zyxw"
TIMEOUT = 30

FETCH_DIFF = "".join(
    line + "\n"
    for line in [
        "--- a/app.py",
        "+++ b/app.py",
        "@@ -1,9 +1,10 @@",
        " import requests",
        " ",
        " ",
        "-def fetch(url):",
        "+async def fetch(url):",
        '     """Fetch a URL."""',
        "-    response = requests.get(url)",
        "+    async with httpx.AsyncClient() as client:",
        "+        response = await client.get(url)",
        "     return response.text",
        " ",
        " ",
    ]
)


@pytest.fixture
def api() -> Iterator[LoopbackServer]:
    with LoopbackServer(expected_key=KEY) as server:
        yield server


def run_cli(
    *args: str,
    cwd: Path,
    api: LoopbackServer | None = None,
    key: str | None = KEY,
    stdin: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m responses_lsp ARGS` with a clean environment pointing at `api`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "RESPONSES_LSP_")) and k not in ("NO_COLOR", "PYTHONPATH")
    }
    env["PYTHONPATH"] = SERVER_DIR
    env["XDG_STATE_HOME"] = str(cwd / ".state")
    if api is not None:
        env["OPENAI_BASE_URL"] = api.base_url
    if key is not None:
        env["OPENAI_API_KEY"] = key
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "responses_lsp", *args],
        cwd=cwd,
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
    )


def prompt_of(api: LoopbackServer) -> str:
    """The user message text of the last /v1/responses request."""
    body = api.requests[-1].body or {}
    return "\n".join(
        part.get("text", "") for item in body.get("input", []) for part in item.get("content", [])
    )


def never_shows_a_key(result: subprocess.CompletedProcess[str]) -> None:
    for secret in (KEY, WRONG_KEY):
        assert secret not in result.stdout + result.stderr


@pytest.fixture
def app(tmp_path: Path) -> Path:
    path = tmp_path / "app.py"
    path.write_text(SOURCE, encoding="utf-8")
    return path


# ----------------------------------------------------------------- demo


def test_demo_streams_the_scripted_refactor_with_no_key(tmp_path: Path) -> None:
    out = tmp_path / "result.py"

    result = run_cli("demo", "--speed", "4000", "--output-file", str(out), cwd=tmp_path, key=None)

    assert result.returncode == 0, result.stderr
    expected = files("responses_lsp").joinpath("demo", "weather_async.py.txt").read_text("utf-8")
    assert out.read_text(encoding="utf-8") == expected
    assert "scripted" in result.stdout
    assert "no network, no API key" in result.stdout
    assert "+async def report(cities: dict[str, tuple[float, float]]) -> list[str]:" in (
        result.stdout
    )
    assert "applied in" in result.stdout


def test_demo_bundles_valid_python() -> None:
    import ast

    for name in ("weather.py.txt", "weather_async.py.txt"):
        ast.parse(files("responses_lsp").joinpath("demo", name).read_text("utf-8"))


# ----------------------------------------------------------------- apply


def test_apply_prints_the_diff_of_the_enclosing_function(
    api: LoopbackServer, app: Path, tmp_path: Path
) -> None:
    api.script(Reply.text(ASYNC_FETCH, fence="python"))

    result = run_cli("apply", "--action", "refactor-to-async", "app.py:6", cwd=tmp_path, api=api)

    assert result.returncode == 0, result.stderr
    assert result.stdout == FETCH_DIFF
    assert app.read_text(encoding="utf-8") == SOURCE  # a diff only: the file is untouched
    assert "File: app.py (Python), selection = lines 4-7" in prompt_of(api)  # the function
    never_shows_a_key(result)


def test_apply_write_changes_the_file(api: LoopbackServer, app: Path, tmp_path: Path) -> None:
    api.script(Reply.text(ASYNC_FETCH))

    result = run_cli(
        "apply", "--action", "refactor-to-async", "app.py:4-7", "--write", cwd=tmp_path, api=api
    )

    assert result.returncode == 0, result.stderr
    assert app.read_text(encoding="utf-8") == REFACTORED
    assert result.stdout == ""
    assert "wrote app.py (+3 -2 lines)" in result.stderr
    assert "; checked" in result.stderr  # the answer was parsed before it was written


def test_apply_summary_shows_tokens_and_cost(
    api: LoopbackServer, app: Path, tmp_path: Path
) -> None:
    usage = {
        "input_tokens": 4_000,
        "input_tokens_details": {"cached_tokens": 2_048},
        "output_tokens": 500,
        "output_tokens_details": {"reasoning_tokens": 100},
    }
    api.script(Reply.text(ASYNC_FETCH, usage=usage))
    prices = {"gpt-5.2-codex": {"input": 1.75, "cachedInput": 0.175, "output": 14}}

    result = run_cli(
        "apply",
        "--action",
        "refactor-to-async",
        "app.py:4-7",
        "--write",
        cwd=tmp_path,
        api=api,
        extra_env={"RESPONSES_LSP_PRICES": json.dumps(prices)},
    )

    assert result.returncode == 0, result.stderr
    # (1,952 * 1.75 + 2,048 * 0.175 + 500 * 14) / 1e6 = $0.0108
    assert (
        " · 4,000 input tokens (2,048 cached), 500 output (100 reasoning), $0.0108; wrote app.py"
        in result.stderr
    )


def test_apply_summary_says_when_the_endpoint_reports_no_usage(
    api: LoopbackServer, app: Path, tmp_path: Path
) -> None:
    frames = (
        Path(__file__).parents[1] / "fixtures" / "streams" / "llama_stack_text.sse"
    ).read_bytes()
    api.script(Reply.raw_frames([f + b"\n\n" for f in frames.split(b"\n\n") if f.strip()]))

    result = run_cli("apply", "--action", "refactor-to-async", "app.py:4-7", cwd=tmp_path, api=api)

    assert result.returncode == 0, result.stderr
    assert " · usage not reported; +" in result.stderr
    assert "0 input tokens" not in result.stderr


def test_apply_leaves_the_file_as_it_was_when_the_answer_does_not_parse(
    api: LoopbackServer, app: Path, tmp_path: Path
) -> None:
    broken = ASYNC_FETCH.replace("client.get(url)", "client.get(url")  # line 7: never closed
    api.script(Reply.text(broken), Reply.text(broken))  # the answer, then the repair turn

    result = run_cli(
        "apply", "--action", "refactor-to-async", "app.py:4-7", "--write", cwd=tmp_path, api=api
    )

    assert result.returncode == 4, result.stderr  # the action failed: nothing written
    assert app.read_text(encoding="utf-8") == SOURCE
    assert "restored: syntax error at line 7 ('(' was never closed)" in result.stderr
    assert len([r for r in api.requests if r.path == "/v1/responses"]) == 2


def test_apply_reads_stdin_and_prints_the_new_text(api: LoopbackServer, tmp_path: Path) -> None:
    api.script(Reply.text(ASYNC_FETCH), Reply.text(ASYNC_FETCH))

    new_text = run_cli(
        "apply", "--action", "refactor-to-async", "-", "--lines", "5", "--stdin-filename", "app.py",
        cwd=tmp_path, api=api, stdin=SOURCE,
    )  # fmt: skip
    diff = run_cli(
        "apply", "--action", "refactor-to-async", "-", "--lines", "4-7", "--diff",
        "--stdin-filename", "app.py",
        cwd=tmp_path, api=api, stdin=SOURCE,
    )  # fmt: skip

    assert new_text.returncode == 0, new_text.stderr
    assert new_text.stdout == REFACTORED
    assert diff.returncode == 0, diff.stderr
    assert diff.stdout == FETCH_DIFF


def test_apply_exits_1_when_the_model_changes_nothing(
    api: LoopbackServer, app: Path, tmp_path: Path
) -> None:
    api.script(Reply.text(FETCH))

    result = run_cli(
        "apply", "--action", "refactor-to-async", "app.py:6", "--write", cwd=tmp_path, api=api
    )

    assert result.returncode == 1, result.stderr
    assert "no change" in result.stderr
    assert result.stdout == ""
    assert app.read_text(encoding="utf-8") == SOURCE


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--action", "refactor-to-async", "missing.py"], "cannot read missing.py"),
        (["--action", "refactor-to-async", "app.py:40"], "line 40 is past the end of app.py"),
        (["--action", "refactor-to-async", "app.py:5-3"], "bad line range"),
        (["--action", "refactor-to-async", "-", "--write"], "--write needs a file"),
        (["app.py"], "the following arguments are required: --action"),
    ],
)
def test_apply_usage_errors_exit_2(
    args: list[str], says: str, api: LoopbackServer, app: Path, tmp_path: Path
) -> None:
    result = run_cli("apply", *args, cwd=tmp_path, api=api)

    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert api.requests == []


def test_apply_an_action_not_offered_is_a_usage_error(
    api: LoopbackServer, app: Path, tmp_path: Path
) -> None:
    result = run_cli("apply", "--action", "make-it-rust", "app.py", cwd=tmp_path, api=api)

    assert result.returncode == 2
    assert "'make-it-rust' is not offered for this python file" in result.stderr
    assert "refactor-to-async" in result.stderr  # what is offered instead
    assert api.requests == []


def test_apply_without_a_key_exits_3(api: LoopbackServer, app: Path, tmp_path: Path) -> None:
    result = run_cli(
        "apply", "--action", "refactor-to-async", "app.py:6", cwd=tmp_path, api=api, key=None
    )

    assert result.returncode == 3
    assert "no API key: set OPENAI_API_KEY" in result.stderr
    assert "responses-lsp check" in result.stderr  # the hint
    assert api.requests == []


def test_apply_with_a_rejected_key_exits_3(api: LoopbackServer, app: Path, tmp_path: Path) -> None:
    result = run_cli(
        "apply", "--action", "refactor-to-async", "app.py:6", cwd=tmp_path, api=api, key=WRONG_KEY
    )

    assert result.returncode == 3
    error, hint = result.stderr.strip().splitlines()[-2:]  # one line and a hint
    assert error.startswith("responses-lsp apply: error: the endpoint rejected the API key")
    assert "(HTTP 401" in error
    assert error.count("401") == 1
    assert hint.startswith("  hint: ")
    assert app.read_text(encoding="utf-8") == SOURCE
    never_shows_a_key(result)


# ----------------------------------------------------------------- check


def test_check_ok_shows_what_is_used_with_the_key_masked(
    api: LoopbackServer, tmp_path: Path
) -> None:
    result = run_cli("check", cwd=tmp_path, api=api)

    assert result.returncode == 0, result.stderr
    assert f"calls     {api.base_url}/v1/responses" in result.stdout
    assert "model     gpt-5.2-codex (from default)" in result.stdout
    assert f"API key   {MASKED} (from environment variable OPENAI_API_KEY)" in result.stdout
    assert "OK:" in result.stdout
    # the test set-up installs the parse extra: edits in these languages are parse-checked
    assert "syntax    checked: python (standard library), javascript," in result.stdout
    assert "go, rust, c, cpp, java, shellscript, sh, bash (tree-sitter)\n" in result.stdout
    # then one request per compaction strategy and per apply_patch form, none retried
    assert [(r.method, r.path) for r in api.requests] == [
        ("GET", "/v1/models"),
        ("POST", "/v1/responses/compact"),
        *[("POST", "/v1/responses")] * 4,
    ]
    out = result.stdout
    assert "  endpoint  works: POST /v1/responses/compact returns a compaction item" in out
    assert "  -> endpoint" in result.stdout
    assert "  custom    works: freeform custom tool accepted" in result.stdout
    assert "  -> custom" in result.stdout
    never_shows_a_key(result)


def test_check_401_says_the_key_is_missing_or_rejected(api: LoopbackServer, tmp_path: Path) -> None:
    result = run_cli("check", cwd=tmp_path, api=api, key=WRONG_KEY)

    assert result.returncode == 3
    assert "the endpoint rejected the API key (HTTP 401" in result.stderr
    assert "OPENAI_API_KEY" in result.stderr
    assert "sk-****zyxw" in result.stdout
    never_shows_a_key(result)


def test_check_403_says_the_key_has_no_access_to_the_model(
    api: LoopbackServer, tmp_path: Path
) -> None:
    api.models = ["gpt-4o-mini"]
    api.script(Reply.error(403))

    result = run_cli("check", cwd=tmp_path, api=api)

    assert result.returncode == 3
    assert "gpt-5.2-codex not among them; trying a tiny request" in result.stdout
    assert "answered 403: the API key has no access to model 'gpt-5.2-codex'" in result.stderr
    tiny = api.requests[-1]
    assert (tiny.method, tiny.path) == ("POST", "/v1/responses")
    assert tiny.body is not None and tiny.body["max_output_tokens"] == 16
    never_shows_a_key(result)


def test_check_404_says_the_base_url_must_be_the_host_only(
    api: LoopbackServer, tmp_path: Path
) -> None:
    result = run_cli("check", "--base-url", api.base_url + "/api", cwd=tmp_path, api=api)

    assert result.returncode == 3
    assert "the base URL must be the host only (we call /v1/responses)" in result.stderr
    assert [(r.method, r.path) for r in api.requests] == [
        ("GET", "/api/v1/models"),
        ("POST", "/api/v1/responses"),
    ]
    never_shows_a_key(result)


def test_check_without_a_key_exits_3_before_calling(api: LoopbackServer, tmp_path: Path) -> None:
    result = run_cli("check", cwd=tmp_path, api=api, key=None)

    assert result.returncode == 3
    assert "API key   none (OPENAI_API_KEY is not set)" in result.stdout
    assert "the API key is missing" in result.stderr
    assert api.requests == []


def test_check_an_unreachable_endpoint_exits_3(tmp_path: Path) -> None:
    with LoopbackServer() as gone:
        url = gone.base_url  # a port that nothing listens on once the server stops

    result = run_cli("check", "--base-url", url, cwd=tmp_path)

    assert result.returncode == 3
    assert "could not reach the endpoint" in result.stderr
    assert "Traceback" not in result.stderr


# ----------------------------------------------------------------- the CLI's editor model


def _reference_lines(text: str) -> list[str]:
    import re

    lines = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)", text)
    return [*lines, text[sum(map(len, lines)) :]]


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet="aé😀 \n\r", max_size=30),
    edits=st.lists(
        st.tuples(
            st.integers(0, 40),
            st.integers(0, 40),
            st.integers(0, 40),
            st.integers(0, 40),
            st.text(alphabet="b😀\n\r", max_size=6),
        ),
        max_size=6,
    ),
)
def test_text_buffer_applies_utf16_edits_like_the_text_would(
    text: str, edits: list[tuple[int, int, int, int, str]]
) -> None:
    from lsprotocol import types as t

    from responses_lsp.cli.buffer import TextBuffer

    doc = TextBuffer("file:///x.py", text, "python")
    for l1, c1, l2, c2, new in edits:
        lines = _reference_lines(text)
        (l1, c1), (l2, c2) = sorted(
            (
                (min(l1, len(lines) - 1), c1),
                (min(l2, len(lines) - 1), c2),
            )
        )
        content = [line.rstrip("\r\n") for line in lines]
        c1, c2 = min(c1, len(content[l1])), min(c2, len(content[l2]))
        if (l1, c1) > (l2, c2):
            c1, c2 = c2, c1
        start = sum(map(len, lines[:l1])) + c1
        end = sum(map(len, lines[:l2])) + c2
        rng = t.Range(
            start=t.Position(line=l1, character=_units(content[l1][:c1])),
            end=t.Position(line=l2, character=_units(content[l2][:c2])),
        )
        doc.replace(rng, new)
        text = text[:start] + new + text[end:]
        assert doc.text == text
        assert doc.lines == _reference_lines(text)


def test_live_view_frame_shows_new_text_then_the_original_below_it() -> None:
    from responses_lsp.cli.console import Style
    from responses_lsp.cli.demo import render_frame

    frame = render_frame(
        "async def f():\n    aw",
        "def f():\n    time.sleep(1)\n",
        rows=10,
        cols=40,
        style=Style(False),
        title="f.py",
        status="streaming · 5 tokens",
    )

    assert frame[1:] == [
        "   1 │ async def f():",
        "   2 │     awdef f():",
        "   3 ┊     time.sleep(1)",
        "streaming · 5 tokens",
    ]
