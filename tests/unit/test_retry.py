"""The retry policy: named constants and pure functions, checked table by table with time and
randomness pinned, plus the `x-should-retry` override as the client sees it on the wire."""

from __future__ import annotations

import email.utils
import random
from collections.abc import AsyncIterator, Iterator

import pytest

from responses_lsp.api import retry
from responses_lsp.api.client import ClientConfig, ResponsesClient
from responses_lsp.api.requests import ResponseRequest, user_message
from responses_lsp.api.retry import (
    INITIAL_BACKOFF,
    JITTER,
    MAX_ATTEMPTS_CAP,
    MAX_BACKOFF,
    MAX_RETRY_AFTER,
    backoff,
    max_attempts,
    parse_retry_after,
    parse_try_again_hint,
    retry_delay,
    should_retry_header,
)
from responses_lsp.errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    BadRequestError,
    ContextLengthExceeded,
    ResponseFailed,
    ResponseIncomplete,
    ServerError,
    StreamClosedEarly,
    StreamIdleTimeout,
    UnexpectedContentType,
    status_error,
)
from tests.loopback import LoopbackServer, Reply

NOW = email.utils.parsedate_to_datetime("Wed, 21 Oct 2026 07:27:30 GMT").timestamp()
IN_30_S = "Wed, 21 Oct 2026 07:28:00 GMT"
RATE_LIMIT_MESSAGE = (
    "Rate limit reached for gpt-5 in organization org-AAA on tokens per min (TPM): "
    "Limit 30000, Used 22999, Requested 12528. Please try again in 11.054s. Visit "
    "https://platform.openai.com/account/rate-limits to learn more."
)


