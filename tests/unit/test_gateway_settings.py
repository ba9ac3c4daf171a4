"""The gateway zoo: key problems however a gateway phrases them, header settings, the
apply_patch forms, and proxies from the standard environment variables (issue 11)."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from responses_lsp.api.client import ClientConfig, ResponsesClient
from responses_lsp.api.requests import ResponseRequest, user_message
from responses_lsp.errors import AuthenticationError, BadRequestError, status_error
from responses_lsp.settings import resolve_settings
from responses_lsp.tools.definitions import (
    APPLY_PATCH_FORMS,
    ApplyPatchForms,
    patch_from_arguments,
    rejects_custom_tools,
    tools_for,
)
from responses_lsp.tools.errors import ToolError
from tests.loopback import LoopbackServer, Reply

KEY = "sk-test-gateway-0123456789"


@pytest.mark.parametrize(
    ("status", "body", "is_key"),
    [
        (401, {"message": "Incorrect API key provided."}, True),
        (400, {"message": "No connected db.", "type": "no_db_connection", "code": "400"}, True),
        (400, {"message": "Authentication Error, Invalid proxy server token passed."}, True),
        (403, {"message": "Invalid API key.", "code": "invalid_api_key"}, True),
        (400, {"message": "Missing Authorization header"}, True),
        (403, {"message": "The key has no access to model gpt-5"}, False),
        (
            400,
            {"message": "Unknown parameter: 'prompt_cache_key'.", "code": "unknown_parameter"},
            False,
        ),
        (400, {"message": "tools[3]: tag 'custom' not allowed"}, False),
    ],
)
def test_key_problems_are_recognised_however_the_gateway_says_it(
    status: int, body: dict[str, str], is_key: bool
) -> None:
    error = status_error(
        status, body["message"], code=body.get("code"), error_type=body.get("type")
    )
    assert isinstance(error, AuthenticationError) is is_key
    message = error.user_message()
    assert body["message"] in message  # the gateway's own words
    assert message.count(str(status)) == 1  # the status once


def test_header_settings_validate_and_reach_the_client() -> None:
    resolved = resolve_settings(
        workspace={
            "extraHeaders": {"X-Team": "payments", "bad header": "x"},
            "apiKeyHeader": "api-key",
            "applyPatchForm": "function",
        },
        env={"OPENAI_API_KEY": KEY},
    )
    assert [p.split(":")[0] for p in resolved.problems] == ["extraHeaders"]
    config = ClientConfig.from_settings(
        resolve_settings(
            workspace={"extraHeaders": {"X-Team": "payments"}, "apiKeyHeader": "api-key"},
            env={"OPENAI_API_KEY": KEY},
        )
    )
    assert config.extra_headers == (("X-Team", "payments"),)
    assert config.key_header == "api-key"
    assert resolved.settings.apply_patch_form == "function"
    assert "payments" not in repr(config) and KEY not in repr(config)


def test_apply_patch_forms() -> None:
    custom = {t["name"]: t["type"] for t in tools_for("custom")}
    function = {t["name"]: t for t in tools_for("function")}
    assert custom["apply_patch"] == "custom"
    assert function["apply_patch"]["type"] == "function"
    assert function["apply_patch"]["parameters"]["required"] == ["input"]
    assert "FREEFORM" not in function["apply_patch"]["description"]

    forms = ApplyPatchForms()
    assert forms.form_for("http://a", "auto") == "custom"
    forms.custom_rejected("http://a")
    assert forms.form_for("http://a", "auto") == "function"
    assert forms.form_for("http://b", "auto") == "custom"  # per base URL
    assert forms.form_for("http://a", "custom") == "custom"  # the setting wins
    assert APPLY_PATCH_FORMS.form_for("http://never-seen", "function") == "function"

    rejected = status_error(400, "1 validation error: tools[3]: tag 'custom' not allowed")
    assert isinstance(rejected, BadRequestError) and rejects_custom_tools(rejected)
    assert not rejects_custom_tools(status_error(400, "Unknown parameter: 'x'."))


@pytest.mark.parametrize(
    "arguments",
    [
        json.dumps({"input": "*** Begin Patch\n*** End Patch\n"}),  # Codex
        json.dumps({"content": "*** Begin Patch\n*** End Patch\n"}),  # LiteLLM's rendering
        "*** Begin Patch\n*** End Patch\n",  # the raw patch
    ],
)
def test_patch_from_arguments(arguments: str) -> None:
    assert patch_from_arguments(arguments) == "*** Begin Patch\n*** End Patch\n"


def test_patch_from_arguments_says_what_it_takes() -> None:
    with pytest.raises(ToolError, match='"input"'):
        patch_from_arguments(json.dumps({"path": "a.py"}))


class _Proxy:
    """A forward HTTP proxy on 127.0.0.1 (absolute-form requests), recording what it forwards."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                proxy.urls.append(self.path)
                target = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream = http.client.HTTPConnection(
                    target.hostname or "", target.port, timeout=10
                )
                headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"}
                upstream.request("POST", target.path, body, headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.getheader("Content-Type") or "")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Proxy:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy() -> Iterator[_Proxy]:
    with _Proxy() as p:
        yield p


async def test_requests_go_through_the_proxy_from_the_environment(
    proxy: _Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LoopbackServer() as srv:
        host, port = proxy.server.server_address[:2]
        monkeypatch.setenv("HTTP_PROXY", f"http://{host!s}:{port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        srv.script(Reply.text("ok"))
        client = ResponsesClient(ClientConfig(base_url=srv.base_url, api_key=KEY, model="m"))
        request = ResponseRequest(model="m", input=[user_message("x")])
        events = [e async for e in client.stream(request)]
        await client.aclose()
        url = f"{srv.base_url}/v1/responses"
    assert events[-1].type == "response.completed"
    assert proxy.urls == [url]
