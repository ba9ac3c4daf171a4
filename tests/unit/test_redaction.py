"""The API key never leaves the Authorization header: not in exception text or reprs, not in the
user's messages, not in log records, even when the endpoint echoes it back in an error body."""

from __future__ import annotations

import logging
import random
import traceback
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from responses_lsp import errors
from responses_lsp.api.client import ClientConfig, ResponsesClient, RetryScheduled
from responses_lsp.api.requests import CompactRequest, ResponseRequest, user_message
from responses_lsp.errors import (
    ApiError,
    AuthenticationError,
    RateLimitError,
    ResponsesLspError,
    status_error,
)
from responses_lsp.redaction import RedactingFilter, mask, redact, register_secret
from responses_lsp.settings import resolve_settings
from tests.loopback import LoopbackServer, Reply

KEY = "sk-test-SECRET-1234567890"
MODEL = "gpt-5.2-codex"
REQUEST = ResponseRequest(model=MODEL, input=[user_message("hi")])
ECHO = (
    f"Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com."
)

log = logging.getLogger("responses_lsp.test_redaction")


def all_text(error: BaseException) -> str:
    """Every way an exception turns into text."""
    parts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    parts += [str(arg) for arg in error.args]
    if isinstance(error, ResponsesLspError):
        parts += [error.message, error.user_message()]
    return "\n".join(parts)


def assert_clean(text: str) -> None:
    assert KEY not in text
    assert KEY[8:] not in text  # not even the distinctive tail


