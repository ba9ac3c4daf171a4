"""responses-lsp behind the real LiteLLM proxy, through the CLI and the LSP.

The proxy runs with a master key and no database, in front of the local model stand-in
(`standin.py`); see `conftest.py`. Each test names what a user behind such a gateway does
and what they must get.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.e2e.conftest import open_session
from tests.gateway.conftest import MASTER_KEY, MODEL, Gateway
from tests.gateway.standin import Failure, StandIn, ToolCall, Turn, last_user_text, rewrite_brain

SHOP = Path(__file__).resolve().parents[1] / "e2e" / "fixtures" / "shop"
CLI_TIMEOUT = 120


def cli(gateway: Gateway, *args: str, key: str = MASTER_KEY, cwd: Path | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "responses_lsp", *args],
        env=gateway.env(key, RESPONSES_LSP_STATE_DIR=str((cwd or Path.cwd()) / ".state")),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        cwd=cwd,
        check=False,
    )


def access_log(gateway: Gateway) -> list[str]:
    """The proxy's access log lines (`"POST /v1/responses/compact HTTP/1.1" 500`)."""
    text = gateway.log.read_text(encoding="utf-8", errors="replace")
    return re.findall(r'"(?:GET|POST) /v1/[^"]*" \d{3}', text)


# --------------------------------------------------------------------------------- CLI


def test_cli_apply_streams_a_rewrite_through_litellm(
    gateway: Gateway, fresh_standin: StandIn, tmp_path: Path
) -> None:
    app = tmp_path / "app.py"
    app.write_text("import httpx\n\n\ndef fetch(url):\n    return httpx.get(url)\n")
    done = cli(gateway, "apply", "--action", "refactor-to-async", f"{app}:4-5", "--write")
    assert done.returncode == 0, done.stderr
    assert app.read_text() == "import httpx\n\n\nasync def fetch(url):\n    return httpx.get(url)\n"
    [body] = fresh_standin.requests  # one chat completion upstream, streamed
    assert body["stream"] is True and body["model"] == MODEL


def test_cli_wrong_key_says_the_key_was_rejected_in_litellms_words(
    gateway: Gateway, fresh_standin: StandIn, tmp_path: Path
) -> None:
    app = tmp_path / "app.py"
    app.write_text("def fetch(url):\n    return get(url)\n")
    wrong = "sk-not-the-master-key-4242"
    done = cli(gateway, "apply", "--action", "refactor-to-async", f"{app}:1-2", key=wrong)
    assert done.returncode == 3, done.stderr
    error = done.stderr
    assert "rejected the API key" in error and "No connected db." in error
    assert "LiteLLM proxy says this when the key is not its master key" in error
    assert error.count("400") == 1  # the status once, never "HTTP 400, 400"
    assert wrong not in error + done.stdout
    assert fresh_standin.requests == []  # nothing reached the model