class FixedRandom(random.Random):
    """`random()` always returns `value`: pins the jitter factor."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


# ------------------------------------------------------------------------------ headers


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"Retry-After": "7"}, 7.0),  # header names are case-insensitive
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": IN_30_S}, 30.0),  # HTTP-date, relative to `now`
        ({"retry-after": "Wed, 21 Oct 2026 07:27:00 GMT"}, 0.0),  # a date in the past
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the ms header wins
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),  # unless it is garbage
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "garbage"}, None),
        ({"retry-after": ""}, None),
        ({}, None),
        ({"x-ratelimit-reset-tokens": "6m0s"}, None),  # not a retry hint
    ],
)
def test_parse_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert parse_retry_after(headers, now=NOW) == seconds


def test_parse_retry_after_http_date_uses_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry.time, "time", lambda: NOW + 10.0)
    assert parse_retry_after({"retry-after": IN_30_S}) == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("message", "seconds"),
    [
        (RATE_LIMIT_MESSAGE, 11.054),
        ("Please try again in 500ms.", 0.5),
        ("please TRY AGAIN IN 2 seconds", 2.0),
        ("try again in 1 second", 1.0),
        ("try again in 3sec", 3.0),
        ("Try again in 1.5 s", 1.5),
        ("try again in 20m", None),  # minutes are not a form the API uses; no guess
        ("try again later", None),
        ("", None),
    ],
)
def test_parse_try_again_hint(message: str, seconds: float | None) -> None:
    assert parse_try_again_hint(message) == seconds


@pytest.mark.parametrize(
    ("headers", "verdict"),
    [
        ({"x-should-retry": "true"}, True),
        ({"X-Should-Retry": "false"}, False),
        ({"x-should-retry": "maybe"}, None),
        ({}, None),
    ],
)
def test_should_retry_header(headers: dict[str, str], verdict: bool | None) -> None:
    assert should_retry_header(headers) is verdict


# ------------------------------------------------------------------------------ backoff


@pytest.mark.parametrize("attempt", range(1, 9))
def test_backoff_is_capped_exponential_with_jitter_below(attempt: int) -> None:
    cap = min(INITIAL_BACKOFF * 2 ** (attempt - 1), MAX_BACKOFF)
    assert backoff(attempt, FixedRandom(0.0)) == cap  # no jitter: the full value
    assert backoff(attempt, FixedRandom(0.999999)) == pytest.approx(cap * (1 - JITTER), rel=1e-5)
    rng = random.Random(attempt)
    for _ in range(200):
        assert cap * (1 - JITTER) <= backoff(attempt, rng) <= cap <= MAX_BACKOFF


def test_backoff_sequence_and_cap() -> None:
    assert [backoff(n, FixedRandom(0.0)) for n in range(1, 8)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        8.0,
        8.0,
    ]
    assert backoff(0, FixedRandom(0.0)) == INITIAL_BACKOFF  # attempt numbers start at 1
    assert backoff(1000, FixedRandom(0.0)) == MAX_BACKOFF  # no overflow


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    first = [backoff(n, random.Random(42)) for n in range(1, 6)]
    assert first == [backoff(n, random.Random(42)) for n in range(1, 6)]


# ------------------------------------------------------------------------------ retry_delay

SEED = 7


def _backoff(attempt: int) -> float:
    return backoff(attempt, random.Random(SEED))


def _rate_limited(
    message: str = "Rate limit reached.", retry_after: float | None = None
) -> ApiError:
    return status_error(429, message, code="rate_limit_exceeded", retry_after=retry_after)


# (scenario, error, attempt, expected delay: a number, "backoff" or None = do not retry)
DELAY_CASES: list[tuple[str, ApiError, int, float | str | None]] = [
    ("429 with Retry-After", _rate_limited(retry_after=2.0), 1, 2.0),
    ("429 with a try-again hint in the message", _rate_limited(RATE_LIMIT_MESSAGE), 1, 11.054),
    ("429 without any hint", _rate_limited(), 2, "backoff"),
    ("429 hint above the cap", _rate_limited(retry_after=MAX_RETRY_AFTER + 1), 1, None),
    ("429 hint at the cap", _rate_limited(retry_after=MAX_RETRY_AFTER), 1, MAX_RETRY_AFTER),
    (
        "429 insufficient_quota",
        status_error(429, "You exceeded your current quota", code="insufficient_quota"),
        1,
        None,
    ),
    (
        "429 insufficient_quota (type only)",
        status_error(429, "quota", error_type="insufficient_quota"),
        1,
        None,
    ),
    ("500", status_error(500, "server error", code="server_error"), 1, "backoff"),
    ("502", status_error(502, "bad gateway"), 3, "backoff"),
    ("503 with Retry-After", status_error(503, "overloaded", retry_after=4.0), 1, 4.0),
    ("408", status_error(408, "Request timed out."), 1, "backoff"),
    ("400", status_error(400, "Invalid request."), 1, None),
    ("401", status_error(401, "Incorrect API key provided."), 1, None),
    ("403", status_error(403, "no access"), 1, None),
    ("404", status_error(404, "Invalid URL"), 1, None),
    ("405", status_error(405, "Method not allowed"), 1, None),
    ("409", status_error(409, "conflict"), 1, None),
    (
        "400 context_length_exceeded",
        status_error(400, "too long", code="context_length_exceeded"),
        1,
        None,
    ),
    ("connection error", ApiConnectionError("ConnectError"), 1, "backoff"),
    ("timeout", ApiTimeoutError("no answer within 60 s"), 2, "backoff"),
    ("stream closed early", StreamClosedEarly(), 1, "backoff"),
    ("idle stall", StreamIdleTimeout(120.0), 1, "backoff"),
    ("response.incomplete", ResponseIncomplete("interrupted"), 1, "backoff"),
    ("response.incomplete max_output_tokens", ResponseIncomplete("max_output_tokens"), 1, None),
    ("wrong content type", UnexpectedContentType("text/html"), 1, None),
    ("failed: server_error", ResponseFailed("oops", code="server_error"), 1, "backoff"),
    ("failed: no code", ResponseFailed("oops", code=None), 1, "backoff"),
    (
        "failed: server_is_overloaded",
        ResponseFailed("busy", code="server_is_overloaded"),
        1,
        "backoff",
    ),
    (
        "failed: rate_limit_exceeded with hint",
        ResponseFailed(RATE_LIMIT_MESSAGE, code="rate_limit_exceeded", retry_after=11.054),
        1,
        11.054,
    ),
    (
        "failed: rate_limit_exceeded, hint only in the message",
        ResponseFailed(RATE_LIMIT_MESSAGE, code="rate_limit_exceeded"),
        1,
        11.054,
    ),
    ("failed: invalid_prompt", ResponseFailed("flagged", code="invalid_prompt"), 1, None),
    ("failed: insufficient_quota", ResponseFailed("quota", code="insufficient_quota"), 1, None),
    ("context too long (failed event)", ContextLengthExceeded("too long"), 1, None),
]


@pytest.mark.parametrize(
    ("error", "attempt", "expected"),
    [case[1:] for case in DELAY_CASES],
    ids=[case[0] for case in DELAY_CASES],
)
def test_retry_delay(error: ApiError, attempt: int, expected: float | str | None) -> None:
    delay = retry_delay(error, attempt, random.Random(SEED))
    if expected == "backoff":
        assert delay == _backoff(attempt)
    else:
        assert delay == expected


def test_x_should_retry_overrides_the_class_verdict() -> None:
    error = status_error(400, "Invalid request.")
    assert isinstance(error, BadRequestError)
    error.retryable = True
    assert retry_delay(error, 1, random.Random(SEED)) == _backoff(1)
    server = status_error(500, "boom")
    assert isinstance(server, ServerError)
    server.retryable = False
    assert retry_delay(server, 1) is None
    assert ServerError.retryable is True  # the override is per instance


@pytest.mark.parametrize(
    ("max_retries", "attempts"),
    [(-5, 1), (0, 1), (1, 2), (3, 4), (10, 11), (MAX_ATTEMPTS_CAP, MAX_ATTEMPTS_CAP), (1000, 11)],
)
def test_max_attempts_bounds(max_retries: int, attempts: int) -> None:
    assert max_attempts(max_retries) == attempts


# ------------------------------------------------------------------------------ on the wire


@pytest.fixture
def srv() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
async def client(srv: LoopbackServer) -> AsyncIterator[tuple[ResponsesClient, list[float]]]:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    config = ClientConfig(
        base_url=srv.base_url,
        api_key="sk-test-SECRET-1234567890",
        model="gpt-5.2-codex",
        request_timeout=5.0,
        stream_idle_timeout=5.0,
        max_retries=3,
    )
    api = ResponsesClient(config, sleep=fake_sleep, rng=random.Random(SEED))
    try:
        yield api, slept
    finally:
        await api.aclose()


REQUEST = ResponseRequest(model="gpt-5.2-codex", input=[user_message("hi")])


async def _drain(api: ResponsesClient) -> list[object]:
    return [event async for event in api.stream(REQUEST)]


async def test_x_should_retry_true_retries_a_400(
    srv: LoopbackServer, client: tuple[ResponsesClient, list[float]]
) -> None:
    api, slept = client
    srv.script(Reply.error(400, headers={"x-should-retry": "true"}), Reply.text("ok"))
    events = await _drain(api)
    assert getattr(events[-1], "type", None) == "response.completed"
    assert len(srv.requests) == 2
    assert slept == [_backoff(1)]


async def test_x_should_retry_false_stops_a_500(
    srv: LoopbackServer, client: tuple[ResponsesClient, list[float]]
) -> None:
    api, slept = client
    srv.script(Reply.error(500, headers={"x-should-retry": "false"}), Reply.text("ok"))
    with pytest.raises(ServerError):
        await _drain(api)
    assert len(srv.requests) == 1
    assert slept == []


async def test_x_should_retry_false_stops_a_429_with_retry_after(
    srv: LoopbackServer, client: tuple[ResponsesClient, list[float]]
) -> None:
    api, slept = client
    srv.script(Reply.error(429, retry_after=1, headers={"x-should-retry": "false"}))
    with pytest.raises(ApiError) as caught:
        await _drain(api)
    assert getattr(caught.value, "status_code", None) == 429
    assert len(srv.requests) == 1 and slept == []
