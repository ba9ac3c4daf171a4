"""Multi-file actions end to end: the model reads files, searches for callers and sends a
patch through tool calls; the server answers every call and proposes one WorkspaceEdit.

The scripted model plays a realistic exchange on a small package (tests/e2e/fixtures/shop):
read `shop/api.py`, search for `fetch_user(`, read `shop/service.py`, then patch three files.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as t

from tests.e2e.conftest import open_session
from tests.loopback import LoopbackServer, Reply

FIXTURE = Path(__file__).parent / "fixtures" / "shop"

PATCH = """*** Begin Patch
*** Update File: shop/api.py
@@
-import requests
+import httpx
@@
-def fetch_user(user_id):
-    response = requests.get(f"https://api.example.com/users/{user_id}")
-    return response.json()
+async def fetch_user(user_id):
+    async with httpx.AsyncClient() as client:
+        response = await client.get(f"https://api.example.com/users/{user_id}")
+    return response.json()
*** Update File: shop/service.py
@@
-def load_profile(user_id):
-    user = fetch_user(user_id)
+async def load_profile(user_id):
+    user = await fetch_user(user_id)
     return {"name": user["name"]}
@@
-def load_many(ids):
-    return [fetch_user(i) for i in ids]
+async def load_many(ids):
+    return [await fetch_user(i) for i in ids]
*** Update File: shop/cli.py
@@
+import asyncio
+
 from shop.service import load_profile
@@
 def main():
