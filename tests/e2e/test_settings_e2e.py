"""Settings end to end: bad values fall back with one message, changes apply at once."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types as t

from tests.e2e.conftest import open_session
from tests.fakes.samples import ASYNC_FETCH, CURSOR, REFACTORED, SOURCE
from tests.loopback import LoopbackServer, Reply


async def test_bad_settings_fall_back_with_one_message_and_the_server_keeps_working(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    bad = {"requestTimeout": -5, "session": "sometimes", "model": "custom-model", "nope": 1}
    async with open_session("vscode", loopback, tmp_path, settings=bad) as s:
        loopback.script(Reply.text(ASYNC_FETCH))
        uri = s.open("app.py", SOURCE)
        result = await s.run(uri, "refactor-to-async", s.span(uri, CURSOR))
        assert result["outcome"] == "applied"
        assert s.editor.text(uri) == REFACTORED
        warnings = [m for m in s.messages() if "settings were invalid" in m]
        assert len(warnings) == 1
        assert (
            "requestTimeout" in warnings[0] and "session" in warnings[0] and "nope" in warnings[0]
        )
        assert loopback.requests[-1].body["model"] == "custom-model"  # the valid key still applies


async def test_did_change_configuration_applies_to_the_next_request(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    async with open_session("vscode", loopback, tmp_path) as s:
        loopback.script(Reply.text(ASYNC_FETCH), Reply.text(ASYNC_FETCH))
        uri = s.open("app.py", SOURCE)
        await s.run(uri, "refactor-to-async", s.span(uri, CURSOR))
        assert loopback.requests[-1].body["model"] == "gpt-5.2-codex"
        s.client.workspace_did_change_configuration(
            t.DidChangeConfigurationParams(
                settings={"responsesLsp": {"model": "gpt-other", "reasoningEffort": "low"}}
            )
        )
        second = SOURCE.index("print(fetch")
        await s.run(uri, "add-docstrings", s.span(uri, second))
        body = loopback.requests[-1].body
        assert body["model"] == "gpt-other"
        assert body["reasoning"] == {"effort": "low"}
        assert body["include"] == ["reasoning.encrypted_content"]


async def test_secret_files_and_deny_patterns_are_never_sent(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    async with open_session(
        "vscode", loopback, tmp_path, settings={"denyPatterns": ["*.private.py"]}
    ) as s:
        for name in (".env", "keys.pem", "config.private.py"):
            uri = s.open(name, "SECRET = 'x'\ndef f():\n    return SECRET\n")
            assert await s.actions(uri, s.span(uri, 20)) == []
            cursor = {"line": 1, "character": 0}
            args = {
                "action": "add-type-hints",
                "uri": uri,
                "range": {"start": cursor, "end": cursor},
            }
            result = await s.run_command(args)
            assert result["outcome"] == "error" and "secrets file" in result["message"]
        assert loopback.requests == []