@pytest.fixture
def srv() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
async def api(srv: LoopbackServer) -> AsyncIterator[ResponsesClient]:
    async def no_sleep(seconds: float) -> None:
        pass

    config = ClientConfig(
        base_url=srv.base_url,
        api_key=KEY,
        model=MODEL,
        request_timeout=5.0,
        stream_idle_timeout=5.0,
        max_retries=1,
    )
    client = ResponsesClient(config, sleep=no_sleep, rng=random.Random(1))
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def redacted_caplog(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog whose handler carries the RedactingFilter, as the server's handlers do."""
    redactor = RedactingFilter()
    caplog.handler.addFilter(redactor)
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        caplog.handler.removeFilter(redactor)


# ------------------------------------------------------------------------------ the pieces


def test_client_config_repr_has_no_key() -> None:
    config = ClientConfig(base_url="https://api.openai.com", api_key=KEY, model=MODEL)
    assert_clean(repr(config))
    assert_clean(str(config))
    assert "api_key" not in repr(config)


def test_resolved_settings_repr_has_no_key() -> None:
    resolved = resolve_settings(workspace={"apiKey": KEY}, env={})
    assert resolved.api_key == KEY
    assert_clean(repr(resolved))
    assert_clean(repr(resolved.settings))
    assert_clean(resolved.key_source)


def test_redact_masks_registered_secrets_and_bearer_tokens() -> None:
    register_secret(KEY)
    assert redact(f"key={KEY}; again {KEY}") == "key=****; again ****"
    assert redact("Authorization: Bearer sk-unregistered-abcdef123") == "Authorization: Bearer ****"
    assert redact("bearer abc") == "bearer abc"  # too short to be a token
    assert redact("nothing secret here") == "nothing secret here"
    assert redact("") == ""
    register_secret("abc")  # too short to register: would mangle ordinary text
    assert redact("abc") == "abc"
    register_secret(None)


def test_mask_shows_only_the_ends() -> None:
    assert mask(KEY) == "sk-****7890"
    assert mask(None) == "(none)"


@pytest.mark.parametrize(
    "make",
    [
        lambda: status_error(401, ECHO, code="invalid_api_key"),
        lambda: status_error(403, ECHO, model=MODEL),
        lambda: status_error(404, ECHO, url="https://h/v1/responses"),
        lambda: status_error(429, ECHO, retry_after=1.0),
        lambda: status_error(429, ECHO, code="insufficient_quota"),
        lambda: status_error(500, ECHO),
        lambda: status_error(400, ECHO),
        lambda: status_error(400, ECHO, code="context_length_exceeded"),
        lambda: status_error(408, ECHO),
        lambda: errors.ApiConnectionError(ECHO),
        lambda: errors.ApiTimeoutError(ECHO),
        lambda: errors.StreamClosedEarly(ECHO),
        lambda: errors.UnexpectedContentType(ECHO),
        lambda: errors.ResponseFailed(ECHO, code="server_error"),
        lambda: errors.ContextLengthExceeded(ECHO),
        lambda: errors.ConfigurationError(ECHO),
        lambda: errors.StreamError(ECHO),
    ],
)
def test_no_error_class_shows_the_key(make: Any) -> None:
    register_secret(KEY)
    error = make()
    assert_clean(all_text(error))
    assert "****" in str(error)


def test_a_bearer_header_echoed_in_an_error_is_masked() -> None:
    error = errors.ApiConnectionError(
        "proxy said: Authorization: Bearer sk-proj-unknown-0123456789"
    )
    assert "sk-proj-unknown-0123456789" not in all_text(error)


# ------------------------------------------------------------------------------ over the wire


async def test_401_body_echoing_the_key(srv: LoopbackServer, api: ResponsesClient) -> None:
    srv.script(Reply.error(401, message=f"Incorrect API key provided: {KEY}"))
    with pytest.raises(AuthenticationError) as caught:
        async for _ in api.stream(REQUEST):
            pass
    assert KEY in srv.requests[0].headers["authorization"]  # it was sent, and echoed...
    error = caught.value
    assert_clean(all_text(error))  # ...but never shown
    assert error.message == "Incorrect API key provided: ****"
    assert "401" in error.user_message()


async def test_401_body_echo_on_json_calls(srv: LoopbackServer, api: ResponsesClient) -> None:
    srv.script_compact(Reply.error(401, message=f"Incorrect API key provided: {KEY}"))
    with pytest.raises(AuthenticationError) as caught:
        await api.compact(CompactRequest(model=MODEL, input=[user_message("x")]))
    assert_clean(all_text(caught.value))


async def test_retry_notices_and_retry_logs_have_no_key(
    srv: LoopbackServer, api: ResponsesClient, redacted_caplog: pytest.LogCaptureFixture
) -> None:
    srv.script(
        Reply.error(429, message=f"Rate limit for key {KEY}. Please try again in 1s."),
        Reply.text("ok"),
    )
    events = [event async for event in api.stream(REQUEST)]
    (notice,) = [e for e in events if isinstance(e, RetryScheduled)]
    assert isinstance(notice.error, RateLimitError)
    assert_clean(repr(notice))
    assert_clean(notice.status_text)
    assert_clean(all_text(notice.error))
    assert any("retrying" in r.getMessage() for r in redacted_caplog.records)
    for record in redacted_caplog.records:
        assert_clean(record.getMessage())
    assert_clean(redacted_caplog.text)


async def test_unparseable_frame_logs_are_redacted(
    srv: LoopbackServer, api: ResponsesClient, redacted_caplog: pytest.LogCaptureFixture
) -> None:
    # a frame that is not JSON and that carries the key: the attempt fails (never a hole in
    # the rewrite), is retried, and neither the error nor the logs show the key
    bad = f'data: {{"type":"response.output_text.delta","delta":"x {KEY}\n\n'.encode()
    srv.script(Reply.raw_frames([bad]), Reply.text("ok"))
    events = [event async for event in api.stream(REQUEST)]
    assert events[-1].type == "response.completed"
    (notice,) = [e for e in events if isinstance(e, RetryScheduled)]
    assert "not JSON" in notice.error.message
    assert_clean(all_text(notice.error))
    for record in redacted_caplog.records:
        assert_clean(record.getMessage())
    assert_clean(redacted_caplog.text)


async def test_the_key_stays_out_of_every_error_of_every_scenario(
    srv: LoopbackServer, api: ResponsesClient
) -> None:
    echo = f"upstream echoed {KEY}"
    replies = [
        Reply.error(403, message=echo),
        Reply.error(404, message=echo),
        Reply.error(400, message=echo),
        Reply.error(429, code="insufficient_quota", message=echo),
        Reply.error(400, code="context_length_exceeded", message=echo),
        Reply.failed("invalid_prompt", echo),
        Reply.error_event("invalid_prompt", echo),
    ]
    for reply in replies:
        srv.script(reply)
        with pytest.raises(ApiError) as caught:
            async for _ in api.stream(REQUEST):
                pass
        assert_clean(all_text(caught.value))


# ------------------------------------------------------------------------------ log records


def test_log_records_are_redacted(redacted_caplog: pytest.LogCaptureFixture) -> None:
    register_secret(KEY)
    log.info("key is %s", KEY)
    log.warning(f"f-string with {KEY}")
    log.debug("dict arg %s", {"Authorization": f"Bearer {KEY}"})
    log.error("header Authorization: Bearer sk-never-registered-000000")
    try:
        raise ValueError(f"exploded while holding {KEY}")
    except ValueError:
        log.exception("failed")
    assert len(redacted_caplog.records) == 5
    for record in redacted_caplog.records:
        assert_clean(record.getMessage())
        assert "sk-never-registered-000000" not in record.getMessage()
    assert_clean(redacted_caplog.text)
    assert "sk-never-registered-000000" not in redacted_caplog.text
    assert "exploded while holding ****" in redacted_caplog.text  # the traceback stays useful
    assert "key is ****" in redacted_caplog.text


def test_errors_logged_with_tracebacks_are_redacted(
    redacted_caplog: pytest.LogCaptureFixture,
) -> None:
    register_secret(KEY)
    try:
        try:
            raise KeyError(KEY)
        except KeyError as inner:
            raise errors.ApiConnectionError(f"wrapped {KEY}") from inner
    except errors.ApiConnectionError as error:
        log.error("request failed: %r", error, exc_info=True)
    assert_clean(redacted_caplog.text)
    assert "KeyError" in redacted_caplog.text