-    print(load_profile(1))
+    print(asyncio.run(load_profile(1)))
*** End Patch
"""
MALFORMED = "*** Update File: shop/api.py\n-import requests\n+import httpx\n"


def tool_outputs(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in body["input"] if i.get("type", "").endswith("_call_output")]


def scripted_model(patches: list[str]) -> Any:
    """Read, search, read, then the patches in turn (each after the previous output)."""

    def reply(request: Any) -> Reply:
        done = len(tool_outputs(request.body))
        if done == 0:
            return Reply.function_call("read_file", json.dumps({"path": "shop/api.py"}))
        if done == 1:
            return Reply.function_call("search", json.dumps({"pattern": "fetch_user("}))
        if done == 2:
            return Reply.function_call("read_file", json.dumps({"path": "shop/service.py"}))
        if done - 3 < len(patches):
            return Reply.custom_tool_call("apply_patch", patches[done - 3])
        return Reply.text("Made fetch_user async and awaited it at every call site.")

    return reply


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(FIXTURE, root)
    return root


async def run_with_callers(
    profile: str, api: LoopbackServer, root: Path
) -> tuple[Any, dict[str, Any]]:
    async with open_session(profile, api, root) as s:
        source = (root / "shop" / "api.py").read_text()
        uri = s.open("shop/api.py", source)
        cursor = source.index("response = requests")
        result = await s.run(uri, "refactor-to-async-with-callers", s.span(uri, cursor))
        return s, result


async def test_refactor_to_async_updates_every_call_site(
    profile: str, loopback: LoopbackServer, workspace: Path
) -> None:
    loopback.responder = scripted_model([PATCH])
    session, result = await run_with_callers(profile, loopback, workspace)
    assert result["outcome"] == "applied", result

    calls = loopback.requests
    assert len(calls) == 5  # read, search, read, patch, summary
    # the action's usage is the sum over the five responses of its tool loop
    usages = [
        next(e for e in c.sent_events if e["type"] == "response.completed")["response"]["usage"]
        for c in calls
    ]
    assert result["usage"]["responses"] == 5
    assert result["usage"]["inputTokens"] == sum(u["input_tokens"] for u in usages)
    assert result["usage"]["outputTokens"] == sum(u["output_tokens"] for u in usages)
    read_api, search, read_service, patch_done = (tool_outputs(calls[-1].body)[i] for i in range(4))
    assert "def fetch_user(user_id):" in read_api["output"] and "   4|" in read_api["output"]
    assert "shop/service.py:5:" in search["output"] and "shop/service.py:10:" in search["output"]
    assert "load_many" in read_service["output"]
    assert patch_done["output"].startswith("Success.") and "M shop/cli.py" in patch_done["output"]
    assert calls[0].body["tools"] and {tool["name"] for tool in calls[0].body["tools"]} == {
        "read_file",
        "search",
        "list_files",
        "apply_patch",
    }

    steps = [
        r.message
        for v in session.client.progress_reports.values()
        for r in v
        if getattr(r, "message", None)
    ]
    assert "reading shop/api.py" in steps and "searching for 'fetch_user('" in steps

    [proposal] = session.editor.applied  # one WorkspaceEdit for every file
    edit = proposal.edit
    if session.editor.profile == "vscode":
        assert {dc.text_document.uri.rsplit("/", 1)[-1] for dc in edit.document_changes} == {
            "api.py",
            "service.py",
            "cli.py",
        }
        [annotation] = edit.change_annotations.values()
        assert annotation.needs_confirmation is True
    else:  # Neovim 0.11 advertises no documentChanges: plain changes
        assert len(edit.changes) == 3

    api_text = session.editor.text(session.uri("shop/api.py"))  # the open document
    assert "async def fetch_user(user_id):" in api_text and "await client.get" in api_text
    (workspace / "shop" / "api.py").write_text(api_text)  # the user saves
    service = (workspace / "shop" / "service.py").read_text()
    assert "user = await fetch_user(user_id)" in service
    assert "[await fetch_user(i) for i in ids]" in service
    assert "asyncio.run(load_profile(1))" in (workspace / "shop" / "cli.py").read_text()
    compiled = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "compileall",
        "-q",
        str(workspace / "shop"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(compiled.communicate(), 60)
    assert compiled.returncode == 0, out.decode()


async def test_a_malformed_patch_is_an_error_for_the_model_and_the_corrected_one_applies(
    loopback: LoopbackServer, workspace: Path
) -> None:
    loopback.responder = scripted_model([MALFORMED, PATCH])
    session, result = await run_with_callers("vscode", loopback, workspace)
    assert result["outcome"] == "applied", result
    outputs = tool_outputs(loopback.requests[-1].body)
    assert outputs[3]["output"].startswith("error:") and "line 1" in outputs[3]["output"]
    assert outputs[4]["output"].startswith("Success.")
    assert len(session.editor.applied) == 1


async def test_declining_the_confirmation_changes_nothing(
    loopback: LoopbackServer, workspace: Path
) -> None:
    loopback.responder = scripted_model([PATCH])
    before = {p.name: p.read_text() for p in (workspace / "shop").glob("*.py")}
    async with open_session("vscode", loopback, workspace) as s:
        s.editor.confirm = lambda _edit: False  # the user says no in the preview
        source = before["api.py"]
        uri = s.open("shop/api.py", source)
        result = await s.run(
            uri, "refactor-to-async-with-callers", s.span(uri, source.index("response"))
        )
        assert result["outcome"] == "rejected"
        assert s.editor.text(uri) == source
    assert {p.name: p.read_text() for p in (workspace / "shop").glob("*.py")} == before


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../outside.py", "escapes the workspace"),
        ("/etc/passwd", "outside"),
        (".env", "secret"),
        ("shop/link.py", "escapes the workspace"),  # a symlink pointing out of it
    ],
)
async def test_the_model_cannot_read_or_write_outside_the_workspace(
    loopback: LoopbackServer, workspace: Path, tmp_path: Path, path: str, why: str
) -> None:
    secret = tmp_path / "outside.py"
    secret.write_text("SECRET = 1\n")
    (workspace / "shop" / "link.py").symlink_to(secret)
    add = f"*** Begin Patch\n*** Add File: {path}\n+x = 1\n*** End Patch\n"

    def reply(request: Any) -> Reply:
        done = len(tool_outputs(request.body))
        if done == 0:
            return Reply.function_call("read_file", json.dumps({"path": path}))
        if done == 1:
            return Reply.custom_tool_call("apply_patch", add)
        return Reply.text("I could not do it.")

    loopback.responder = reply
    session, result = await run_with_callers("vscode", loopback, workspace)
    assert result["outcome"] == "unchanged", result
    read, patch = tool_outputs(loopback.requests[-1].body)
    for output in (read["output"], patch["output"]):
        assert output.startswith("error:") and why in output.lower(), output
    assert "SECRET" not in json.dumps([r.body for r in loopback.requests])
    assert "sk-do-not-read" not in json.dumps([r.body for r in loopback.requests])
    assert session.editor.applied == []
    assert secret.read_text() == "SECRET = 1\n"
    assert (
        not (workspace.parent / "outside.py").exists()
        or (workspace.parent / "outside.py") == secret
    )


async def test_search_skips_binary_and_huge_files(
    loopback: LoopbackServer, workspace: Path
) -> None:
    (workspace / "shop" / "blob.bin").write_bytes(b"fetch_user(\x00\x01" * 10)
    (workspace / "shop" / "huge.py").write_text("fetch_user(1)\n" * 100_000)

    def reply(request: Any) -> Reply:
        if not tool_outputs(request.body):
            return Reply.function_call("search", json.dumps({"pattern": "fetch_user("}))
        return Reply.text("Nothing to change.")

    loopback.responder = reply
    await run_with_callers("vscode", loopback, workspace)
    [search] = tool_outputs(loopback.requests[-1].body)
    assert "shop/service.py:5:" in search["output"]
    assert "blob.bin" not in search["output"].split("note:")[0]
    assert "huge.py:" not in search["output"]


def test_the_fixture_package_compiles_before_the_change() -> None:
    assert t.CodeActionKind.RefactorRewrite  # the module imports the LSP types it asserts on
    compiled = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(FIXTURE / "shop")],
        capture_output=True,
        timeout=60,
    )
    assert compiled.returncode == 0