def test_check_prints_which_compaction_strategies_and_tool_forms_work(
    gateway: Gateway, fresh_standin: StandIn, tmp_path: Path
) -> None:
    done = cli(gateway, "check", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "fails" in lines["endpoint"] and "HTTP 500" in lines["endpoint"]
    assert "COMPACT responses is not supported" in lines["endpoint"]
    assert "fails" in lines["inline"] and "HTTP 400" in lines["inline"]
    assert "UnsupportedParamsError" in lines["inline"]
    assert "works" in lines["summary"]
    assert "works" in lines["custom"] and "works" in lines["function"]
    chosen = [line.strip() for line in out.splitlines() if line.strip().startswith("->")]
    assert chosen == ["-> summary", "-> custom"]


def test_a_scheme_less_base_url_is_an_error_and_nothing_is_sent(
    gateway: Gateway, fresh_standin: StandIn, tmp_path: Path
) -> None:
    bare = gateway.base_url.removeprefix("http://")
    before = len(access_log(gateway))
    done = subprocess.run(
        [sys.executable, "-m", "responses_lsp", "check"],
        env=gateway.env(OPENAI_BASE_URL=bare, RESPONSES_LSP_STATE_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert done.returncode == 3
    assert "must start with http:// or https://" in done.stderr
    assert "api.openai.com/v1/responses" not in done.stdout
    assert len(access_log(gateway)) == before


# --------------------------------------------------------------------------------- LSP


async def test_twenty_actions_with_compaction_all_apply_and_summary_is_chosen_once(
    gateway: Gateway, fresh_standin: StandIn, tmp_path: Path
) -> None:
    functions = [f"def step_{i}(x):\n    return x + {i}\n" for i in range(20)]
    source = "\n".join(functions)
    before = len(access_log(gateway))
    settings = {"model": MODEL, "compactThreshold": 1800, "session": "workspace"}
    async with open_session(
        "neovim", gateway, tmp_path, settings=settings, api_key=MASTER_KEY
    ) as s:  # type: ignore[arg-type]
        uri = s.open("steps.py", source)
        for i in range(20):
            text = s.editor.text(uri)
            start = text.index(f"def step_{i}(")
            end = text.index("\n", text.index(f"return x + {i}", start)) + 1
            result = await s.run(uri, "refactor-to-async", s.span(uri, start, end))
            assert result["outcome"] == "applied", (i, result)
        final = s.editor.text(uri)
        shown = await s.execute("responses-lsp.session.show", {"uri": uri})
    assert all(f"async def step_{i}(x):" in final for i in range(20))
    assert final.count("async def") == 20
    log = access_log(gateway)[before:]
    compact_tries = [line for line in log if "/v1/responses/compact" in line]
    inline_tries = [line for line in log if line.endswith('/v1/responses HTTP/1.1" 400')]
    assert compact_tries == ['POST /v1/responses/compact HTTP/1.1" 500'.join(['"', ""])]
    assert len(inline_tries) == 1  # context_management: one 400, then never again
    summaries = [b for b in fresh_standin.requests if "CONTEXT CHECKPOINT" in last_user_text(b)]
    print(f"20 actions: {shown['compactions']} compactions; proxy saw: {sorted(set(log))}")
    assert shown["compactions"] >= 2, shown
    assert len(summaries) == shown["compactions"]  # every compaction was a summary turn
    assert not [m for m in s.messages() if "oldest turns were dropped" in m]


async def test_a_multi_file_action_with_tools_through_litellm(
    gateway: Gateway, fresh_standin: StandIn, tmp_path: Path
) -> None:
    from tests.e2e.test_multifile_e2e import PATCH

    root = tmp_path / "ws"
    shutil.copytree(SHOP, root)
    seen_tools: list[list[str]] = []

    def model(body: dict[str, Any]) -> Turn:
        seen_tools.append([t["function"]["name"] for t in body.get("tools", [])])
        done = sum(1 for m in body["messages"] if m.get("role") == "tool")
        if done == 0:
            return Turn(tool_calls=[ToolCall("read_file", json.dumps({"path": "shop/api.py"}))])
        if done == 1:
            return Turn(tool_calls=[ToolCall("search", json.dumps({"pattern": "fetch_user("}))])
        if done == 2:
            path = json.dumps({"path": "shop/service.py"})
            return Turn(tool_calls=[ToolCall("read_file", path)])
        if done == 3:
            # the freeform tool reaches a chat model as a function: answer in its schema
            tool = next(t for t in body["tools"] if t["function"]["name"] == "apply_patch")
            [argument] = tool["function"]["parameters"]["properties"]
            return Turn(tool_calls=[ToolCall("apply_patch", json.dumps({argument: PATCH}))])
        return Turn("Made fetch_user async and awaited it at every call site.")

    fresh_standin.brain = model
    async with open_session(
        "vscode", gateway, root, settings={"model": MODEL}, api_key=MASTER_KEY
    ) as s:  # type: ignore[arg-type]
        source = (root / "shop" / "api.py").read_text()
        uri = s.open("shop/api.py", source)
        result = await s.run(
            uri, "refactor-to-async-with-callers", s.span(uri, source.index("response = requests"))
        )
        assert result["outcome"] == "applied", result
        api_text = s.editor.text(uri)
    assert "async def fetch_user(user_id):" in api_text
    assert "user = await fetch_user(user_id)" in (root / "shop" / "service.py").read_text()
    assert "asyncio.run(load_profile(1))" in (root / "shop" / "cli.py").read_text()
    assert len(fresh_standin.requests) == 5
    assert set(seen_tools[0]) == {"read_file", "search", "list_files", "apply_patch"}
    tool_results = [m for m in fresh_standin.requests[-1]["messages"] if m.get("role") == "tool"]
    assert str(tool_results[3]["content"]).startswith("Success.")


async def test_a_mid_stream_upstream_failure_is_retried_and_the_rewrite_applies(
    gateway: Gateway, fresh_standin: StandIn, tmp_path: Path
) -> None:
    fresh_standin.fail_next(Failure(cut_after=2))  # the model server dies after two chunks
    source = "def fetch(url):\n    return get(url)\n"
    async with open_session(
        "vscode", gateway, tmp_path, settings={"model": MODEL, "maxRetries": 3}, api_key=MASTER_KEY
    ) as s:  # type: ignore[arg-type]
        uri = s.open("app.py", source)
        result = await s.run(uri, "refactor-to-async", s.span(uri, 0, len(source)))
        assert result["outcome"] == "applied", result
        assert s.editor.text(uri) == "async def fetch(url):\n    return get(url)\n"
        reports = [
            r.message
            for v in s.client.progress_reports.values()
            for r in v
            if getattr(r, "message", None)
        ]
    assert any("retrying" in m for m in reports), reports
    assert len(fresh_standin.requests) >= 2
    assert fresh_standin.brain is rewrite_brain


async def test_behind_a_path_prefix_with_a_routing_header_and_the_key_in_api_key(
    gateway: Gateway, fresh_standin: StandIn, tmp_path: Path
) -> None:
    # the settings the README gives for a gateway mounted under a prefix that routes by header
    from tests.gateway.front import TEAM, Front

    with Front(gateway.base_url) as front:
        settings = {
            "model": MODEL,
            "extraHeaders": {"X-Team": TEAM},
            "apiKeyHeader": "api-key",
        }
        entry = Gateway(front.base_url, gateway.log)  # http://127.0.0.1:PORT/llm/v1
        source = "def fetch(url):\n    return get(url)\n"
        async with open_session(
            "vscode", entry, tmp_path, settings=settings, api_key=MASTER_KEY
        ) as s:  # type: ignore[arg-type]
            uri = s.open("app.py", source)
            result = await s.run(uri, "refactor-to-async", s.span(uri, 0, len(source)))
            assert result["outcome"] == "applied", result
            assert s.editor.text(uri) == "async def fetch(url):\n    return get(url)\n"
    [headers] = front.seen
    assert headers["x-team"] == TEAM and headers["api-key"] == MASTER_KEY
    assert "authorization" not in headers
    assert len(fresh_standin.requests) == 1
