"""The gateway tier: the real LiteLLM proxy (PyPI `litellm[proxy]`, its own virtualenv under
`.cache/`, installed by `make test-gateway`) on 127.0.0.1, in front of the local model
stand-in (`standin.py`), with a master key and no database — the common small-team setup.

One proxy serves the whole tier (it takes tens of seconds to start). Its deployment is
`lm_studio/stand-in`: a local OpenAI-compatible chat server, which LiteLLM reaches through
its Responses -> chat-completions bridge (the path every non-OpenAI backend takes; it is
where `/v1/responses/compact` answers 500 and `context_management` 400). Nothing leaves
127.0.0.1: the model cost map is the packaged copy (`LITELLM_LOCAL_MODEL_COST_MAP`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.standin import StandIn

ROOT = Path(__file__).resolve().parents[2]
LITELLM = ROOT / ".cache" / "litellm-venv" / "bin" / "litellm"
MASTER_KEY = "sk-gateway-master-0123456789"
MODEL = "stand-in"
START_TIMEOUT = 180.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def standin() -> Iterator[StandIn]:
    with StandIn(MODEL) as server:
        yield server


class Gateway:
    def __init__(self, base_url: str, log: Path) -> None:
        self.base_url = base_url
        self.log = log

    def env(self, key: str = MASTER_KEY, **extra: str) -> dict[str, str]:
        """The environment of a `responses-lsp` process pointed at the proxy."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OPENAI_", "RESPONSES_LSP_")) and k != "PYTHONPATH"
        }
        env.update(OPENAI_BASE_URL=self.base_url, OPENAI_API_KEY=key, RESPONSES_LSP_MODEL=MODEL)
        env["PYTHONPATH"] = str(ROOT / "server")  # this checkout's server, as tests/e2e do
        env.update(extra)
        return env


@pytest.fixture(scope="session")
def gateway(standin: StandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    if not LITELLM.exists():
        message = f"LiteLLM is not installed ({LITELLM}); run `make test-gateway`"
        if os.environ.get("RESPONSES_LSP_GATEWAY_TIER") or os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    work = tmp_path_factory.mktemp("litellm")
    config = work / "config.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: lm_studio/{MODEL}\n"
        f"      api_base: {standin.base_url}\n"
        "      api_key: sk-upstream-not-checked\n"
        "general_settings:\n"
        f"  master_key: {MASTER_KEY}\n",
        encoding="utf-8",
    )
    port = _free_port()
    log = work / "litellm.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LITELLM_"))}
    env.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_TELEMETRY="False",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(LITELLM), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"LiteLLM exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base_url}/health/liveliness", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"LiteLLM did not start in {START_TIMEOUT:g} s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.25)
        sys.stderr.write(f"LiteLLM up on {base_url}\n")
        yield Gateway(base_url, log)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)


@pytest.fixture
def fresh_standin(standin: StandIn) -> Iterator[StandIn]:
    """The shared stand-in with its default brain, no scripted failures, no recorded requests."""
    from tests.gateway.standin import rewrite_brain

    standin.brain = rewrite_brain
    standin.requests.clear()
    standin._failures.clear()
    yield standin
    standin.brain = rewrite_brain
    standin._failures.clear()
